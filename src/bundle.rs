//! The model bundle: one self-describing safetensors file holding every network, the
//! normalisation statistics and the tokenizer vocabulary.
//!
//! * Tensor names are `<network>.<reference key>`: `vq.*`, `mask.*`, `res.*`, `len.*`, the text
//!   encoder's, plus `norm.mean`, `norm.std` and the tokenizer's vocabulary as one U8 tensor.
//!   Weights keep the reference layouts (PyTorch `(out, in)`); [`crate::nn::weights::Loader`]
//!   does the transposes at load time.
//! * The text encoder is the one the config's `text` names (and the header's `text_encoder`):
//!   - `"clip"` (official models): `clip.*` with the OpenAI CLIP state-dict keys of the text
//!     tower, tokenizer `"clip-bpe"` in [`CLIP_BPE_TENSOR`] (`tokenizer.clip_bpe_gz`: CLIP's
//!     `bpe_simple_vocab_16e6.txt.gz`, byte for byte);
//!   - `"minilm"` (the demo model): `minilm.*` with Hugging Face `BertModel` keys
//!     (`minilm.embeddings.word_embeddings.weight`, `minilm.encoder.layer.0.attention.self.query.weight`,
//!     …; no `pooler.*`, no `embeddings.position_ids`), tokenizer `"wordpiece"` in
//!     [`MINILM_TOKENIZER_TENSOR`] (`tokenizer.minilm_json_gz`: the model's Hugging Face
//!     `tokenizer.json`, gzipped; read by [`crate::text::wordpiece::WordPieceTokenizer`], which
//!     truncates to 256 tokens as sentence-transformers does).
//! * The safetensors `__metadata__` holds one key, `momask`, whose value is the JSON
//!   [`BundleHeader`]: format name and version, the full [`ModelConfig`], the text encoder and
//!   tokenizer kinds, source-file hashes, the content hash and (format 1.1) the guidance scales
//!   the model samples best with ([`Guidance`]; 1.0 readers ignore them).
//! * The content hash is SHA-256 over every tensor in name order (name, dtype, shape, bytes), so
//!   it is independent of the file's byte layout and verifiable after download.
//!
//! The same reader serves files natively and `Uint8Array`s in the browser.

use std::collections::{BTreeMap, HashMap, HashSet};

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::config::{ModelConfig, TextEncoderConfig};
use crate::generate::Guidance;
use crate::nn::weights::{LoadError, WeightSource};

/// Format name written into every bundle.
pub const FORMAT_NAME: &str = "momask-bundle";
/// Major version this reader understands; newer majors are refused.
pub const FORMAT_MAJOR: u32 = 1;
/// Minor version this writer produces.
pub const FORMAT_MINOR: u32 = 1;

/// Tensor holding the gzipped CLIP BPE merges.
pub const CLIP_BPE_TENSOR: &str = "tokenizer.clip_bpe_gz";
/// Tensor holding MiniLM's gzipped Hugging Face `tokenizer.json` (WordPiece).
pub const MINILM_TOKENIZER_TENSOR: &str = "tokenizer.minilm_json_gz";

/// The U8 tensor holding the tokenizer vocabulary of a text encoder.
pub fn tokenizer_tensor(text: &TextEncoderConfig) -> &'static str {
    match text {
        TextEncoderConfig::Clip(_) => CLIP_BPE_TENSOR,
        TextEncoderConfig::MiniLm(_) => MINILM_TOKENIZER_TENSOR,
    }
}

/// Prefix of the text encoder's weights in a bundle: `clip` or `minilm`.
pub fn text_prefix(text: &TextEncoderConfig) -> &'static str {
    text.kind()
}

