//! Long motions with the bundled demo model: a 30 s three-prompt timeline is 600 finite frames
//! whose seams are no more abrupt than the motion inside the windows, while the metric does flag a
//! real cut; single prompts beyond 196 frames; bad timelines are typed errors.

mod common;

use burn::tensor::Device;
use momask::MoMask;
use momask::generate::{GenerateOptions, Hooks, Length, Request, feature_layout};
use momask::long::{LongMotion, LongOptions, Timeline, TimelineError, generate_timeline};
use momask::motion::recover::recover_from_ric;
use momask::seam::{seam_metrics, velocity_changes};

/// Seams may be at most this many times the mean velocity change within a second of them.
/// Measured with the shipped demo model over seeds 1–6 (context 12, the paper's guidance 4/5):
/// 0.4–4.8 on the 30 s timeline's seams; two independent motions concatenated (walk, then sit
/// down) score 4.1–11.4, 7.9 for seed 1, the one tested. Both ranges move with the model.
const SEAM_RATIO_BOUND: f32 = 6.0;

fn demo() -> MoMask {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/momask-demo.safetensors");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    MoMask::from_bundle_bytes(&bytes, &Device::flex()).unwrap()
}

fn three_part() -> Timeline {
    Timeline::parse(
        "a person walks forward#10s; a person jumps up and down#10s; a person sits down#10s",
        20.0,
    )
    .unwrap()
}

fn run(model: &MoMask, timeline: &Timeline, seed: u64) -> Result<LongMotion, momask::Error> {
    let opts = LongOptions {
        generate: GenerateOptions {
            seed,
            ..GenerateOptions::default()
        },
        ..LongOptions::default()
    };
    Hooks::silent(|h| pollster::block_on(generate_timeline(model, timeline, &opts, h)))
}

#[test]
fn thirty_second_timeline_has_no_seam() {
    let model = demo();
    let long = run(&model, &three_part(), 1).unwrap();
    let m = &long.motion;
    assert_eq!(m.frames(), 600);
    assert_eq!(m.tokens, 150);
    assert_eq!(m.features.len(), 600 * 263);
    assert!(m.joints.data.iter().all(|v| v.is_finite()));
    assert!(m.ids.iter().all(|&id| (0..256).contains(&id) || id == -1));
    assert_eq!(long.segment_starts, vec![0, 200, 400]);
    // Every window after the first is a seam; segment starts are among them.
    assert_eq!(long.seams.len(), long.windows.len() - 1);
    for start in [200, 400] {
        assert!(long.seams.iter().any(|s| s.frame == start && s.kind == "segment"));
    }
    // The root travels continuously (one recovery over the whole sequence): no frame-to-frame
    // step above 0.15 m (7.5 m/s).
    for t in 1..m.frames() {
        let (a, b) = (m.joints.get(t - 1, 0), m.joints.get(t, 0));
        let step = ((a[0] - b[0]).powi(2) + (a[2] - b[2]).powi(2)).sqrt();
        assert!(step < 0.15, "root step {step} m at frame {t}");
    }
    let acc = velocity_changes(&m.joints);
    let in_window_max = acc.iter().copied().fold(0.0f32, f32::max);
    for s in &long.seams {
        eprintln!("{s:?}");
        assert!(s.ratio < SEAM_RATIO_BOUND, "{s:?}");
        assert!(s.jump_mm <= in_window_max, "{s:?}");
    }
    eprintln!("baseline {:?}", long.baseline);
    // Same seed, same motion.
    let again = run(&model, &three_part(), 1).unwrap();
    assert_eq!(again.motion.ids, m.ids);
}

/// What the windows would look like without inpainting the overlap and decoding once: two
/// independently generated motions, their features concatenated. The metric must flag that seam.
#[test]
fn the_metric_flags_a_plain_concatenation() {
    let model = demo();
    let requests = [
        Request::new("a person walks forward", Length::Frames(196)),
        Request::new("a person sits down", Length::Frames(196)),
    ];
    let opts = GenerateOptions {
        seed: 1,
        ..GenerateOptions::default()
    };
    let motions =
        Hooks::silent(|h| pollster::block_on(momask::generate(&model, &requests, &opts, h, None))).unwrap();
    let features = [motions[0].features.clone(), motions[1].features.clone()].concat();
    let joints = recover_from_ric(&features, 392, &feature_layout(&model)).unwrap();
    let seams = seam_metrics(&joints, &[(196, "segment")]);
    eprintln!("{seams:?}");
    assert!(seams[0].ratio > SEAM_RATIO_BOUND, "{seams:?}");
}

#[test]
fn one_prompt_beyond_196_frames() {
    let model = demo();
    let long = run(&model, &Timeline::single("a person walks in a circle", 20.0), 3).unwrap();
    assert_eq!(long.motion.frames(), 400);
    assert!(long.windows.len() >= 3);
    assert!(long.motion.joints.data.iter().all(|v| v.is_finite()));
    assert!(
        long.seams.iter().all(|s| s.ratio < SEAM_RATIO_BOUND),
        "{:?}",
        long.seams
    );
}

