//! Configurations of every network, with presets for the official HumanML3D and KIT models,
//! the small reference fixture and our own demo model.
//!
//! Field names follow the official `opt.txt` keys, so a config reads like the checkpoint folder
//! it came from. Head counts and dilations are not in the tensor shapes, which is why they live
//! here (and in the bundle header) rather than being inferred from the weights.

use serde::{Deserialize, Serialize};

pub use crate::nn::minilm::MiniLmConfig;

/// Rows of the positional table kept in bundles: the longest motion has 49 tokens, and the
/// reference's 5000 rows would add 7.7 MB per transformer.
pub const PE_ROWS: usize = 64;

/// Activation inside the VQ-VAE residual blocks (`vq_act`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VqActivation {
    Relu,
    Silu,
    Gelu,
}

/// RVQ-VAE configuration (spec §2.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VqConfig {
    /// Feature width: 263 (HumanML3D) or 251 (KIT).
    pub dim_pose: usize,
    /// Codes per codebook.
    pub nb_code: usize,
    /// Code (and latent) width.
    pub code_dim: usize,
    /// Channel width of the conv stacks.
    pub width: usize,
    /// Number of ×2 down-sampling stages (frames per token = `stride_t^down_t`).
    pub down_t: usize,
    pub stride_t: usize,
    /// Residual blocks per stage.
    pub depth: usize,
    pub dilation_growth_rate: usize,
    pub vq_act: VqActivation,
    /// Number of residual quantizer layers (Q).
    pub num_quantizers: usize,
}

impl VqConfig {
    /// Frames per token (4 for every official model).
    pub fn unit_length(&self) -> usize {
        self.stride_t.pow(self.down_t as u32)
    }

    /// Block dilations in module order: `rate^(depth-1), …, rate, 1` (reversed, as the reference).
    pub fn dilations(&self) -> Vec<usize> {
        (0..self.depth)
            .rev()
            .map(|i| self.dilation_growth_rate.pow(i as u32))
            .collect()
    }
}

/// Masked (base-layer) transformer configuration (spec §3.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaskTransformerConfig {
    /// Real code count V (mask id = V, pad id = V + 1).
    pub num_tokens: usize,
    pub code_dim: usize,
    pub latent_dim: usize,
    pub ff_size: usize,
    pub n_layers: usize,
    pub n_heads: usize,
    /// Width of the text feature the model is conditioned on ([`TextEncoderConfig::output_dim`]:
    /// 512 for CLIP ViT-B/32, 384 for MiniLM). The name is the reference's (`clip_dim`), kept for
    /// every text encoder.
    pub clip_dim: usize,
    /// Rows of the stored sinusoidal table (`position_enc.pe`); the reference stores 5000, the
    /// converter keeps [`PE_ROWS`] (a motion has at most 49 tokens).
    pub max_len: usize,
}

/// Residual transformer configuration (spec §4.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResidualTransformerConfig {
    /// Real code count V (pad id = V; logits have V + 1 classes).
    pub num_tokens: usize,
    pub code_dim: usize,
    pub latent_dim: usize,
    pub ff_size: usize,
    pub n_layers: usize,
    pub n_heads: usize,
    /// Width of the text feature (see [`MaskTransformerConfig::clip_dim`]).
    pub clip_dim: usize,
    pub num_quantizers: usize,
    /// `_sw` models tie the output projection of layer q to the embedding of layer q.
    pub share_weight: bool,
    pub max_len: usize,
}

/// Length estimator configuration (spec §5); the hidden sizes are fixed by the reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LengthEstimatorConfig {
    /// Width of the text feature it reads (the text encoder's output width).
    pub input_size: usize,
    /// Number of token-length classes (50: lengths 0..49 tokens).
    pub output_size: usize,
}

/// CLIP text tower configuration (spec §6.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClipTextConfig {
    pub vocab_size: usize,
    pub context_length: usize,
    pub width: usize,
    pub layers: usize,
    pub heads: usize,
    /// Output width of `text_projection`.
    pub embed_dim: usize,
}

