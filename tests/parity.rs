//! Parity with the official PyTorch MoMask on checkpoints it wrote itself
//! (`shared/fixtures/momask-small`, random weights, every stage dumped).
//!
//! Everything goes through our converter (torch zip pickles → bundle) and our bundle loader.
//! Each check runs on burn-flex (CPU) and on burn-wgpu when a device is available (CI installs
//! Mesa's lavapipe and sets `MOMASK_REQUIRE_WGPU=1`).
//!
//! Tolerances: logits and features |Δ| ≤ 1e-4 absolute (values are O(1); fp32 kernels differ
//! by ~1e-6), CLIP features 1e-4 relative; ids must match exactly (smallest reference margin
//! between the top two logits is 1.35e-4, far above the observed error).

mod common;

use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use common::*;
use momask::MoMask;
use momask::generate::{BatchDecode, GenerateOptions, Hooks, Length, Request, Trace};
use momask::sample::schedule::schedule;

fn load(device: &Device) -> MoMask {
    MoMask::from_bundle_bytes(small_bundle(), device).expect("bundle loads")
}

fn read(t: Tensor<3>) -> Vec<f32> {
    pollster::block_on(momask::nn::read_f32(t)).unwrap()
}

fn read2(t: Tensor<2>) -> Vec<f32> {
    pollster::block_on(momask::nn::read_f32(t)).unwrap()
}

fn ints(values: Vec<i64>, shape: [usize; 2], device: &Device) -> Tensor<2, Int> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

fn bools(values: Vec<bool>, shape: [usize; 2], device: &Device) -> Tensor<2, Bool> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

fn floats<const D: usize>(values: Vec<f32>, shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

fn check_clip(model: &MoMask) {
    for i in 0..PROMPTS {
        let dir = prompt_dir(i);
        let want_tokens = expected_i64(&format!("{dir}/clip_tokens.npy"));
        let info: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(fixture_dir().join("expected/run_info.json")).unwrap(),
        )
        .unwrap();
        let text = info["prompts"][i]["text"].as_str().unwrap();
        let tokens = model.tokenize(&[text]).unwrap();
        let mut padded: Vec<i64> = tokens[0].iter().map(|&t| t as i64).collect();
        padded.resize(77, 0);
        assert_eq!(padded, want_tokens, "{dir}: CLIP tokens");
        let feature = read2(model.encode_tokens(&tokens));
        assert_rel(
            &format!("{dir} CLIP feature"),
            &feature,
            &expected_f32(&format!("{dir}/clip_text_feature.npy")),
            1e-4,
        );
    }
}

fn check_mask_logits(model: &MoMask) {
    let d = &model.device;
    let v = model.config.mask.num_tokens;
    let ids = expected_i64("unit/mask_ids.npy");
    let pad = expected("unit/mask_padding_mask.npy").to_bool().unwrap();
    let cond = expected_f32("unit/mask_cond.npy");
    let n = ids.len();
    let run = |c: Vec<f32>| {
        read(model.mask.forward(
            ints(ids.clone(), [1, n], d),
            floats(c, [1, 512], d),
            bools(pad.clone(), [1, n], d),
        ))
    };
    let lc = run(cond.clone());
    let lu = run(vec![0.0; 512]);
    assert_close(
        "mask logits cond",
        &lc,
        &channels_last(&expected_f32("unit/mask_logits_cond.npy"), 1, v, n),
        1e-4,
    );
    assert_close(
        "mask logits uncond",
        &lu,
        &channels_last(&expected_f32("unit/mask_logits_uncond.npy"), 1, v, n),
        1e-4,
    );
    let cfg: Vec<f32> = lc.iter().zip(&lu).map(|(c, u)| u + (c - u) * 4.0).collect();
    assert_close(
        "mask logits cfg4",
        &cfg,
        &channels_last(&expected_f32("unit/mask_logits_cfg4.npy"), 1, v, n),
        4e-4,
    );
}