/// The same timeline, greedy, on burn-wgpu and on the CPU: the same tokens (the host draws from
/// read-back logits) and joints within 1e-4 — the window stitching does nothing backend-specific.
#[test]
fn wgpu_long_motion_equals_cpu() {
    let Some(device) = common::wgpu_device() else {
        return;
    };
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/momask-demo.safetensors");
    let bytes = std::fs::read(path).unwrap();
    let timeline = Timeline::parse("a person walks forward#6s; a person jumps#4.4s", 20.0).unwrap();
    let opts = LongOptions {
        generate: GenerateOptions::greedy(),
        ..LongOptions::default()
    };
    let run_on = |device: &Device| {
        let model = MoMask::from_bundle_bytes(&bytes, device).unwrap();
        Hooks::silent(|h| pollster::block_on(generate_timeline(&model, &timeline, &opts, h))).unwrap()
    };
    let (cpu, gpu) = (run_on(&Device::flex()), run_on(&device));
    assert_eq!(cpu.motion.ids, gpu.motion.ids);
    common::assert_close(
        "wgpu long joints",
        &gpu.motion.joints.data,
        &cpu.motion.joints.data,
        1e-4,
    );
}

/// A span of a 30 s motion is edited inside the 196-frame window around it: frames outside the
/// copied range are the source's own, bit for bit, the root path stays continuous, and the
/// seams (span ends and the copy's ends) are reported.
#[test]
fn editing_a_span_of_a_long_motion() {
    use momask::edit::{EditOptions, edit_any, edit_window, report};
    let model = demo();
    let long = run(&model, &three_part(), 1).unwrap();
    let source = &long.motion.features;
    let spans = [(300, 340)];
    let w = edit_window(&model, 600, &spans).unwrap().unwrap();
    assert_eq!(w.len, 196);
    assert_eq!(w.start % 4, 0);
    assert_eq!(w.replace, (284, 356));
    let edited = Hooks::silent(|h| {
        pollster::block_on(edit_any(
            &model,
            source,
            &spans,
            "a person waves",
            &EditOptions::default(),
            h,
        ))
    })
    .unwrap();
    assert_eq!(edited.frames(), 600);
    for t in (0..w.replace.0).chain(w.replace.1..600) {
        assert_eq!(
            edited.features[t * 263..(t + 1) * 263],
            source[t * 263..(t + 1) * 263],
            "frame {t}"
        );
    }
    for t in 1..600 {
        let (a, b) = (edited.joints.get(t - 1, 0), edited.joints.get(t, 0));
        assert!(
            ((a[0] - b[0]).powi(2) + (a[2] - b[2]).powi(2)).sqrt() < 0.15,
            "root step at {t}"
        );
    }
    let r = pollster::block_on(report(&model, source, &spans, &edited)).unwrap();
    eprintln!("{r:#?}");
    let frames: Vec<usize> = r.seams.iter().map(|s| s.frame).collect();
    assert_eq!(frames, vec![284, 300, 340, 356]);
    // Where the cross-fade starts and ends, the motion changes about as much as the source did
    // there (a hard copy instead measured 404 mm/frame at frame 284; the source has 59).
    let own = seam_metrics(&long.motion.joints, &[(284, "window"), (356, "window")]);
    for (seam, own) in [(&r.seams[0], &own[0]), (&r.seams[3], &own[1])] {
        assert!(
            seam.jump_mm <= own.jump_mm * 1.5 + 10.0,
            "{seam:?} vs the source's {own:?}"
        );
    }
    assert!(
        r.seams.iter().all(|s| s.ratio < SEAM_RATIO_BOUND),
        "{:?}",
        r.seams
    );
    assert!(r.kept_error_mm <= r.round_trip_error_mm * 1.5 + 5.0, "{r:?}");
    // Spans that do not fit one window, and sources beyond the limit, are refused up front.
    let far = Hooks::silent(|h| {
        pollster::block_on(edit_any(
            &model,
            source,
            &[(10, 20), (500, 520)],
            "x",
            &EditOptions::default(),
            h,
        ))
    });
    assert!(
        matches!(far, Err(momask::Error::InvalidArgument { name: "spans", .. })),
        "{far:?}"
    );
}

#[test]
fn bad_timelines_are_typed_errors() {
    let model = demo();
    let err = |t: Timeline| match run(&model, &t, 1) {
        Err(momask::Error::Timeline(e)) => e,
        other => panic!(
            "expected a timeline error, got {:?}",
            other.map(|m| m.motion.frames())
        ),
    };
    assert_eq!(err(Timeline::default()), TimelineError::Empty);
    assert!(matches!(
        err(Timeline::single("  ", 4.0)),
        TimelineError::EmptyText { index: 0 }
    ));
    assert!(matches!(
        err(Timeline::single("walk", f64::NAN)),
        TimelineError::NonPositive { .. }
    ));
    assert!(matches!(
        err(Timeline::single("walk", 1000.0)),
        TimelineError::TooLong { .. }
    ));
    let short = Timeline::parse("walk#4s; jump#0.05s", 20.0).unwrap();
    assert!(matches!(err(short), TimelineError::TooShort { index: 1, .. }));
    let opts = LongOptions {
        context_tokens: 49,
        ..LongOptions::default()
    };
    let e = Hooks::silent(|h| pollster::block_on(generate_timeline(&model, &three_part(), &opts, h)));
    assert!(matches!(
        e,
        Err(momask::Error::Timeline(TimelineError::BadContext { .. }))
    ));
    assert!(matches!(
        Timeline::parse("walk#4", 20.0),
        Err(TimelineError::BadDuration { index: 0, .. })
    ));
}
