//! MoMask's masked transformer (spec §3): predicts base-layer (q = 0) code ids from a partly
//! masked sequence and the text condition.
//!
//! ```text
//! tokens ──token_emb──▶ input_process ──+pe──┐
//! text ──cond_emb──────────────────────────▶ [cond, x₀ … x_N] ─▶ 8 × post-norm layer ─▶ drop cond ─▶ head ─▶ logits
//! ```

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::{Bool, Int, Tensor};

use super::attention::{OutputProcess, SeqTransEncoder, load_position_table};
use super::weights::{LoadError, Loader};
use crate::config::MaskTransformerConfig;

#[derive(Module, Debug)]
pub struct MaskTransformer {
    /// Learned token table with `V + 2` rows (codes, mask id, pad id): not the VQ codebook.
    pub token_emb: Param<Tensor<2>>,
    /// `input_process.poseEmbedding`: code_dim → latent.
    pub pose_embedding: Linear,
    pub cond_emb: Linear,
    /// `position_enc.pe`, stored `(max_len, 1, latent)`, kept as `[max_len, latent]`.
    pub position_enc: Param<Tensor<2>>,
    pub seq_trans_encoder: SeqTransEncoder,
    pub output_process: OutputProcess,
}

impl MaskTransformer {
    pub fn load(l: &mut Loader, c: &MaskTransformerConfig) -> Result<Self, LoadError> {
        let token_emb = l.tensor("token_emb.weight", [c.num_tokens + 2, c.code_dim])?;
        Ok(Self {
            token_emb: Param::from_tensor(token_emb),
            pose_embedding: l.linear("input_process.poseEmbedding", c.code_dim, c.latent_dim, true)?,
            cond_emb: l.linear("cond_emb", c.clip_dim, c.latent_dim, true)?,
            position_enc: load_position_table(l, c.max_len, c.latent_dim)?,
            seq_trans_encoder: SeqTransEncoder::load(l, c.n_layers, c.latent_dim, c.n_heads, c.ff_size)?,
            output_process: OutputProcess::load(&mut l.sub("output_process"), c.latent_dim, c.num_tokens)?,
        })
    }

    /// `trans_forward`: logits `[B, N, V]` for ids `[B, N]`, text features `[B, clip_dim]`
    /// (zeros for the unconditional branch) and `padding` `[B, N]` (true = padded).
    pub fn forward(&self, ids: Tensor<2, Int>, cond: Tensor<2>, padding: Tensor<2, Bool>) -> Tensor<3> {
        let [b, n] = ids.dims();
        let d = self.token_emb.val().dims()[1];
        let x = self
            .token_emb
            .val()
            .select(0, ids.reshape([b * n]))
            .reshape([b, n, d]);
        let x = self.pose_embedding.forward(x);
        let latent = x.dims()[2];
        let x = x + self.position_enc.val().narrow(0, 0, n).reshape([1, n, latent]);
        let cond_token = self.cond_emb.forward(cond).reshape([b, 1, latent]);
        // The condition token is never padded.
        let h = self
            .seq_trans_encoder
            .forward(Tensor::cat(vec![cond_token, x], 1), 1, padding);
        self.output_process.forward(h)
    }
}
