//! `recover_from_ric` and de-normalisation against the reference fixtures
//! (`fixtures/momask-small/expected`). Tolerance: 1e-5 absolute on joint positions.

use std::path::PathBuf;

use momask::io::npy::NpyArray;
use momask::motion::{HUMANML3D, denormalize_npy, recover_from_ric};

fn shared() -> PathBuf {
    std::env::var_os("MOMASK_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared")))
}

fn fixture(rel: &str) -> PathBuf {
    shared().join("fixtures/momask-small").join(rel)
}

/// A float array from a fixture `.npy`, as `(shape, C-order values)`.
///
/// Some fixture files (`features_denorm.npy`, `vq_decoder_out.npy`) are stored in Fortran
/// order, which `io::npy` rejects; they are read by flipping the header flag (same byte
/// length) and re-ordering the values here.
fn load(rel: &str) -> (Vec<usize>, Vec<f32>) {
    let path = fixture(rel);
    let mut bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (from, to) = (b"'fortran_order': True, ", b"'fortran_order': False,");
    let head = bytes.len().min(256);
    let pos = bytes[..head].windows(from.len()).position(|w| w == from);
    if let Some(p) = pos {
        bytes[p..p + to.len()].copy_from_slice(to);
    }
    let arr = NpyArray::from_bytes(&bytes).unwrap();
    let raw = arr.to_f32().unwrap();
    if pos.is_none() {
        return (arr.shape, raw);
    }
    // Column-major → row-major: element (i0, .., in) sits at Σ i_k · Π_{m<k} shape[m].
    let shape = arr.shape.clone();
    let mut out = vec![0.0f32; raw.len()];
    let mut idx = vec![0usize; shape.len()];
    for v in out.iter_mut() {
        let (mut off, mut stride) = (0, 1);
        for (k, &i) in idx.iter().enumerate() {
            off += i * stride;
            stride *= shape[k];
        }
        *v = raw[off];
        for k in (0..shape.len()).rev() {
            idx[k] += 1;
            if idx[k] < shape[k] {
                break;
            }
            idx[k] = 0;
        }
    }
    (shape, out)
}

/// Recovers joints from `features` and returns the max abs error against `joints`.
fn recover_error(features: &str, joints: &str) -> f32 {
    let (shape, f) = load(features);
    let frames = shape[shape.len() - 2];
    assert_eq!(*shape.last().unwrap(), 263);
    let got = recover_from_ric(&f, frames, &HUMANML3D).unwrap();
    let (want_shape, want) = load(joints);
    assert_eq!(want_shape, vec![frames, 22, 3]);
    got.data
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}

#[test]
fn unit_ric_features_match_reference() {
    let err = recover_error("expected/unit/ric_features.npy", "expected/unit/ric_joints.npy");
    println!("unit ric: max abs error {err:e}");
    assert!(err <= 1e-5, "max abs error {err}");
}

#[test]
fn prompt_and_edit_joints_match_reference() {
    let mut cases: Vec<String> = (0..8).map(|i| format!("prompt_{i:02}")).collect();
    cases.extend(["edit_middle", "edit_prefix", "edit_suffix"].map(String::from));
    let mut worst = 0.0f32;
    for c in &cases {
        let err = recover_error(
            &format!("expected/{c}/features_denorm.npy"),
            &format!("expected/{c}/joints.npy"),
        );
        println!("{c}: max abs error {err:e}");
        assert!(err <= 1e-5, "{c}: max abs error {err}");
        worst = worst.max(err);
    }
    println!("worst over {} clips: {worst:e}", cases.len());
}

#[test]
fn denormalize_matches_reference_bitwise() {
    let meta = "checkpoints/t2m/rvq_nq6_dc512_nc512_noshare_qdp0.2/meta";
    let read = |rel: String| NpyArray::from_bytes(&std::fs::read(fixture(&rel)).unwrap()).unwrap();
    // The small tree's meta files are float32, so the reference de-normalises in float32.
    let mean = read(format!("{meta}/mean.npy"));
    let std = read(format!("{meta}/std.npy"));
    for c in ["prompt_00", "prompt_03", "edit_middle"] {
        let (_, out) = load(&format!("expected/{c}/vq_decoder_out.npy"));
        let got = denormalize_npy(&out, &mean, &std).unwrap();
        let (_, want) = load(&format!("expected/{c}/features_denorm.npy"));
        assert_eq!(got.len(), want.len());
        let diff = got.iter().zip(&want).filter(|(a, b)| a != b).count();
        assert_eq!(diff, 0, "{c}: {diff} values differ");
    }
}