#[derive(Debug, Error, Clone, PartialEq)]
pub enum BundleError {
    #[error("not a momask bundle: {0}")]
    NotABundle(String),
    #[error("bundle header is invalid: {0}")]
    BadHeader(String),
    #[error(
        "bundle format version {found} is newer than this reader supports ({supported}.x); update momask"
    )]
    UnsupportedVersion { found: String, supported: u32 },
    #[error("bundle content hash mismatch: header says {expected}, tensors hash to {actual}")]
    HashMismatch { expected: String, actual: String },
    #[error("tensor '{name}' has dtype {dtype}, which this reader does not support")]
    UnsupportedDtype { name: String, dtype: String },
    #[error("tensor '{0}' is missing from the bundle")]
    MissingTensor(String),
}

/// Source file recorded by the converter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceFile {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// The JSON header stored under `__metadata__["momask"]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundleHeader {
    pub format: String,
    /// `"major.minor"`.
    pub version: String,
    pub config: ModelConfig,
    /// `"clip"` (official models) or `"minilm"` (the demo model); always the kind of
    /// `config.text` (readers refuse a header where they disagree).
    pub text_encoder: String,
    /// `"clip-bpe"` (vocabulary in [`CLIP_BPE_TENSOR`]) or `"wordpiece"` (in
    /// [`MINILM_TOKENIZER_TENSOR`]).
    pub tokenizer: String,
    /// Weight storage scheme of the bundle as a whole (`"f32"` from the converter).
    pub quantization: String,
    /// Hex SHA-256 over the tensors (see the module docs).
    pub content_hash: String,
    #[serde(default)]
    pub sources: Vec<SourceFile>,
    /// Tensors stored quantized (see [`crate::quant`]): scheme and original shape.
    #[serde(default)]
    pub quantized: BTreeMap<String, crate::quant::QuantInfo>,
    /// Free-form provenance (converter version, training recipe, …).
    #[serde(default)]
    pub notes: BTreeMap<String, String>,
    /// The guidance scales this model samples best with (format 1.1; absent: the paper's).
    #[serde(default, skip_serializing_if = "Guidance::is_empty")]
    pub guidance: Guidance,
}

impl BundleHeader {
    pub fn new(config: ModelConfig, quantization: &str) -> Self {
        Self {
            format: FORMAT_NAME.into(),
            version: format!("{FORMAT_MAJOR}.{FORMAT_MINOR}"),
            text_encoder: config.text.kind().into(),
            tokenizer: config.text.tokenizer_kind().into(),
            config,
            quantization: quantization.into(),
            content_hash: String::new(),
            quantized: BTreeMap::new(),
            sources: Vec::new(),
            notes: BTreeMap::new(),
            guidance: Guidance::default(),
        }
    }

    fn check_version(&self) -> Result<(), BundleError> {
        if self.format != FORMAT_NAME {
            return Err(BundleError::NotABundle(format!(
                "format is '{}', expected '{FORMAT_NAME}'",
                self.format
            )));
        }
        let major = self
            .version
            .split('.')
            .next()
            .and_then(|m| m.parse::<u32>().ok())
            .ok_or_else(|| {
                BundleError::BadHeader(format!("version '{}' is not 'major.minor'", self.version))
            })?;
        if major > FORMAT_MAJOR {
            return Err(BundleError::UnsupportedVersion {
                found: self.version.clone(),
                supported: FORMAT_MAJOR,
            });
        }
        let text = &self.config.text;
        if self.text_encoder != text.kind() || self.tokenizer != text.tokenizer_kind() {
            return Err(BundleError::BadHeader(format!(
                "text_encoder '{}' / tokenizer '{}' disagree with the config's text encoder ('{}' / '{}')",
                self.text_encoder,
                self.tokenizer,
                text.kind(),
                text.tokenizer_kind()
            )));
        }
        text.validate()
            .map_err(|e| BundleError::BadHeader(format!("config.text: {e}")))?;
        self.guidance
            .validate()
            .map_err(|e| BundleError::BadHeader(format!("guidance: {e}")))?;
        Ok(())
    }
}

/// One tensor to write: name, dtype, shape and little-endian bytes.
#[derive(Debug, Clone)]
pub struct OwnedTensor {
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    pub data: Vec<u8>,
}