fn check_res_logits(model: &MoMask) {
    let d = &model.device;
    let v1 = model.config.res.num_tokens + 1;
    let cd = model.config.res.code_dim;
    let q_last = model.config.res.num_quantizers - 1;
    let ids = expected_i64("unit/res_base_ids.npy");
    let pad = expected("unit/res_padding_mask.npy").to_bool().unwrap();
    let cond = expected_f32("unit/mask_cond.npy");
    let n = ids.len();
    let history = model
        .res
        .embed_layer(Tensor::zeros([1, n, cd], d), 0, ints(ids, [1, n], d));
    assert_close(
        "res history q1",
        &read(history.clone()),
        &expected_f32("unit/res_history_q1.npy"),
        1e-6,
    );
    let run = |h: Tensor<3>, q: usize, c: Vec<f32>| {
        read(
            model
                .res
                .forward(h, q, floats(c, [1, 512], d), bools(pad.clone(), [1, n], d)),
        )
    };
    let lc = run(history.clone(), 1, cond.clone());
    let lu = run(history, 1, vec![0.0; 512]);
    assert_close(
        "res logits q1 cond",
        &lc,
        &channels_last(&expected_f32("unit/res_logits_q1_cond.npy"), 1, v1, n),
        1e-4,
    );
    assert_close(
        "res logits q1 uncond",
        &lu,
        &channels_last(&expected_f32("unit/res_logits_q1_uncond.npy"), 1, v1, n),
        1e-4,
    );
    let cfg: Vec<f32> = lc.iter().zip(&lu).map(|(c, u)| u + (c - u) * 5.0).collect();
    assert_close(
        "res logits q1 cfg5",
        &cfg,
        &channels_last(&expected_f32("unit/res_logits_q1_cfg5.npy"), 1, v1, n),
        5e-4,
    );
    let codes = floats(expected_f32("unit/res_codes_qlast.npy"), [1, n, cd], d);
    let last = run(codes, q_last, cond);
    assert_close(
        "res logits qlast cond",
        &last,
        &channels_last(&expected_f32("unit/res_logits_qlast_cond.npy"), 1, v1, n),
        1e-4,
    );
}

fn check_vq(model: &MoMask) {
    let d = &model.device;
    let motion = expected_f32("unit/vq_motion.npy");
    let frames = motion.len() / 263;
    let input = floats(motion, [1, frames, 263], d);
    let latents = read(model.vq.encode_latents(input.clone()));
    assert_close(
        "vq encoder out",
        &latents,
        &expected_f32("unit/vq_encoder_out.npy"),
        1e-4,
    );
    let (ids, shape) = pollster::block_on(model.vq.encode(input)).unwrap();
    assert_eq!(ids, expected_i64("unit/vq_code_idx.npy"), "vq code ids");
    let decoded = read(model.vq.decode_ids(&ids, shape[0], shape[1], shape[2]));
    assert_close(
        "vq decoded from codes",
        &decoded,
        &expected_f32("unit/vq_decoded_from_codes.npy"),
        1e-4,
    );
}

fn check_length_estimator(model: &MoMask) {
    let d = &model.device;
    let feature = floats(expected_f32("unit/len_text_feature.npy"), [1, 512], d);
    let logits = read2(model.length_estimator.as_ref().unwrap().forward(feature));
    assert_close(
        "length estimator logits",
        &logits,
        &expected_f32("unit/len_logits.npy"),
        1e-4,
    );
}

