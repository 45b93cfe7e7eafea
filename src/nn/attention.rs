//! Transformer pieces with PyTorch's exact semantics: `nn.MultiheadAttention` with packed
//! `in_proj` weights, the post-norm `nn.TransformerEncoderLayer` (MoMask) and the pre-norm
//! residual attention block (CLIP).
//!
//! Tensors are batch-first `[batch, seq, width]` here; the reference's sequence-first layout
//! changes nothing numerically.

use std::sync::Arc;

use burn::module::{Module, Param};
use burn::nn::{LayerNorm, Linear};
use burn::tensor::activation::{gelu, sigmoid, softmax};
use burn::tensor::{Bool, Tensor};

use super::fused::{FusedEncoder, FusedHandle};
use super::weights::{LoadError, Loader};

/// Additive bias for keys that must not be attended to. Finite (unlike −inf) so that WebGPU
/// shaders never see inf − inf; exp of it underflows to exactly 0 in f32, as −inf does.
const MASKED: f32 = -1.0e9;

/// `nn.MultiheadAttention` (self-attention only): `in_proj` stacks `[Wq; Wk; Wv]` by rows.
#[derive(Module, Debug)]
pub struct MultiHeadAttention {
    pub in_proj: Linear,
    pub out_proj: Linear,
    pub n_heads: usize,
}

impl MultiHeadAttention {
    /// Loads `{prefix}.in_proj_weight`, `{prefix}.in_proj_bias` and `{prefix}.out_proj.*`.
    pub fn load(l: &mut Loader, d_model: usize, n_heads: usize) -> Result<Self, LoadError> {
        let in_proj = l.linear_packed("in_proj_weight", "in_proj_bias", d_model, 3 * d_model)?;
        let out_proj = l.linear("out_proj", d_model, d_model, true)?;
        Ok(Self {
            in_proj,
            out_proj,
            n_heads,
        })
    }

    /// Self-attention over `x: [B, L, D]`. `mask` is an additive `[B or 1, 1 or L, L]` bias
    /// (0 = attend, large negative = blocked), broadcast over heads.
    pub fn forward(&self, x: Tensor<3>, mask: Option<Tensor<3>>) -> Tensor<3> {
        let [b, l, d] = x.dims();
        let h = self.n_heads;
        let dh = d / h;
        let qkv = self.in_proj.forward(x);
        // [B, L, 3, H, dh] → three [B, H, L, dh]
        let qkv = qkv.reshape([b, l, 3, h, dh]).permute([2, 0, 3, 1, 4]);
        let q = qkv.clone().narrow(0, 0, 1).reshape([b, h, l, dh]);
        let k = qkv.clone().narrow(0, 1, 1).reshape([b, h, l, dh]);
        let v = qkv.narrow(0, 2, 1).reshape([b, h, l, dh]);
        let scores = q.matmul(k.swap_dims(2, 3)) / (dh as f32).sqrt();
        let scores = match mask {
            Some(m) => scores + m.unsqueeze_dim::<4>(1),
            None => scores,
        };
        let attn = softmax(scores, 3);
        let out = attn.matmul(v).swap_dims(1, 2).reshape([b, l, d]);
        self.out_proj.forward(out)
    }
}

/// Additive key-padding bias `[B, 1, L]` from a `[B, L]` mask that is true at padded keys.
pub fn key_padding_bias(padding: Tensor<2, Bool>) -> Tensor<3> {
    let [b, l] = padding.dims();
    Tensor::<2>::zeros([b, l], &padding.device())
        .mask_fill(padding, MASKED)
        .reshape([b, 1, l])
}

/// Causal additive bias `[1, L, L]`: position i attends to keys ≤ i.
pub fn causal_bias(l: usize, device: &burn::tensor::Device) -> Tensor<3> {
    let values: Vec<f32> = (0..l * l)
        .map(|i| if i % l > i / l { MASKED } else { 0.0 })
        .collect();
    Tensor::<1>::from_floats(values.as_slice(), device).reshape([1, l, l])
}

/// PyTorch `nn.TransformerEncoderLayer` as MoMask configures it: post-norm, erf GELU,
/// LayerNorm eps 1e-5 (spec §3.4). Keys: `self_attn.*`, `linear1`, `linear2`, `norm1`, `norm2`.
#[derive(Module, Debug)]
pub struct TransformerEncoderLayer {
    pub self_attn: MultiHeadAttention,
    pub linear1: Linear,
    pub linear2: Linear,
    pub norm1: LayerNorm,
    pub norm2: LayerNorm,
}

impl TransformerEncoderLayer {
    pub fn load(l: &mut Loader, d_model: usize, n_heads: usize, ff: usize) -> Result<Self, LoadError> {
        Ok(Self {
            self_attn: MultiHeadAttention::load(&mut l.sub("self_attn"), d_model, n_heads)?,
            linear1: l.linear("linear1", d_model, ff, true)?,
            linear2: l.linear("linear2", ff, d_model, true)?,
            norm1: l.layer_norm("norm1", d_model, 1e-5)?,
            norm2: l.layer_norm("norm2", d_model, 1e-5)?,
        })
    }

    pub fn forward(&self, x: Tensor<3>, mask: Option<Tensor<3>>) -> Tensor<3> {
        let x = self.norm1.forward(x.clone() + self.self_attn.forward(x, mask));
        let ff = self.linear2.forward(gelu(self.linear1.forward(x.clone())));
        self.norm2.forward(x + ff)
    }
}