impl OwnedTensor {
    pub fn f32(shape: Vec<usize>, values: &[f32]) -> Self {
        Self {
            dtype: Dtype::F32,
            shape,
            data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }

    pub fn u8(bytes: Vec<u8>) -> Self {
        Self {
            dtype: Dtype::U8,
            shape: vec![bytes.len()],
            data: bytes,
        }
    }
}

fn dtype_name(d: Dtype) -> String {
    format!("{d:?}")
}

/// SHA-256 over tensors in name order: `name \0 dtype \0 shape-json \0 bytes`.
pub fn content_hash<'a>(
    tensors: impl IntoIterator<Item = (&'a str, Dtype, &'a [usize], &'a [u8])>,
) -> String {
    let mut items: Vec<_> = tensors.into_iter().collect();
    items.sort_by(|a, b| a.0.cmp(b.0));
    let mut h = Sha256::new();
    for (name, dtype, shape, data) in items {
        h.update(name.as_bytes());
        h.update([0]);
        h.update(dtype_name(dtype).as_bytes());
        h.update([0]);
        h.update(format!("{shape:?}").as_bytes());
        h.update([0]);
        h.update((data.len() as u64).to_le_bytes());
        h.update(data);
    }
    hex(&h.finalize())
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Serialises a bundle; fills in the header's content hash.
pub fn write_bundle(
    mut header: BundleHeader,
    tensors: &BTreeMap<String, OwnedTensor>,
) -> Result<Vec<u8>, BundleError> {
    header.content_hash = content_hash(
        tensors
            .iter()
            .map(|(n, t)| (n.as_str(), t.dtype, t.shape.as_slice(), t.data.as_slice())),
    );
    let json = serde_json::to_string(&header).map_err(|e| BundleError::BadHeader(e.to_string()))?;
    let views = tensors
        .iter()
        .map(|(name, t)| {
            TensorView::new(t.dtype, t.shape.clone(), &t.data)
                .map(|v| (name.clone(), v))
                .map_err(|e| BundleError::BadHeader(format!("tensor '{name}': {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let metadata = HashMap::from([("momask".to_string(), json)]);
    safetensors::serialize(views, Some(metadata)).map_err(|e| BundleError::BadHeader(e.to_string()))
}

/// Reads only the header (cheap: the browser shows it before the weights finish loading).
pub fn read_header(bytes: &[u8]) -> Result<BundleHeader, BundleError> {
    let (_, meta) = SafeTensors::read_metadata(bytes).map_err(|e| BundleError::NotABundle(e.to_string()))?;
    let json = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get("momask"))
        .ok_or_else(|| {
            BundleError::NotABundle("safetensors file without a 'momask' metadata header".into())
        })?;
    let header: BundleHeader =
        serde_json::from_str(json).map_err(|e| BundleError::BadHeader(e.to_string()))?;
    header.check_version()?;
    Ok(header)
}

/// A parsed bundle borrowing the file bytes.
pub struct Bundle<'a> {
    pub header: BundleHeader,
    tensors: SafeTensors<'a>,
}

impl<'a> Bundle<'a> {
    /// Parses and verifies a bundle (header, version and content hash).
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Self, BundleError> {
        let header = read_header(bytes)?;
        let tensors = SafeTensors::deserialize(bytes).map_err(|e| BundleError::NotABundle(e.to_string()))?;
        let bundle = Self { header, tensors };
        let actual = bundle.compute_hash();
        if actual != bundle.header.content_hash {
            return Err(BundleError::HashMismatch {
                expected: bundle.header.content_hash.clone(),
                actual,
            });
        }
        Ok(bundle)
    }

    fn compute_hash(&self) -> String {
        let views = self.tensors.tensors();
        content_hash(
            views
                .iter()
                .map(|(n, v)| (n.as_str(), v.dtype(), v.shape(), v.data())),
        )
    }

    /// Raw bytes of a U8 tensor (e.g. the tokenizer vocabulary).
    pub fn bytes(&self, name: &str) -> Result<&'a [u8], BundleError> {
        let view = self
            .tensors
            .tensor(name)
            .map_err(|_| BundleError::MissingTensor(name.into()))?;
        if view.dtype() != Dtype::U8 {
            return Err(BundleError::UnsupportedDtype {
                name: name.into(),
                dtype: dtype_name(view.dtype()),
            });
        }
        Ok(view.data())
    }

    /// Names of all tensors.
    pub fn names(&self) -> Vec<String> {
        self.tensors.names().into_iter().map(String::from).collect()
    }

    /// A weight source over the tensors under `prefix.`, tracking which were used.
    pub fn weights(&self, prefix: &str) -> BundleWeights<'_, 'a> {
        let prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}.")
        };
        BundleWeights {
            bundle: self,
            prefix,
            used: HashSet::new(),
        }
    }

    /// Stored dtype and shape of a tensor.
    pub fn dtype_shape(&self, name: &str) -> Result<(Dtype, Vec<usize>), BundleError> {
        let view = self
            .tensors
            .tensor(name)
            .map_err(|_| BundleError::MissingTensor(name.into()))?;
        Ok((view.dtype(), view.shape().to_vec()))
    }

    /// f32 values of a tensor stored as F32, F16 or quantized (dequantized here).
    pub fn f32_values(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, LoadError> {
        let view = self
            .tensors
            .tensor(name)
            .map_err(|_| LoadError::Missing(name.into()))?;
        if let Some(info) = self.header.quantized.get(name) {
            if info.shape != shape {
                return Err(LoadError::Shape {
                    name: name.into(),
                    expected: shape.to_vec(),
                    got: info.shape.clone(),
                });
            }
            let scales_name = format!("{name}{}", crate::quant::SCALES_SUFFIX);
            let scales = self
                .tensors
                .tensor(&scales_name)
                .map_err(|_| LoadError::Missing(scales_name))?;
            return crate::quant::dequantize(name, info, view.data(), scales.data());
        }
        if view.shape() != shape {
            return Err(LoadError::Shape {
                name: name.into(),
                expected: shape.to_vec(),
                got: view.shape().to_vec(),
            });
        }
        let data = view.data();
        let values: Vec<f32> = match view.dtype() {
            Dtype::F32 => data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            Dtype::F16 => data
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            other => {
                return Err(LoadError::Bad {
                    name: name.into(),
                    message: format!("unsupported dtype {other:?}"),
                });
            }
        };
        if let Some(index) = values.iter().position(|v| !v.is_finite()) {
            return Err(LoadError::NonFinite {
                name: name.into(),
                index,
            });
        }
        Ok(values)
    }
}

/// [`WeightSource`] over one network's tensors in a bundle.
pub struct BundleWeights<'b, 'a> {
    bundle: &'b Bundle<'a>,
    prefix: String,
    used: HashSet<String>,
}

impl BundleWeights<'_, '_> {
    /// Records a tensor read outside this source (e.g. the tokenizer bytes).
    pub fn mark_used(&mut self, name: &str) {
        self.used.insert(name.to_string());
    }

    /// Fails if the bundle holds tensors under this prefix that the network did not read
    /// (a wrong or mismatched file should never load silently).
    pub fn finish(self) -> Result<(), LoadError> {
        let mut unused: Vec<String> = self
            .bundle
            .tensors
            .names()
            .into_iter()
            .filter(|n| n.starts_with(&self.prefix) && !self.used.contains(*n))
            .map(String::from)
            .collect();
        unused.sort();
        if unused.is_empty() {
            Ok(())
        } else {
            Err(LoadError::Unused(unused))
        }
    }
}

impl WeightSource for BundleWeights<'_, '_> {
    fn take(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, LoadError> {
        let full = format!("{}{}", self.prefix, name);
        let values = self.bundle.f32_values(&full, shape)?;
        if self.bundle.header.quantized.contains_key(&full) {
            self.used.insert(format!("{full}{}", crate::quant::SCALES_SUFFIX));
        }
        self.used.insert(full);
        Ok(values)
    }
}
