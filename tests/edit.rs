//! Temporal inpainting against the official `edit_t2m.py` outputs (greedy, 18 steps, residual
//! guidance 2): re-encoded source codes, every mask-predict step, final ids, decoder output and
//! joints; plus the behaviour a user relies on (empty span returns the source, bad spans fail).

mod common;

use burn::tensor::Device;
use common::*;
use momask::MoMask;
use momask::edit::{EditOptions, edit};
use momask::generate::{GenerateOptions, Hooks, Trace};

fn model() -> MoMask {
    MoMask::from_bundle_bytes(small_bundle(), &Device::flex()).unwrap()
}

fn source() -> Vec<f32> {
    expected_f32("prompt_00/features_denorm.npy")
}

#[test]
fn edits_match_the_reference() {
    let model = model();
    let src = source();
    for case in ["edit_middle", "edit_prefix", "edit_suffix"] {
        let dir = fixture_dir().join("expected").join(case);
        if !dir.exists() {
            continue; // edit_suffix may be absent from older fixtures
        }
        let info: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("edit_info.json")).unwrap()).unwrap();
        let text = info["text"].as_str().unwrap().to_string();
        let msec = info["mask_edit_section"][0].as_str().unwrap().to_string();
        let mut bounds = msec.split(',').map(|v| v.trim().parse::<usize>().unwrap());
        let span = (bounds.next().unwrap(), bounds.next().unwrap());
        // The reference's semantics: every slot's residual layers regenerated.
        let opts = EditOptions {
            generate: GenerateOptions {
                steps: 18,
                res_cond_scale: 2.0,
                ..GenerateOptions::greedy()
            },
            keep_source_residuals: false,
        };
        let mut trace = Trace::default();
        let motion = Hooks::silent(|h| {
            pollster::block_on(edit(&model, &src, &[span], &text, &opts, h, Some(&mut trace)))
        })
        .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(
            trace.source_ids,
            expected_i64(&format!("{case}/source_tokens.npy")),
            "{case}: source tokens"
        );
        let n = 49;
        let want_inputs = expected_i64(&format!("{case}/base_step_input_ids.npy"));
        let want_ids = expected_i64(&format!("{case}/base_step_ids.npy"));
        let want_counts = expected_i64(&format!("{case}/base_step_num_masked.npy"));
        for s in 0..trace.step_ids.len() {
            assert_eq!(
                trace.step_num_masked[s][0] as i64, want_counts[s],
                "{case} step {s}: masked count"
            );
            assert_eq!(
                trace.step_input_ids[s],
                want_inputs[s * n..(s + 1) * n],
                "{case} step {s}: input ids"
            );
            assert_eq!(
                trace.step_ids[s],
                want_ids[s * n..(s + 1) * n],
                "{case} step {s}: ids"
            );
        }
        let want_res = expected_i64(&format!("{case}/res_ids.npy"));
        assert_eq!(motion.ids, want_res[..motion.ids.len()], "{case}: final ids");
        assert_close(
            &format!("{case} decoder out"),
            &trace.decoder_out,
            &expected_f32(&format!("{case}/vq_decoder_out.npy")),
            1e-4,
        );
        assert_close(
            &format!("{case} features"),
            &motion.features,
            &expected_f32(&format!("{case}/features_denorm.npy")),
            1e-4,
        );
        assert_close(
            &format!("{case} joints"),
            &motion.joints.data,
            &expected_f32(&format!("{case}/joints.npy")),
            1e-4,
        );
    }
}

#[test]
fn empty_edit_returns_the_source_and_bad_spans_fail() {
    let model = model();
    let src = source();
    let opts = EditOptions::default();
    let run = |spans: &[(usize, usize)]| {
        Hooks::silent(|h| pollster::block_on(edit(&model, &src, spans, "a person jumps.", &opts, h, None)))
    };
    let same = run(&[]).unwrap();
    assert_eq!(same.features, src);
    for bad in [(10, 10), (80, 40), (0, 500)] {
        let err = run(&[bad]).unwrap_err();
        assert!(err.to_string().contains("spans"), "{bad:?}: {err}");
    }
}

/// The demo model (trained): a generated walk with seconds 2–4 replaced by a jump. Frames outside
/// the span keep their pose within the VQ round-trip error (the source is re-encoded and its
/// residual layers regenerated, as in the reference), the span itself changes, and both seams
/// are reported.
#[test]
fn demo_edit_keeps_the_frames_outside_the_span() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/momask-demo.safetensors");
    let model = MoMask::from_bundle_bytes(&std::fs::read(path).unwrap(), &Device::flex()).unwrap();
    let walk = Hooks::silent(|h| {
        pollster::block_on(momask::generate(
            &model,
            &[momask::Request::new(
                "a person walks forward",
                momask::Length::Frames(196),
            )],
            &GenerateOptions {
                seed: 7,
                ..GenerateOptions::default()
            },
            h,
            None,
        ))
    })
    .unwrap()
    .remove(0);
    let spans = [(40, 80)];
    let opts = EditOptions {
        generate: GenerateOptions {
            seed: 1,
            ..EditOptions::default().generate
        },
        ..EditOptions::default()
    };
    let edited = Hooks::silent(|h| {
        pollster::block_on(edit(
            &model,
            &walk.features,
            &spans,
            "a person jumps",
            &opts,
            h,
            None,
        ))
    })
    .unwrap();
    assert_eq!(edited.frames(), 196);
    assert!(edited.joints.data.iter().all(|v| v.is_finite()));
    let report = pollster::block_on(momask::edit::report(&model, &walk.features, &spans, &edited)).unwrap();
    eprintln!("{report:#?}");
    assert_eq!(report.kept_frames, 196 - (80 + 8 - (40 - 8)));
    // Kept slots keep the source's codes on every layer: the kept frames (beyond the decoder's
    // reach of the span) are the VQ round trip, up to float noise.
    assert!(
        report.kept_error_mm <= report.round_trip_error_mm * 1.02 + 0.5,
        "kept frames moved {} mm; the round trip alone moves them {} mm",
        report.kept_error_mm,
        report.round_trip_error_mm
    );
    // The reference's semantics (all residual layers regenerated) for comparison.
    let reference = EditOptions {
        keep_source_residuals: false,
        ..opts.clone()
    };
    let regenerated = Hooks::silent(|h| {
        pollster::block_on(edit(
            &model,
            &walk.features,
            &spans,
            "a person jumps",
            &reference,
            h,
            None,
        ))
    })
    .unwrap();
    let reference_report =
        pollster::block_on(momask::edit::report(&model, &walk.features, &spans, &regenerated)).unwrap();
    eprintln!(
        "kept frames: {:.2} mm keeping the source's residual codes, {:.2} mm regenerating them (edit_t2m.py), round trip {:.2} mm",
        report.kept_error_mm, reference_report.kept_error_mm, report.round_trip_error_mm
    );
    let inside: Vec<usize> = (44..76).collect();
    let changed = momask::edit::pose_error_mm(&walk.features, &edited.features, 263, &inside);
    assert!(
        changed > 2.0 * report.kept_error_mm,
        "the span changed {changed} mm, kept frames {} mm",
        report.kept_error_mm
    );
    let frames: Vec<usize> = report.seams.iter().map(|s| s.frame).collect();
    assert_eq!(frames, vec![40, 80]);
    assert!(
        report.seams.iter().all(|s| s.ratio.is_finite() && s.ratio < 6.0),
        "{:?}",
        report.seams
    );
}