/// Full greedy generation of every prompt at batch size 1, compared stage by stage.
fn check_generation(model: &MoMask) {
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture_dir().join("expected/run_info.json")).unwrap())
            .unwrap();
    let v = model.config.mask.num_tokens;
    let q = model.config.vq.num_quantizers;
    for i in 0..PROMPTS {
        let dir = prompt_dir(i);
        let p = &info["prompts"][i];
        let text = p["text"].as_str().unwrap();
        let frames = p["length_frames"].as_u64().unwrap() as usize;
        let t_len = p["token_len"].as_u64().unwrap() as usize;
        let mut trace = Trace::default();
        let opts = GenerateOptions::greedy();
        let motions = Hooks::silent(|h| {
            pollster::block_on(momask::generate(
                model,
                &[Request::new(text, Length::Frames(frames))],
                &opts,
                h,
                Some(&mut trace),
            ))
        })
        .unwrap_or_else(|e| panic!("{dir}: {e}"));
        let m = &motions[0];
        assert_eq!(m.tokens, t_len, "{dir}: token length");
        // Every step: inputs, masked counts, guided logits and resulting ids.
        let steps = trace.step_logits.len();
        let want_inputs = expected_i64(&format!("{dir}/base_step_input_ids.npy"));
        let want_ids = expected_i64(&format!("{dir}/base_step_ids.npy"));
        let want_counts = expected_i64(&format!("{dir}/base_step_num_masked.npy"));
        let want_logits = expected_f32(&format!("{dir}/base_step_logits.npy"));
        for s in 0..steps {
            assert_eq!(
                trace.step_num_masked[s][0] as i64, want_counts[s],
                "{dir} step {s}: masked count"
            );
            assert_eq!(
                trace.step_input_ids[s],
                want_inputs[s * t_len..(s + 1) * t_len],
                "{dir} step {s}: input ids"
            );
            let want = channels_last(&want_logits[s * v * t_len..(s + 1) * v * t_len], 1, v, t_len);
            assert_close(
                &format!("{dir} step {s} logits"),
                &trace.step_logits[s],
                &want,
                2e-4,
            );
            assert_eq!(
                trace.step_ids[s],
                want_ids[s * t_len..(s + 1) * t_len],
                "{dir} step {s}: ids"
            );
        }
        // Residual layers and final ids.
        let v1 = v + 1;
        let want_res = expected_f32(&format!("{dir}/res_layer_logits.npy"));
        for layer in 0..q - 1 {
            let want = channels_last(
                &want_res[layer * v1 * t_len..(layer + 1) * v1 * t_len],
                1,
                v1,
                t_len,
            );
            assert_close(
                &format!("{dir} residual layer {} logits", layer + 1),
                &trace.res_logits[layer],
                &want,
                5e-4,
            );
        }
        assert_eq!(
            m.ids,
            expected_i64(&format!("{dir}/res_ids.npy")),
            "{dir}: final ids"
        );
        assert_close(
            &format!("{dir} decoder out"),
            &trace.decoder_out,
            &expected_f32(&format!("{dir}/vq_decoder_out.npy")),
            1e-4,
        );
        assert_close(
            &format!("{dir} features"),
            &m.features,
            &expected_f32(&format!("{dir}/features_denorm.npy")),
            1e-4,
        );
        assert_close(
            &format!("{dir} joints"),
            &m.joints.data,
            &expected_f32(&format!("{dir}/joints.npy")),
            1e-4,
        );
    }
}

/// All 8 prompts as one batch, decoded padded as the reference does.
fn check_batch(model: &MoMask) {
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture_dir().join("expected/run_info.json")).unwrap())
            .unwrap();
    let requests: Vec<Request> = (0..PROMPTS)
        .map(|i| {
            let p = &info["prompts"][i];
            Request::new(
                p["text"].as_str().unwrap(),
                Length::Frames(p["length_frames"].as_u64().unwrap() as usize),
            )
        })
        .collect();
    let opts = GenerateOptions {
        batch_decode: BatchDecode::Padded,
        ..GenerateOptions::greedy()
    };
    let motions =
        Hooks::silent(|h| pollster::block_on(momask::generate(model, &requests, &opts, h, None))).unwrap();
    let q = model.config.vq.num_quantizers;
    let want_ids = expected_i64("batch/res_ids.npy");
    let n = want_ids.len() / (PROMPTS * q);
    for (i, m) in motions.iter().enumerate() {
        assert_eq!(
            m.ids,
            want_ids[i * n * q..(i * n + m.tokens) * q],
            "batch sample {i}: ids"
        );
        assert_close(
            &format!("batch joints {i}"),
            &m.joints.data,
            &expected_f32(&format!("batch/joints_{i:02}.npy")),
            1e-4,
        );
    }
}