/// `nn.TransformerEncoder` (`seqTransEncoder`, no final norm) over `[prefix tokens; motion
/// tokens]`. The `prefix` leading tokens (condition, layer index) are never padded keys; they are
/// dropped from the output.
#[derive(Module, Debug)]
pub struct SeqTransEncoder {
    pub layers: Vec<TransformerEncoderLayer>,
    /// The same layers as one fused host-memory forward, once [`Self::fuse_for_cpu`] ran (CPU
    /// inference); `None` keeps every op in burn (GPU, training).
    #[module(skip)]
    pub fused: FusedHandle,
}

impl SeqTransEncoder {
    pub fn load(
        l: &mut Loader,
        n_layers: usize,
        d_model: usize,
        n_heads: usize,
        ff: usize,
    ) -> Result<Self, LoadError> {
        let layers = (0..n_layers)
            .map(|i| {
                TransformerEncoderLayer::load(
                    &mut l.sub(&format!("seqTransEncoder.layers.{i}")),
                    d_model,
                    n_heads,
                    ff,
                )
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { layers, fused: None })
    }

    /// Switches [`Self::forward`] to the fused CPU path ([`FusedEncoder`]); call only when the
    /// layers live on the CPU backend (their weights are read synchronously). Returns whether
    /// it could (layers without biases stay on the burn path).
    pub fn fuse_for_cpu(&mut self) -> bool {
        let Some(first) = self.layers.first() else {
            return false;
        };
        let heads = first.self_attn.n_heads;
        self.fused = FusedEncoder::from_layers(&self.layers, heads, 1e-5).map(Arc::new);
        self.fused.is_some()
    }

    /// `h: [B, prefix + N, D]`, `padding: [B, N]` (true = padded) → `[B, N, D]`.
    pub fn forward(&self, mut h: Tensor<3>, prefix: usize, padding: Tensor<2, Bool>) -> Tensor<3> {
        let [b, n] = padding.dims();
        if let Some(fused) = &self.fused {
            let padded = padding
                .clone()
                .try_into_data()
                .ok()
                .map(|d| d.convert::<bool>().try_into_vec::<bool>());
            if let Some(Ok(padded)) = padded
                && padded.len() == b * n
            {
                let keys: Vec<bool> = padded
                    .chunks_exact(n)
                    .flat_map(|row| std::iter::repeat_n(false, prefix).chain(row.iter().copied()))
                    .collect();
                if let Some(out) = fused.forward(&h, &keys) {
                    return out.narrow(1, prefix, n);
                }
            }
        }
        let keys = Tensor::cat(
            vec![
                Tensor::<2, Bool>::full([b, prefix], false, &padding.device()),
                padding,
            ],
            1,
        );
        let bias = key_padding_bias(keys);
        for layer in &self.layers {
            h = layer.forward(h, Some(bias.clone()));
        }
        h.narrow(1, prefix, n)
    }
}

/// The stored sinusoidal table `position_enc.pe` `(max_len, 1, latent)`, kept as `[max_len, latent]`.
pub fn load_position_table(
    l: &mut Loader,
    max_len: usize,
    latent: usize,
) -> Result<Param<Tensor<2>>, LoadError> {
    Ok(Param::from_tensor(
        l.tensor("position_enc.pe", [max_len, 1, latent])?
            .reshape([max_len, latent]),
    ))
}

/// `OutputProcess_Bert`: dense → erf GELU → LayerNorm(eps 1e-12) → `poseFinal` (spec §3.5).
#[derive(Module, Debug)]
pub struct OutputProcess {
    pub dense: Linear,
    pub layer_norm: LayerNorm,
    pub pose_final: Linear,
}

impl OutputProcess {
    pub fn load(l: &mut Loader, latent: usize, out: usize) -> Result<Self, LoadError> {
        Ok(Self {
            dense: l.linear("dense", latent, latent, true)?,
            layer_norm: l.layer_norm("LayerNorm", latent, 1e-12)?,
            pose_final: l.linear("poseFinal", latent, out, true)?,
        })
    }

    pub fn forward(&self, h: Tensor<3>) -> Tensor<3> {
        let y = gelu(self.dense.forward(h));
        self.pose_final.forward(self.layer_norm.forward(y))
    }
}

/// CLIP's `ResidualAttentionBlock`: pre-norm, QuickGELU MLP (`c_fc`, `c_proj`).
#[derive(Module, Debug)]
pub struct ResidualAttentionBlock {
    pub attn: MultiHeadAttention,
    pub ln_1: LayerNorm,
    pub c_fc: Linear,
    pub c_proj: Linear,
    pub ln_2: LayerNorm,
}

impl ResidualAttentionBlock {
    pub fn load(l: &mut Loader, width: usize, heads: usize) -> Result<Self, LoadError> {
        Ok(Self {
            attn: MultiHeadAttention::load(&mut l.sub("attn"), width, heads)?,
            ln_1: l.layer_norm("ln_1", width, 1e-5)?,
            c_fc: l.linear("mlp.c_fc", width, 4 * width, true)?,
            c_proj: l.linear("mlp.c_proj", 4 * width, width, true)?,
            ln_2: l.layer_norm("ln_2", width, 1e-5)?,
        })
    }

    pub fn forward(&self, x: Tensor<3>, mask: Tensor<3>) -> Tensor<3> {
        let x = x.clone() + self.attn.forward(self.ln_1.forward(x), Some(mask));
        let h = self.c_fc.forward(self.ln_2.forward(x.clone()));
        x + self.c_proj.forward(quick_gelu(h))
    }
}

/// CLIP's activation: `x · sigmoid(1.702 x)`.
pub fn quick_gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    x.clone() * sigmoid(x * 1.702)
}
