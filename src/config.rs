//! Configurations of every network, with presets for the official HumanML3D and KIT models,
//! the small reference fixture and our own demo model.
//!
//! Field names follow the official `opt.txt` keys, so a config reads like the checkpoint folder
//! it came from. Head counts and dilations are not in the tensor shapes, which is why they live
//! here (and in the bundle header) rather than being inferred from the weights.

use serde::{Deserialize, Serialize};

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
    /// Width of the text condition (512 for CLIP, 384 for MiniLM).
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
    pub clip_dim: usize,
    pub num_quantizers: usize,
    /// `_sw` models tie the output projection of layer q to the embedding of layer q.
    pub share_weight: bool,
    pub max_len: usize,
}

/// Length estimator configuration (spec §5); the hidden sizes are fixed by the reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LengthEstimatorConfig {
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

/// The frozen text encoder a model is conditioned on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum TextEncoderConfig {
    Clip(ClipTextConfig),
}

impl TextEncoderConfig {
    /// Width of the feature handed to the transformers.
    pub fn output_dim(&self) -> usize {
        match self {
            Self::Clip(c) => c.embed_dim,
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

    /// Shared constructor: both transformers get the same sizes, as in every official model.
    pub fn with_sizes(
        dataset: Dataset,
        vq: VqConfig,
        latent_dim: usize,
        ff_size: usize,
        n_layers: usize,
        n_heads: usize,
        clip: ClipTextConfig,
    ) -> Self {
        let clip_dim = clip.embed_dim;
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
            text: TextEncoderConfig::Clip(clip),
            vq,
        }
    }

    /// Tokens in the longest motion (196 / 4 = 49).
    pub fn max_tokens(&self) -> usize {
        self.max_motion_length / self.vq.unit_length()
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
        let c = ModelConfig::fixture_small();
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<ModelConfig>(&json).unwrap(), c);
    }
}