fn all_checks(model: &MoMask) {
    check_clip(model);
    check_mask_logits(model);
    check_res_logits(model);
    check_vq(model);
    check_length_estimator(model);
    check_generation(model);
    check_batch(model);
}

#[test]
fn schedule_counts_match_reference_for_t_1_to_55() {
    let want = expected_i64("unit/schedule_num_masked.npy");
    for t in 1..=55 {
        let got: Vec<i64> = schedule(10, t).into_iter().map(|k| k as i64).collect();
        assert_eq!(got, want[(t - 1) * 10..t * 10], "T = {t}");
    }
    let probs = momask::sample::schedule::mask_probabilities(10);
    let want_probs = expected_f32("unit/schedule_mask_prob.npy");
    assert_eq!(
        probs.iter().map(|p| p.to_bits()).collect::<Vec<_>>(),
        want_probs.iter().map(|p| p.to_bits()).collect::<Vec<_>>()
    );
    let t = momask::sample::schedule::linspace01(10);
    assert_eq!(t, expected_f32("unit/schedule_t.npy"));
}

#[test]
fn cpu_backend_matches_reference() {
    all_checks(&load(&Device::flex()));
}

#[test]
fn wgpu_backend_matches_reference() {
    if let Some(device) = wgpu_device() {
        all_checks(&load(&device));
    }
}

/// Categorical sampling: the same seed gives the same motion on the same backend, another seed
/// gives another motion, and a batch of several prompts with their own lengths works.
#[test]
fn seeded_sampling_is_reproducible() {
    let model = load(&Device::flex());
    let requests = [
        Request::new("a person walks forward and turns left.", Length::Frames(80)),
        Request::new("someone jumps.", Length::Auto),
    ];
    let run = |seed: u64| {
        let opts = GenerateOptions {
            seed,
            ..GenerateOptions::default()
        };
        Hooks::silent(|h| pollster::block_on(momask::generate(&model, &requests, &opts, h, None))).unwrap()
    };
    let (a, b, c) = (run(7), run(7), run(8));
    assert_eq!(a[0].frames(), 80);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.ids, y.ids);
        assert_eq!(x.joints.data, y.joints.data);
    }
    assert!(
        a.iter().zip(&c).any(|(x, y)| x.ids != y.ids),
        "different seeds gave identical motions"
    );
}

/// Bad arguments are typed errors that name the option, before any work is done.
#[test]
fn invalid_requests_are_rejected_with_the_option_name() {
    let model = load(&Device::flex());
    let generate = |requests: &[Request], opts: &GenerateOptions| {
        Hooks::silent(|h| pollster::block_on(momask::generate(&model, requests, opts, h, None)))
    };
    let ok = [Request::new("a man walks.", Length::Frames(40))];
    for (frames, needle) in [(0, "frames"), (3, "frames"), (200, "frames")] {
        let err = generate(
            &[Request::new("x", Length::Frames(frames))],
            &GenerateOptions::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains(needle), "{frames}: {err}");
    }
    for (opts, needle) in [
        (
            GenerateOptions {
                steps: 0,
                ..Default::default()
            },
            "steps",
        ),
        (
            GenerateOptions {
                temperature: 0.0,
                ..Default::default()
            },
            "temperature",
        ),
        (
            GenerateOptions {
                cond_scale: f32::NAN,
                ..Default::default()
            },
            "condScale",
        ),
        (
            GenerateOptions {
                topk: 1.0,
                ..Default::default()
            },
            "topk",
        ),
    ] {
        let err = generate(&ok, &opts).unwrap_err();
        assert!(err.to_string().contains(needle), "{err}");
    }
    assert!(
        generate(&[], &GenerateOptions::default())
            .unwrap_err()
            .to_string()
            .contains("prompt")
    );
}