/// The frozen text encoder a model is conditioned on. In JSON (bundle headers) it is an object
/// tagged by `kind`: `{"kind": "clip", …ClipTextConfig}` or `{"kind": "minilm", …MiniLmConfig}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum TextEncoderConfig {
    /// OpenAI CLIP's text tower (the official models): BPE tokens, run up to EOT, 512-d.
    Clip(ClipTextConfig),
    /// sentence-transformers' all-MiniLM-L6-v2 (our demo model): WordPiece tokens, BERT, mean
    /// pooling over the real tokens, L2 normalisation, 384-d.
    #[serde(rename = "minilm")]
    MiniLm(MiniLmConfig),
}

impl TextEncoderConfig {
    /// Width of the feature handed to the transformers.
    pub fn output_dim(&self) -> usize {
        match self {
            Self::Clip(c) => c.embed_dim,
            Self::MiniLm(c) => c.output_dim(),
        }
    }

    /// The name written into bundle headers (`text_encoder`): `"clip"` or `"minilm"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Clip(_) => "clip",
            Self::MiniLm(_) => "minilm",
        }
    }

    /// The tokenizer this encoder reads (`tokenizer` in bundle headers): `"clip-bpe"` or
    /// `"wordpiece"`.
    pub fn tokenizer_kind(&self) -> &'static str {
        match self {
            Self::Clip(_) => "clip-bpe",
            Self::MiniLm(_) => "wordpiece",
        }
    }

    /// Checks the sizes that the networks would otherwise trip over at run time (zero sizes,
    /// widths not divisible by the head count). Bundle headers are untrusted input.
    pub fn validate(&self) -> Result<(), String> {
        let (width, heads, what) = match self {
            Self::Clip(c) => (c.width, c.heads, "clip"),
            Self::MiniLm(c) => (c.hidden, c.heads, "minilm"),
        };
        if width == 0 || heads == 0 || !width.is_multiple_of(heads) {
            return Err(format!(
                "{what}: width {width} is not a positive multiple of {heads} heads"
            ));
        }
        match self {
            Self::Clip(c) if c.vocab_size == 0 || c.context_length == 0 || c.embed_dim == 0 => {
                Err("clip: vocab_size, context_length and embed_dim must be positive".into())
            }
            Self::MiniLm(c)
                if c.vocab_size == 0
                    || c.max_position < 2
                    || c.type_vocab == 0
                    || c.intermediate == 0
                    || !c.layer_norm_eps.is_finite()
                    || c.layer_norm_eps <= 0.0 =>
            {
                Err("minilm: vocab_size, intermediate, type_vocab must be positive, \
                     max_position at least 2 and layer_norm_eps positive"
                    .into())
            }
            _ => Ok(()),
        }
    }
}

/// Which skeleton and feature layout the model speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dataset {
    /// HumanML3D: 22 joints, 263-d features, 20 fps.
    T2m,
    /// KIT-ML: 21 joints, 251-d features, 12.5 fps.
    Kit,
}

impl Dataset {
    pub fn joints(self) -> usize {
        match self {
            Self::T2m => 22,
            Self::Kit => 21,
        }
    }

    pub fn dim_pose(self) -> usize {
        match self {
            Self::T2m => 263,
            Self::Kit => 251,
        }
    }

    pub fn fps(self) -> f32 {
        match self {
            Self::T2m => 20.0,
            Self::Kit => 12.5,
        }
    }
}

/// Everything needed to build a full MoMask model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub dataset: Dataset,
    /// Longest motion the model was trained on, in frames (196).
    pub max_motion_length: usize,
    pub vq: VqConfig,
    pub mask: MaskTransformerConfig,
    pub res: ResidualTransformerConfig,
    pub length_estimator: Option<LengthEstimatorConfig>,
    pub text: TextEncoderConfig,
}

impl ModelConfig {
    /// The official HumanML3D model set (spec §0): RVQ 6×512×512, 8-layer transformers, ViT-B/32.
    pub fn humanml3d() -> Self {
        Self::official(Dataset::T2m)
    }

    /// The official KIT-ML model set: same sizes, 251-d features.
    pub fn kit() -> Self {
        Self::official(Dataset::Kit)
    }

