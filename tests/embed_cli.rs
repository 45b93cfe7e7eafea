//! `momask embed`: the features it writes are the bundle's text features (what the transformers
//! are conditioned on), row for row; bad input is an error message and a failing exit code.

use std::path::{Path, PathBuf};
use std::process::Command;

use burn::tensor::Device;
use momask::MoMask;
use momask::io::npy::NpyArray;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/momask-demo.safetensors");

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("embed_cli");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn embed(texts: &Path, out: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_momask"))
        .args(["embed", "--model", DEMO, "--texts"])
        .arg(texts)
        .arg("--out")
        .arg(out)
        .output()
        .expect("runs momask")
}

#[test]
fn embed_writes_the_models_text_features() {
    let texts = ["a person walks forward", "", "someone does jumping jacks"];
    let input = scratch("texts.txt");
    std::fs::write(&input, texts.join("\n") + "\n").unwrap();
    let out = scratch("features.npy");
    let run = embed(&input, &out);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));

    let npy = NpyArray::from_bytes(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(npy.shape, vec![3, 384]);
    let got = npy.to_f32().unwrap();
    let model = MoMask::from_bundle_bytes(&std::fs::read(DEMO).unwrap(), &Device::flex()).unwrap();
    let want: Vec<f32> = model
        .encode_texts(&texts)
        .unwrap()
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap();
    let worst = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    // Same code, same device; batch composition may reorder a reduction.
    assert!(worst < 1e-6, "max |Δ| {worst}");
    for row in got.chunks(384) {
        let norm: f32 = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!(
            (norm - 1.0).abs() < 1e-5,
            "MiniLM features are unit-norm, got {norm}"
        );
    }
}

#[test]
fn embed_reports_bad_input() {
    let missing = scratch("missing.txt");
    let _ = std::fs::remove_file(&missing);
    let run = embed(&missing, &scratch("never.npy"));
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("cannot read") && stderr.contains("missing.txt"),
        "{stderr}"
    );

    let empty = scratch("empty.txt");
    std::fs::write(&empty, "").unwrap();
    let run = embed(&empty, &scratch("never.npy"));
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("no texts"));

    let latin1 = scratch("latin1.txt");
    std::fs::write(&latin1, b"caf\xe9\n").unwrap();
    let run = embed(&latin1, &scratch("never.npy"));
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("not UTF-8"));
}
