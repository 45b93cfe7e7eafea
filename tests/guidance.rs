//! A guidance helper (the browser's second worker) takes the unconditional half of every guided
//! pass. Its answers are the logits this process would compute, so generations, edits and
//! timelines come out the same with or without one, and a helper that fails or answers wrongly
//! costs only speed. Exact equality is the bar: the split pass computes each half with the same
//! kernels, row by row, as the batched one.

mod common;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use burn::tensor::Device;
use common::*;
use momask::MoMask;
use momask::generate::{
    GenerateOptions, GuidanceHelper, Hooks, Length, Motion, Progress, Request, UncondFuture, UncondRequest,
    uncond_logits,
};

fn model() -> MoMask {
    MoMask::from_bundle_bytes(small_bundle(), &Device::flex()).unwrap()
}

/// What a helper does with each request.
#[derive(Clone, Copy, PartialEq)]
enum Behaviour {
    /// Answers from its own copy of the model.
    Answer,
    /// Takes the request, then fails.
    Fail,
    /// Takes the request, then answers with too few values.
    Truncate,
    /// Declines every request.
    Decline,
}

struct SecondModel {
    model: Rc<MoMask>,
    behaviour: Behaviour,
    requests: RefCell<Vec<UncondRequest>>,
}

impl SecondModel {
    fn new(behaviour: Behaviour) -> Self {
        Self {
            model: Rc::new(model()),
            behaviour,
            requests: RefCell::new(Vec::new()),
        }
    }
}

impl GuidanceHelper for SecondModel {
    fn start(&self, request: UncondRequest) -> Option<UncondFuture> {
        if self.behaviour == Behaviour::Decline {
            return None;
        }
        self.requests.borrow_mut().push(request.clone());
        let model = self.model.clone();
        let behaviour = self.behaviour;
        Some(Box::pin(async move {
            match behaviour {
                Behaviour::Fail => Err(momask::Error::Backend("the helper worker is gone".into())),
                _ => {
                    let mut logits = uncond_logits(&model, &request).await?;
                    if behaviour == Behaviour::Truncate {
                        logits.pop();
                    }
                    Ok(logits)
                }
            }
        }))
    }
}

fn requests() -> Vec<Request> {
    // Two lengths, so the batch has key padding.
    vec![
        Request::new("a person walks forward and turns around", Length::Frames(120)),
        Request::new("a person jumps", Length::Frames(64)),
    ]
}

/// Runs `f` with silent hooks and `helper`.
fn with_helper<R>(helper: Option<&dyn GuidanceHelper>, f: impl FnOnce(&mut Hooks<'_>) -> R) -> R {
    let mut progress = |_: Progress| {};
    let cancelled = || false;
    let mut hooks = Hooks::new(&mut progress, &cancelled);
    hooks.guidance = helper;
    f(&mut hooks)
}

fn generate(model: &MoMask, opts: &GenerateOptions, helper: Option<&dyn GuidanceHelper>) -> Vec<Motion> {
    with_helper(helper, |hooks| {
        pollster::block_on(momask::generate(model, &requests(), opts, hooks, None)).unwrap()
    })
}

fn assert_same(what: &str, got: &[Motion], want: &[Motion]) {
    assert_eq!(got.len(), want.len(), "{what}: motions");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.ids, w.ids, "{what}: codes of motion {i}");
        assert_eq!(g.joints.data, w.joints.data, "{what}: joints of motion {i}");
    }
}

fn option_sets() -> Vec<(&'static str, GenerateOptions)> {
    vec![
        (
            "greedy",
            GenerateOptions {
                steps: 6,
                cond_scale: 4.0,
                res_cond_scale: 2.0,
                ..GenerateOptions::greedy()
            },
        ),
        (
            "sampled",
            GenerateOptions {
                steps: 5,
                seed: 3,
                temperature: 0.8,
                ..GenerateOptions::default()
            },
        ),
    ]
}

#[test]
fn a_helper_changes_nothing_but_takes_every_unconditional_half() {
    let model = model();
    let q = model.config.res.num_quantizers;
    for (what, opts) in option_sets() {
        let alone = generate(&model, &opts, None);
        let helper = SecondModel::new(Behaviour::Answer);
        let helped = generate(&model, &opts, Some(&helper));
        assert_same(what, &helped, &alone);
        let requests = helper.requests.borrow();
        let masks = requests
            .iter()
            .filter(|r| matches!(r, UncondRequest::Mask { .. }))
            .count();
        assert_eq!(
            masks, opts.steps,
            "{what}: one masked-transformer request per step"
        );
        let residual_layers: Vec<usize> = requests
            .iter()
            .filter_map(|r| match r {
                UncondRequest::Residual { layers, .. } => Some(layers.len()),
                _ => None,
            })
            .collect();
        assert_eq!(
            residual_layers,
            (1..q).collect::<Vec<_>>(),
            "{what}: one request per residual layer"
        );
    }
}