    fn official(dataset: Dataset) -> Self {
        let vq = VqConfig {
            dim_pose: dataset.dim_pose(),
            nb_code: 512,
            code_dim: 512,
            width: 512,
            down_t: 2,
            stride_t: 2,
            depth: 3,
            dilation_growth_rate: 3,
            vq_act: VqActivation::Relu,
            num_quantizers: 6,
        };
        Self::with_sizes(dataset, vq, 384, 1024, 8, 6, ClipTextConfig::vit_b_32())
    }

    /// The random-weight reference fixture (`shared/fixtures/momask-small`).
    pub fn fixture_small() -> Self {
        let vq = VqConfig {
            dim_pose: 263,
            nb_code: 64,
            code_dim: 32,
            width: 32,
            down_t: 2,
            stride_t: 2,
            depth: 3,
            dilation_growth_rate: 3,
            vq_act: VqActivation::Relu,
            num_quantizers: 3,
        };
        let clip = ClipTextConfig {
            width: 32,
            heads: 2,
            layers: 2,
            ..ClipTextConfig::vit_b_32()
        };
        Self::with_sizes(Dataset::T2m, vq, 64, 128, 2, 2, clip)
    }

    /// Our own demo model (trained on the procedural corpus, see [`crate::synth`]): the
    /// [`DEMO_SIZES`] networks on all-MiniLM-L6-v2 text features, HumanML3D's 263-d layout.
    pub fn demo() -> Self {
        DEMO_SIZES.config()
    }

    /// Shared constructor with the CLIP ViT-B/32-style text tower `clip`; see
    /// [`ModelConfig::with_text`].
    pub fn with_sizes(
        dataset: Dataset,
        vq: VqConfig,
        latent_dim: usize,
        ff_size: usize,
        n_layers: usize,
        n_heads: usize,
        clip: ClipTextConfig,
    ) -> Self {
        Self::with_text(
            dataset,
            vq,
            latent_dim,
            ff_size,
            n_layers,
            n_heads,
            TextEncoderConfig::Clip(clip),
        )
    }

    /// Shared constructor: both transformers get the same sizes (residual transformer `_sw`),
    /// as in every official model, 196-frame motions, a 50-class length estimator, and every
    /// text width (`clip_dim`, the estimator's input) set to `text.output_dim()`.
    pub fn with_text(
        dataset: Dataset,
        vq: VqConfig,
        latent_dim: usize,
        ff_size: usize,
        n_layers: usize,
        n_heads: usize,
        text: TextEncoderConfig,
    ) -> Self {
        let clip_dim = text.output_dim();
        Self {
            dataset,
            max_motion_length: 196,
            mask: MaskTransformerConfig {
                num_tokens: vq.nb_code,
                code_dim: vq.code_dim,
                latent_dim,
                ff_size,
                n_layers,
                n_heads,
                clip_dim,
                max_len: PE_ROWS,
            },
            res: ResidualTransformerConfig {
                num_tokens: vq.nb_code,
                code_dim: vq.code_dim,
                latent_dim,
                ff_size,
                n_layers,
                n_heads,
                clip_dim,
                num_quantizers: vq.num_quantizers,
                share_weight: true,
                max_len: PE_ROWS,
            },
            length_estimator: Some(LengthEstimatorConfig {
                input_size: clip_dim,
                output_size: 50,
            }),
            text,
            vq,
        }
    }

    /// Tokens in the longest motion (196 / 4 = 49).
    pub fn max_tokens(&self) -> usize {
        self.max_motion_length / self.vq.unit_length()
    }
}

/// Sizes of the demo model, in one place (the trainer may tune them): the networks
/// [`ModelConfig::demo`] builds. Everything else (MiniLM text encoder, 263-d HumanML3D layout,
/// 196-frame motions, ReLU VQ, `_sw` residual transformer, length estimator) is fixed there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoSizes {
    /// Codes per codebook (`nb_code`).
    pub nb_code: usize,
    /// Code and latent width of the VQ-VAE (`code_dim`).
    pub code_dim: usize,
    /// Conv channel width of the VQ-VAE (`width`).
    pub width: usize,
    /// ×`stride_t` down-sampling stages: frames per token = `stride_t^down_t`.
    pub down_t: usize,
    pub stride_t: usize,
    /// Residual blocks per VQ stage (`depth`).
    pub depth: usize,
    pub dilation_growth_rate: usize,
    /// Residual quantizer layers (Q).
    pub num_quantizers: usize,
    /// Both transformers: width, feed-forward width, layers, heads.
    pub latent_dim: usize,
    pub ff_size: usize,
    pub n_layers: usize,
    pub n_heads: usize,
}

