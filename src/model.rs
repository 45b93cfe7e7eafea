//! [`MoMask`]: every network of a model set, its normalisation and its tokenizer, built through
//! the one weight-loading path ([`crate::nn::weights`]) from a bundle or from random weights.
//!
//! The text encoder and its tokenizer are whichever the config names ([`TextEncoder`],
//! [`TextTokenizer`]): CLIP (official models) or all-MiniLM-L6-v2 (the demo model).

use burn::tensor::{Device, Tensor};

use crate::Error;
use crate::bundle::{Bundle, BundleHeader, text_prefix, tokenizer_tensor};
use crate::config::{ModelConfig, TextEncoderConfig};
use crate::nn::clip::ClipTextEncoder;
use crate::nn::length_estimator::LengthEstimator;
use crate::nn::mask_transformer::MaskTransformer;
use crate::nn::minilm::MiniLmEncoder;
use crate::nn::residual_transformer::ResidualTransformer;
use crate::nn::vq::RvqVae;
use crate::nn::weights::{LoadError, Loader, RandomWeights, WeightSource};
use crate::text::ClipTokenizer;
use crate::text::wordpiece::WordPieceTokenizer;

/// The frozen text encoder of a model, as its config's `text` says.
#[derive(Debug)]
pub enum TextEncoder {
    /// CLIP's text tower, run up to each row's EOT; 512-d, not normalised.
    Clip(ClipTextEncoder),
    /// all-MiniLM-L6-v2: BERT, mean pooling over the real tokens, L2 normalisation; 384-d.
    MiniLm(MiniLmEncoder),
}

impl TextEncoder {
    /// Loads the encoder `config` names from the loader's prefix (the bundle's `clip` or
    /// `minilm`, see [`text_prefix`]).
    pub fn load(l: &mut Loader, config: &TextEncoderConfig) -> Result<Self, LoadError> {
        Ok(match config {
            TextEncoderConfig::Clip(c) => Self::Clip(ClipTextEncoder::load(l, c)?),
            TextEncoderConfig::MiniLm(c) => Self::MiniLm(MiniLmEncoder::load(l, c)?),
        })
    }

    /// Text features `[B, output width]` for rows of token ids as the matching
    /// [`TextTokenizer::encode`] returns them (CLIP: each row ends with EOT; MiniLM:
    /// `[CLS] … [SEP]`).
    pub fn forward(&self, tokens: &[Vec<u32>]) -> Tensor<2> {
        match self {
            Self::Clip(e) => e.forward(tokens),
            Self::MiniLm(e) => e.forward(tokens),
        }
    }

    /// `"clip"` or `"minilm"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Clip(_) => "clip",
            Self::MiniLm(_) => "minilm",
        }
    }
}

/// The tokenizer matching a [`TextEncoder`].
#[derive(Debug, Clone)]
pub enum TextTokenizer {
    /// CLIP's byte-level BPE (ids with SOT/EOT, unpadded); boxed, it is 1 kB.
    Clip(Box<ClipTokenizer>),
    /// BERT uncased WordPiece (`[CLS] … [SEP]`, at most 256 ids).
    WordPiece(WordPieceTokenizer),
}

impl TextTokenizer {
    /// Builds the tokenizer for `text` from the bytes of its bundle tensor
    /// ([`tokenizer_tensor`]): CLIP's gzipped BPE merges, or MiniLM's gzipped `tokenizer.json`.
    pub fn from_bundle_bytes(text: &TextEncoderConfig, bytes: &[u8]) -> Result<Self, Error> {
        let tokenizer = match text {
            TextEncoderConfig::Clip(_) => Self::Clip(Box::new(ClipTokenizer::from_bpe_gz(bytes)?)),
            TextEncoderConfig::MiniLm(_) => {
                Self::WordPiece(WordPieceTokenizer::from_tokenizer_json_gz(bytes)?)
            }
        };
        let vocab = match text {
            TextEncoderConfig::Clip(c) => c.vocab_size,
            TextEncoderConfig::MiniLm(c) => c.vocab_size,
        };
        let ids = tokenizer.vocab_size();
        if ids > vocab {
            return Err(Error::Load(LoadError::Bad {
                name: tokenizer_tensor(text).into(),
                message: format!(
                    "the tokenizer has {ids} ids but the text encoder's vocabulary only {vocab}"
                ),
            }));
        }
        Ok(tokenizer)
    }

    /// Token ids of one prompt, ready for [`TextEncoder::forward`].
    pub fn encode(&self, text: &str) -> Vec<u32> {
        match self {
            Self::Clip(t) => t.tokenize_unpadded(text),
            Self::WordPiece(t) => t.encode(text),
        }
    }