#[test]
fn unguided_passes_ask_no_helper() {
    let model = model();
    let opts = GenerateOptions {
        steps: 4,
        cond_scale: 1.0,
        res_cond_scale: 1.0,
        ..GenerateOptions::greedy()
    };
    let helper = SecondModel::new(Behaviour::Answer);
    let helped = generate(&model, &opts, Some(&helper));
    assert_same("unguided", &helped, &generate(&model, &opts, None));
    assert!(helper.requests.borrow().is_empty());
}

#[test]
fn a_failing_or_declining_helper_costs_nothing_but_time() {
    let model = model();
    let (_, opts) = option_sets().remove(1);
    let alone = generate(&model, &opts, None);
    for (what, behaviour) in [
        ("failing", Behaviour::Fail),
        ("truncating", Behaviour::Truncate),
        ("declining", Behaviour::Decline),
    ] {
        let helper = SecondModel::new(behaviour);
        assert_same(what, &generate(&model, &opts, Some(&helper)), &alone);
    }
}

#[test]
fn edits_and_timelines_use_the_helper_too() {
    let model = model();
    let src = expected_f32("prompt_00/features_denorm.npy");
    let opts = momask::edit::EditOptions::for_model(&model);
    let run_edit = |helper: Option<&dyn GuidanceHelper>| {
        with_helper(helper, |hooks| {
            let spans = [(40, 100)];
            pollster::block_on(momask::edit::edit(
                &model,
                &src,
                &spans,
                "a person waves",
                &opts,
                hooks,
                None,
            ))
            .unwrap()
        })
    };
    let helper = SecondModel::new(Behaviour::Answer);
    let helped = run_edit(Some(&helper));
    assert!(!helper.requests.borrow().is_empty());
    assert_same("edit", &[helped], &[run_edit(None)]);

    let timeline = momask::long::Timeline {
        segments: vec![
            momask::long::Segment {
                text: "a person walks".into(),
                seconds: 8.0,
            },
            momask::long::Segment {
                text: "a person sits down".into(),
                seconds: 6.0,
            },
        ],
    };
    let long_opts = momask::long::LongOptions::for_model(&model);
    let run_long = |helper: Option<&dyn GuidanceHelper>| {
        with_helper(helper, |hooks| {
            pollster::block_on(momask::long::generate_timeline(
                &model, &timeline, &long_opts, hooks,
            ))
            .unwrap()
            .motion
        })
    };
    let helper = SecondModel::new(Behaviour::Answer);
    let helped = run_long(Some(&helper));
    assert!(!helper.requests.borrow().is_empty());
    assert_same("timeline", &[helped], &[run_long(None)]);
}

#[test]
fn malformed_requests_are_typed_errors() {
    let model = model();
    let v = model.config.mask.num_tokens as i64;
    let q = model.config.res.num_quantizers;
    let max = model.config.max_tokens();
    let calls = Cell::new(0);
    let reject = |request: UncondRequest, needle: &str| {
        calls.set(calls.get() + 1);
        let err = pollster::block_on(uncond_logits(&model, &request)).expect_err(needle);
        let text = err.to_string();
        assert!(text.contains(needle), "{text:?} should mention {needle:?}");
    };
    reject(
        UncondRequest::Mask {
            ids: vec![],
            lengths: vec![],
        },
        "lengths",
    );
    reject(
        UncondRequest::Mask {
            ids: vec![0; max + 1],
            lengths: vec![max + 1],
        },
        "lengths",
    );
    reject(
        UncondRequest::Mask {
            ids: vec![0; 7],
            lengths: vec![4, 4],
        },
        "grid",
    );
    reject(
        UncondRequest::Mask {
            ids: vec![0, 1, v + 2, 0],
            lengths: vec![4],
        },
        "outside",
    );
    reject(
        UncondRequest::Residual {
            layers: vec![vec![0; 4]; q],
            lengths: vec![4],
        },
        "layers given",
    );
    reject(
        UncondRequest::Residual {
            layers: vec![vec![0; 4], vec![0; 6]],
            lengths: vec![2, 1],
        },
        "width",
    );
    reject(
        UncondRequest::Residual {
            layers: vec![vec![-1, 0, 0, 0]],
            lengths: vec![4],
        },
        "outside",
    );
    assert_eq!(calls.get(), 7);
    // And a well-formed one answers with [B, N, V] logits.
    let ok = pollster::block_on(uncond_logits(
        &model,
        &UncondRequest::Mask {
            ids: vec![v, v, v, v + 1],
            lengths: vec![3],
        },
    ))
    .unwrap();
    assert_eq!(ok.len(), 4 * model.config.mask.num_tokens);
}
