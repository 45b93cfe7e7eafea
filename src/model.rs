//! [`MoMask`]: every network of a model set, its normalisation and its tokenizer, built through
//! the one weight-loading path ([`crate::nn::weights`]) from a bundle or from random weights.

use burn::tensor::{Device, Tensor};

use crate::Error;
use crate::bundle::{Bundle, BundleHeader, CLIP_BPE_TENSOR};
use crate::config::{ModelConfig, TextEncoderConfig};
use crate::nn::clip::ClipTextEncoder;
use crate::nn::length_estimator::LengthEstimator;
use crate::nn::mask_transformer::MaskTransformer;
use crate::nn::residual_transformer::ResidualTransformer;
use crate::nn::vq::RvqVae;
use crate::nn::weights::{LoadError, Loader, RandomWeights, WeightSource};
use crate::text::ClipTokenizer;

/// A loaded MoMask model.
#[derive(Debug)]
pub struct MoMask {
    pub config: ModelConfig,
    /// The bundle header when loaded from a bundle.
    pub header: Option<BundleHeader>,
    pub text_encoder: ClipTextEncoder,
    /// `None` for random-weight models built without a vocabulary (benchmarks).
    pub tokenizer: Option<ClipTokenizer>,
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
    /// `clip.*`, `norm.mean`, `norm.std`.
    pub fn from_source(
        config: ModelConfig,
        source: &mut dyn WeightSource,
        tokenizer: Option<ClipTokenizer>,
        device: &Device,
    ) -> Result<Self, LoadError> {
        let mut l = Loader::new(source, device);
        let text_encoder = match &config.text {
            TextEncoderConfig::Clip(c) => ClipTextEncoder::load(&mut l.sub("clip"), c)?,
        };
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
        Ok(Self {
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
        })
    }

    /// Loads a verified bundle (see [`crate::bundle`]); refuses bundles with unused tensors.
    pub fn from_bundle_bytes(bytes: &[u8], device: &Device) -> Result<Self, Error> {
        let bundle = Bundle::from_bytes(bytes)?;
        let header = bundle.header.clone();
        let tokenizer = ClipTokenizer::from_bpe_gz(bundle.bytes(CLIP_BPE_TENSOR)?)?;
        let mut weights = bundle.weights("");
        weights.mark_used(CLIP_BPE_TENSOR);
        let mut model = Self::from_source(header.config.clone(), &mut weights, Some(tokenizer), device)?;
        weights.finish()?;
        model.header = Some(header);
        Ok(model)
    }

    /// Official-size (or any) networks with seeded random weights, no files needed.
    pub fn random(config: ModelConfig, seed: u64, device: &Device) -> Result<Self, LoadError> {
        Self::from_source(config, &mut RandomWeights::new(seed), None, device)
    }

    /// Text features `[B, clip_dim]` for already tokenized prompts (each row ends with EOT).
    pub fn encode_tokens(&self, tokens: &[Vec<u32>]) -> Tensor<2> {
        self.text_encoder.forward(tokens)
    }

    /// Tokenizes prompts with the model's tokenizer.
    pub fn tokenize(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>, Error> {
        let tok = self
            .tokenizer
            .as_ref()
            .ok_or_else(|| Error::Unsupported("this model was built without a tokenizer".into()))?;
        Ok(texts.iter().map(|t| tok.tokenize_unpadded(t)).collect())
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
/// measurements at official size without the official files). `clip_vocab_gz` is CLIP's
/// `bpe_simple_vocab_16e6.txt.gz`.
pub fn random_bundle(config: ModelConfig, seed: u64, clip_vocab_gz: Vec<u8>) -> Result<Vec<u8>, Error> {
    let mut random = RandomWeights::new(seed);
    let mut recording = Recording {
        inner: &mut random,
        seen: Default::default(),
    };
    MoMask::from_source(config.clone(), &mut recording, None, &Device::flex())?;
    let mut tensors = recording.seen;
    tensors.insert(
        CLIP_BPE_TENSOR.into(),
        crate::bundle::OwnedTensor::u8(clip_vocab_gz),
    );
    let mut header = BundleHeader::new(config, "f32");
    header.notes.insert(
        "weights".into(),
        format!("random (seed {seed}); not a trained model"),
    );
    Ok(crate::bundle::write_bundle(header, &tensors)?)
}
