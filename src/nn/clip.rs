//! CLIP's text tower (ViT-B/32 for the official models; spec §6.3), with OpenAI's key names.
//!
//! Only positions up to the end-of-text token are computed: the causal mask makes the EOT
//! output independent of everything after it, so this is exact and saves ~5× work on typical
//! prompts.

use burn::module::{Module, Param};
use burn::nn::LayerNorm;
use burn::tensor::{Int, Tensor, TensorData};

use super::attention::{ResidualAttentionBlock, causal_bias};
use super::weights::{LoadError, Loader};
use crate::config::ClipTextConfig;

#[derive(Module, Debug)]
pub struct ClipTextEncoder {
    pub token_embedding: Param<Tensor<2>>,
    pub positional_embedding: Param<Tensor<2>>,
    pub resblocks: Vec<ResidualAttentionBlock>,
    pub ln_final: LayerNorm,
    /// `(width, embed_dim)`, applied as `x @ P` (not a PyTorch Linear: never transposed).
    pub text_projection: Param<Tensor<2>>,
}

impl ClipTextEncoder {
    pub fn load(l: &mut Loader, c: &ClipTextConfig) -> Result<Self, LoadError> {
        let resblocks = (0..c.layers)
            .map(|i| {
                ResidualAttentionBlock::load(
                    &mut l.sub(&format!("transformer.resblocks.{i}")),
                    c.width,
                    c.heads,
                )
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            token_embedding: Param::from_tensor(l.tensor("token_embedding.weight", [c.vocab_size, c.width])?),
            positional_embedding: Param::from_tensor(
                l.tensor("positional_embedding", [c.context_length, c.width])?,
            ),
            resblocks,
            ln_final: l.layer_norm("ln_final", c.width, 1e-5)?,
            text_projection: Param::from_tensor(l.tensor("text_projection", [c.width, c.embed_dim])?),
        })
    }

    /// Text features `[B, embed_dim]` (not L2-normalised) for token rows that each contain an
    /// EOT; pooling is at the first occurrence of the largest id (`argmax`), as the reference.
    pub fn forward(&self, tokens: &[Vec<u32>]) -> Tensor<2> {
        let device = self.token_embedding.val().device();
        let b = tokens.len();
        let eot: Vec<usize> = tokens.iter().map(|row| argmax_first(row)).collect();
        let len = eot.iter().copied().max().unwrap_or(0) + 1;
        let ids: Vec<i64> = tokens
            .iter()
            .flat_map(|row| (0..len).map(move |t| row.get(t).copied().unwrap_or(0) as i64))
            .collect();
        let width = self.token_embedding.val().dims()[1];
        let ids = Tensor::<1, Int>::from_data(TensorData::new(ids, [b * len]), &device);
        let x = self.token_embedding.val().select(0, ids).reshape([b, len, width]);
        let mut x = x + self
            .positional_embedding
            .val()
            .narrow(0, 0, len)
            .reshape([1, len, width]);
        let mask = causal_bias(len, &device);
        for block in &self.resblocks {
            x = block.forward(x, mask.clone());
        }
        let x = self.ln_final.forward(x);
        // Gather each row's EOT position: [B, width].
        let index: Vec<i64> = eot
            .iter()
            .enumerate()
            .map(|(i, &e)| (i * len + e) as i64)
            .collect();
        let index = Tensor::<1, Int>::from_data(TensorData::new(index, [b]), &device);
        let pooled = x.reshape([b * len, width]).select(0, index);
        pooled.matmul(self.text_projection.val())
    }
}

fn argmax_first(row: &[u32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}
