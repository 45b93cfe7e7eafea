//! Shared helpers for the integration tests: locating `../shared`, reading reference `.npy`
//! files, converting the small official fixture once per test binary, and picking devices.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use burn::tensor::Device;
use momask::io::npy::NpyArray;

/// `$MOMASK_SHARED`, or `../shared` next to the repository.
pub fn shared_dir() -> PathBuf {
    std::env::var_os("MOMASK_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared")))
}

pub fn fixture_dir() -> PathBuf {
    shared_dir().join("fixtures/momask-small")
}

pub fn expected(rel: &str) -> NpyArray {
    let path = fixture_dir().join("expected").join(rel);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    NpyArray::from_bytes(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn expected_f32(rel: &str) -> Vec<f32> {
    expected(rel).to_f32().unwrap()
}

pub fn expected_i64(rel: &str) -> Vec<i64> {
    expected(rel).to_i64().unwrap()
}

/// The fixture converted to a bundle by our converter (once per test binary).
pub fn small_bundle() -> &'static [u8] {
    static BUNDLE: OnceLock<Vec<u8>> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        let fx = fixture_dir();
        let sources = momask::convert::official::OfficialSources {
            checkpoints: fx.join("checkpoints"),
            dataset: None,
            vq_name: None,
            mask_name: None,
            res_name: None,
            clip: fx.join("clip/ViT-B-32-random.pt"),
            clip_config: Some(fx.join("clip/clip_config.json")),
            clip_vocab: shared_dir().join("fixtures/clip/bpe_simple_vocab_16e6.txt.gz"),
        };
        momask::converter::convert(&sources).expect("fixture converts")
    })
}

/// burn-wgpu device, if one can be opened. With `MOMASK_REQUIRE_WGPU=1` (CI) a missing device
/// is a failure instead of a skip.
pub fn wgpu_device() -> Option<Device> {
    match momask::backend::Backend::Wgpu.device() {
        Ok(d) => Some(d),
        Err(e) => {
            if std::env::var("MOMASK_REQUIRE_WGPU").as_deref() == Ok("1") {
                panic!("MOMASK_REQUIRE_WGPU=1 but no wgpu device: {e}");
            }
            eprintln!("skipping wgpu checks: {e}");
            None
        }
    }
}

/// Largest absolute difference; panics with context if the lengths differ or it exceeds `atol`.
pub fn assert_close(what: &str, got: &[f32], want: &[f32], atol: f32) -> f32 {
    assert_eq!(
        got.len(),
        want.len(),
        "{what}: length {} vs reference {}",
        got.len(),
        want.len()
    );
    let mut worst = 0f32;
    let mut at = 0;
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let d = (g - w).abs();
        if d > worst || d.is_nan() {
            worst = d;
            at = i;
        }
    }
    assert!(
        worst <= atol,
        "{what}: max |Δ| = {worst:e} at element {at} (got {}, want {}), tolerance {atol:e}",
        got[at],
        want[at]
    );
    eprintln!("{what}: max |Δ| = {worst:.2e} (tolerance {atol:.0e})");
    worst
}

/// Relative error `max|Δ| / max|ref|`.
pub fn assert_rel(what: &str, got: &[f32], want: &[f32], rtol: f32) -> f32 {
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-12);
    let worst = got.iter().zip(want).fold(0f32, |m, (g, w)| m.max((g - w).abs()));
    assert_eq!(got.len(), want.len(), "{what}: length mismatch");
    let rel = worst / scale;
    assert!(rel <= rtol, "{what}: relative error {rel:e} > {rtol:e}");
    eprintln!("{what}: relative error {rel:.2e} (tolerance {rtol:.0e})");
    rel
}

/// `[B, C, N]` (reference channel-first logits) → `[B, N, C]`.
pub fn channels_last(v: &[f32], b: usize, c: usize, n: usize) -> Vec<f32> {
    let mut out = vec![0f32; v.len()];
    for bi in 0..b {
        for ci in 0..c {
            for ni in 0..n {
                out[(bi * n + ni) * c + ci] = v[(bi * c + ci) * n + ni];
            }
        }
    }
    out
}

pub const PROMPTS: usize = 8;

pub fn prompt_dir(i: usize) -> String {
    format!("prompt_{i:02}")
}