    /// Number of ids in the vocabulary.
    pub fn vocab_size(&self) -> usize {
        match self {
            Self::Clip(t) => t.vocab_size(),
            Self::WordPiece(t) => t.vocab_size(),
        }
    }

    /// `"clip-bpe"` or `"wordpiece"` (as in bundle headers).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Clip(_) => "clip-bpe",
            Self::WordPiece(_) => "wordpiece",
        }
    }
}

impl From<ClipTokenizer> for TextTokenizer {
    fn from(t: ClipTokenizer) -> Self {
        Self::Clip(Box::new(t))
    }
}

impl From<WordPieceTokenizer> for TextTokenizer {
    fn from(t: WordPieceTokenizer) -> Self {
        Self::WordPiece(t)
    }
}

/// The text widths every network must agree on (a bundle header is untrusted input; a mismatch
/// would otherwise panic inside a matmul).
fn check_text_widths(config: &ModelConfig) -> Result<(), LoadError> {
    let bad = |name: &str, message: String| LoadError::Bad {
        name: name.into(),
        message,
    };
    config.text.validate().map_err(|m| bad("config.text", m))?;
    let dim = config.text.output_dim();
    let mut widths = vec![
        ("config.mask.clip_dim", config.mask.clip_dim),
        ("config.res.clip_dim", config.res.clip_dim),
    ];
    if let Some(l) = &config.length_estimator {
        widths.push(("config.length_estimator.input_size", l.input_size));
    }
    for (name, width) in widths {
        if width != dim {
            return Err(bad(
                name,
                format!(
                    "{width} differs from the {} text encoder's output width {dim}",
                    config.text.kind()
                ),
            ));
        }
    }
    Ok(())
}

/// A loaded MoMask model.
#[derive(Debug)]
pub struct MoMask {
    pub config: ModelConfig,
    /// The bundle header when loaded from a bundle.
    pub header: Option<BundleHeader>,
    /// The frozen text encoder the config names.
    pub text_encoder: TextEncoder,
    /// Its tokenizer; `None` for random-weight models built without a vocabulary (benchmarks).
    pub tokenizer: Option<TextTokenizer>,
    pub vq: RvqVae,
    pub mask: MaskTransformer,
    pub res: ResidualTransformer,
    pub length_estimator: Option<LengthEstimator>,
    /// VQ normalisation (`meta/mean.npy`, `meta/std.npy`).
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
    pub device: Device,
}

impl MoMask {
    /// Builds every network from `source`, whose keys are `vq.*`, `mask.*`, `res.*`, `len.*`,
    /// `clip.*` or `minilm.*` (the config's text encoder), `norm.mean`, `norm.std`.
    /// `tokenizer` must be the one of the config's text encoder (refused otherwise).
    pub fn from_source(
        config: ModelConfig,
        source: &mut dyn WeightSource,
        tokenizer: Option<TextTokenizer>,
        device: &Device,
    ) -> Result<Self, LoadError> {
        check_text_widths(&config)?;
        if let Some(t) = &tokenizer
            && t.kind() != config.text.tokenizer_kind()
        {
            return Err(LoadError::Bad {
                name: "tokenizer".into(),
                message: format!(
                    "a '{}' tokenizer cannot feed the {} text encoder (it reads '{}')",
                    t.kind(),
                    config.text.kind(),
                    config.text.tokenizer_kind()
                ),
            });
        }
        let mut l = Loader::new(source, device);
        let text_encoder = TextEncoder::load(&mut l.sub(text_prefix(&config.text)), &config.text)?;
        let vq = RvqVae::load(&mut l.sub("vq"), &config.vq)?;
        let mask = MaskTransformer::load(&mut l.sub("mask"), &config.mask)?;
        let res = ResidualTransformer::load(&mut l.sub("res"), &config.res)?;
        let length_estimator = match &config.length_estimator {
            Some(c) => Some(LengthEstimator::load(&mut l.sub("len"), c)?),
            None => None,
        };
        let dim = config.vq.dim_pose;
        let mean = l.values("norm.mean", &[dim])?;
        let std = l.values("norm.std", &[dim])?;
        if let Some(index) = std.iter().position(|s| *s <= 0.0) {
            return Err(LoadError::Bad {
                name: "norm.std".into(),
                message: format!("element {index} is not positive"),
            });
        }
        let mut model = Self {
            config,
            header: None,
            text_encoder,
            tokenizer,
            vq,
            mask,
            res,
            length_estimator,
            mean,
            std,
            device: device.clone(),
        };
        if *device == Device::flex() {
            model.set_fused_cpu(true);
        }
        Ok(model)
    }