/// The demo model's sizes: RVQ 4×256×128 (width 128, 2 stages of ×2 → 4 frames per token,
/// depth 2, dilation growth 3, ReLU); transformers 128 wide, ff 384, 3 layers, 4 heads.
pub const DEMO_SIZES: DemoSizes = DemoSizes {
    nb_code: 256,
    code_dim: 128,
    width: 128,
    down_t: 2,
    stride_t: 2,
    depth: 2,
    dilation_growth_rate: 3,
    num_quantizers: 4,
    latent_dim: 128,
    ff_size: 384,
    n_layers: 3,
    n_heads: 4,
};

impl DemoSizes {
    /// The demo [`ModelConfig`] with these sizes: MiniLM text encoder (384-d features),
    /// HumanML3D 263-d layout, `max_motion_length` 196, `_sw` residual transformer, length
    /// estimator on the 384-d feature.
    pub fn config(&self) -> ModelConfig {
        let dataset = Dataset::T2m;
        let vq = VqConfig {
            dim_pose: dataset.dim_pose(),
            nb_code: self.nb_code,
            code_dim: self.code_dim,
            width: self.width,
            down_t: self.down_t,
            stride_t: self.stride_t,
            depth: self.depth,
            dilation_growth_rate: self.dilation_growth_rate,
            vq_act: VqActivation::Relu,
            num_quantizers: self.num_quantizers,
        };
        ModelConfig::with_text(
            dataset,
            vq,
            self.latent_dim,
            self.ff_size,
            self.n_layers,
            self.n_heads,
            TextEncoderConfig::MiniLm(MiniLmConfig::all_minilm_l6_v2()),
        )
    }
}

impl ClipTextConfig {
    /// OpenAI CLIP ViT-B/32's text tower.
    pub fn vit_b_32() -> Self {
        Self {
            vocab_size: 49408,
            context_length: 77,
            width: 512,
            layers: 12,
            heads: 8,
            embed_dim: 512,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn official_preset_matches_spec() {
        let c = ModelConfig::humanml3d();
        assert_eq!(c.vq.unit_length(), 4);
        assert_eq!(c.vq.dilations(), vec![9, 3, 1]);
        assert_eq!(c.max_tokens(), 49);
        assert_eq!(c.mask.latent_dim / c.mask.n_heads, 64);
        assert_eq!(ModelConfig::kit().vq.dim_pose, 251);
    }

    #[test]
    fn config_round_trips_through_json() {
        for c in [ModelConfig::fixture_small(), ModelConfig::demo()] {
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(serde_json::from_str::<ModelConfig>(&json).unwrap(), c);
        }
        let json = serde_json::to_value(ModelConfig::demo()).unwrap();
        assert_eq!(json["text"]["kind"], "minilm");
        assert_eq!(json["text"]["hidden"], 384);
    }

    #[test]
    fn demo_preset_matches_its_sizes() {
        let c = ModelConfig::demo();
        assert_eq!(c.text.output_dim(), 384);
        assert_eq!(c.text.kind(), "minilm");
        assert_eq!((c.mask.clip_dim, c.res.clip_dim), (384, 384));
        assert_eq!(c.length_estimator.as_ref().map(|l| l.input_size), Some(384));
        assert_eq!(c.vq.unit_length(), 4);
        assert_eq!(c.max_tokens(), 49);
        assert_eq!(c.vq.dilations(), vec![3, 1]);
        assert_eq!((c.vq.nb_code, c.vq.code_dim, c.vq.num_quantizers), (256, 128, 4));
        assert_eq!(
            (c.mask.latent_dim, c.mask.ff_size, c.mask.n_layers, c.mask.n_heads),
            (128, 384, 3, 4)
        );
        assert_eq!(c.res.latent_dim, c.mask.latent_dim);
        assert!(c.res.share_weight);
        assert_eq!(c.dataset.dim_pose(), 263);
        assert!(c.text.validate().is_ok());
    }
}