    /// Runs the two transformers' encoder stacks through the fused CPU forward
    /// ([`crate::nn::fused`], the default on the CPU backend) or through burn's ops (`false`;
    /// the only choice on GPUs). Returns whether the fused path is now active.
    pub fn set_fused_cpu(&mut self, on: bool) -> bool {
        if !on || self.device != Device::flex() {
            self.mask.seq_trans_encoder.fused = None;
            self.res.seq_trans_encoder.fused = None;
            return false;
        }
        self.mask.seq_trans_encoder.fuse_for_cpu() && self.res.seq_trans_encoder.fuse_for_cpu()
    }

    /// Loads a verified bundle (see [`crate::bundle`]); refuses bundles with unused tensors.
    pub fn from_bundle_bytes(bytes: &[u8], device: &Device) -> Result<Self, Error> {
        let bundle = Bundle::from_bytes(bytes)?;
        let header = bundle.header.clone();
        let vocab = tokenizer_tensor(&header.config.text);
        let tokenizer = TextTokenizer::from_bundle_bytes(&header.config.text, bundle.bytes(vocab)?)?;
        let mut weights = bundle.weights("");
        weights.mark_used(vocab);
        let mut model = Self::from_source(header.config.clone(), &mut weights, Some(tokenizer), device)?;
        weights.finish()?;
        model.header = Some(header);
        Ok(model)
    }

    /// The guidance scales the bundle recommends (none for models built otherwise).
    pub fn guidance(&self) -> crate::Guidance {
        self.header.as_ref().map(|h| h.guidance).unwrap_or_default()
    }

    /// The paper's sampling settings with this model's [`MoMask::guidance`]: what a caller who
    /// sets nothing gets.
    pub fn default_options(&self) -> crate::GenerateOptions {
        self.guidance().apply(crate::GenerateOptions::default())
    }

    /// Official-size (or any) networks with seeded random weights, no files needed.
    pub fn random(config: ModelConfig, seed: u64, device: &Device) -> Result<Self, LoadError> {
        Self::from_source(config, &mut RandomWeights::new(seed), None, device)
    }

    /// Text features `[B, clip_dim]` for already tokenized prompts, as [`MoMask::tokenize`]
    /// returns them (CLIP: each row ends with EOT; MiniLM: `[CLS] … [SEP]`, giving unit-norm
    /// mean-pooled embeddings).
    pub fn encode_tokens(&self, tokens: &[Vec<u32>]) -> Tensor<2> {
        self.text_encoder.forward(tokens)
    }

    /// Tokenizes prompts with the model's tokenizer.
    pub fn tokenize(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>, Error> {
        let tok = self
            .tokenizer
            .as_ref()
            .ok_or_else(|| Error::Unsupported("this model was built without a tokenizer".into()))?;
        Ok(texts.iter().map(|t| tok.encode(t)).collect())
    }

    /// Text features `[B, clip_dim]` of prompts: tokenize, then encode.
    pub fn encode_texts(&self, texts: &[&str]) -> Result<Tensor<2>, Error> {
        Ok(self.encode_tokens(&self.tokenize(texts)?))
    }

    /// Frames per token (4).
    pub fn unit_length(&self) -> usize {
        self.config.vq.unit_length()
    }
}

/// A source that forwards to another and keeps a copy of every tensor it hands out.
struct Recording<'a> {
    inner: &'a mut dyn WeightSource,
    seen: std::collections::BTreeMap<String, crate::bundle::OwnedTensor>,
}

impl WeightSource for Recording<'_> {
    fn take(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, LoadError> {
        let values = self.inner.take(name, shape)?;
        self.seen.insert(
            name.to_string(),
            crate::bundle::OwnedTensor::f32(shape.to_vec(), &values),
        );
        Ok(values)
    }
}

/// Writes an f32 bundle with seeded random weights for `config` (benchmarks and size
/// measurements without trained files), the text encoder's weights included. `vocab` is the
/// content of the tokenizer tensor for the config's text encoder ([`tokenizer_tensor`]): CLIP's
/// `bpe_simple_vocab_16e6.txt.gz`, or MiniLM's `tokenizer.json` gzipped; it is checked by
/// building the tokenizer.
pub fn random_bundle(config: ModelConfig, seed: u64, vocab: Vec<u8>) -> Result<Vec<u8>, Error> {
    TextTokenizer::from_bundle_bytes(&config.text, &vocab)?;
    let mut random = RandomWeights::new(seed);
    let mut recording = Recording {
        inner: &mut random,
        seen: Default::default(),
    };
    MoMask::from_source(config.clone(), &mut recording, None, &Device::flex())?;
    let mut tensors = recording.seen;
    tensors.insert(
        tokenizer_tensor(&config.text).into(),
        crate::bundle::OwnedTensor::u8(vocab),
    );
    let mut header = BundleHeader::new(config, "f32");
    header.notes.insert(
        "weights".into(),
        format!("random (seed {seed}); not a trained model"),
    );
    Ok(crate::bundle::write_bundle(header, &tensors)?)
}
