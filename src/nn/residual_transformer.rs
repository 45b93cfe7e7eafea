//! MoMask's residual transformer (spec §4): predicts quantizer layer q from the summed code
//! embeddings of layers 0..q−1, the layer index and the text condition.
//!
//! Per-layer tables: `token_embed(j)` embeds layer-j ids; `output_proj(j)` gives layer-(j+1)
//! logits (V + 1 classes, pad included). With `share_weight` (`_sw` models) the two stacks share
//! storage: `output_proj(j) == token_embed(j + 1)` for j < Q − 2.

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::{Bool, Int, Tensor};

use super::attention::{OutputProcess, SeqTransEncoder, load_position_table};
use super::weights::{LoadError, Loader};
use crate::config::ResidualTransformerConfig;

/// `_sw` storage: `token_embed_weight_ (1, V+1, C)`, `embed_proj_shared_weight (Q−2, V+1, C)`,
/// `output_proj_weight_ (1, V+1, C)`; no output bias.
#[derive(Module, Debug)]
pub struct SharedTables {
    pub token_embed_first: Param<Tensor<3>>,
    pub shared: Param<Tensor<3>>,
    pub output_proj_last: Param<Tensor<3>>,
}

/// Plain storage: `token_embed_weight (Q−1, V+1, C)`, `output_proj_weight (Q−1, V+1, C)` and
/// `output_proj_bias (Q, V+1)`, applied with the reference's doubling bug: `2·W·y + b`.
#[derive(Module, Debug)]
pub struct PlainTables {
    pub token_embed: Param<Tensor<3>>,
    pub output_proj: Param<Tensor<3>>,
    pub output_bias: Param<Tensor<2>>,
}

/// How the per-layer tables are stored (they differ between `_sw` and plain checkpoints).
#[derive(Module, Debug)]
pub enum ProjectionTables {
    Shared(SharedTables),
    Plain(PlainTables),
}

impl ProjectionTables {
    fn row(table: &Param<Tensor<3>>, j: usize) -> Tensor<2> {
        let [_, rows, cols] = table.val().dims();
        table.val().narrow(0, j, 1).reshape([rows, cols])
    }

    /// Embedding table of quantizer layer `j`'s ids, `[V+1, C]`.
    pub fn token_embed(&self, j: usize) -> Tensor<2> {
        match self {
            Self::Shared(SharedTables {
                token_embed_first,
                shared,
                ..
            }) => {
                if j == 0 {
                    Self::row(token_embed_first, 0)
                } else {
                    Self::row(shared, j - 1)
                }
            }
            Self::Plain(PlainTables { token_embed, .. }) => Self::row(token_embed, j),
        }
    }

    /// Projection `[V+1, C]` producing the logits of layer `j + 1`, and its bias if any.
    pub fn output_proj(&self, j: usize) -> (Tensor<2>, Option<Tensor<1>>) {
        match self {
            Self::Shared(SharedTables {
                shared,
                output_proj_last,
                ..
            }) => {
                let q_minus_2 = shared.val().dims()[0];
                if j < q_minus_2 {
                    (Self::row(shared, j), None)
                } else {
                    (Self::row(output_proj_last, 0), None)
                }
            }
            Self::Plain(PlainTables {
                output_proj,
                output_bias,
                ..
            }) => {
                let classes = output_bias.val().dims()[1];
                (
                    Self::row(output_proj, j),
                    Some(output_bias.val().narrow(0, j, 1).reshape([classes])),
                )
            }
        }
    }
}

#[derive(Module, Debug)]
pub struct ResidualTransformer {
    pub tables: ProjectionTables,
    pub pose_embedding: Linear,
    /// `quant_emb`: Linear(Q → latent) applied to a one-hot layer index.
    pub quant_emb: Linear,
    pub cond_emb: Linear,
    pub position_enc: Param<Tensor<2>>,
    pub seq_trans_encoder: SeqTransEncoder,
    pub output_process: OutputProcess,
}

impl ResidualTransformer {
    pub fn load(l: &mut Loader, c: &ResidualTransformerConfig) -> Result<Self, LoadError> {
        let (v1, cd, q) = (c.num_tokens + 1, c.code_dim, c.num_quantizers);
        if q < 2 {
            return Err(LoadError::Bad {
                name: "num_quantizers".into(),
                message: format!("needs ≥ 2 layers, got {q}"),
            });
        }
        let tables = if c.share_weight {
            ProjectionTables::Shared(SharedTables {
                token_embed_first: Param::from_tensor(l.tensor("token_embed_weight_", [1, v1, cd])?),
                shared: Param::from_tensor(l.tensor("embed_proj_shared_weight", [q - 2, v1, cd])?),
                output_proj_last: Param::from_tensor(l.tensor("output_proj_weight_", [1, v1, cd])?),
            })
        } else {
            ProjectionTables::Plain(PlainTables {
                token_embed: Param::from_tensor(l.tensor("token_embed_weight", [q - 1, v1, cd])?),
                output_proj: Param::from_tensor(l.tensor("output_proj_weight", [q - 1, v1, cd])?),
                output_bias: Param::from_tensor(l.tensor("output_proj_bias", [q, v1])?),
            })
        };
        Ok(Self {
            tables,
            pose_embedding: l.linear("input_process.poseEmbedding", cd, c.latent_dim, true)?,
            quant_emb: l.linear("quant_emb", q, c.latent_dim, true)?,
            cond_emb: l.linear("cond_emb", c.clip_dim, c.latent_dim, true)?,
            position_enc: load_position_table(l, c.max_len, c.latent_dim)?,
            seq_trans_encoder: SeqTransEncoder::load(l, c.n_layers, c.latent_dim, c.n_heads, c.ff_size)?,
            output_process: OutputProcess::load(&mut l.sub("output_process"), c.latent_dim, cd)?,
        })
    }

    /// Adds the embedding of layer-`layer` ids `[B, N]` (pad id allowed) to `history [B, N, C]`.
    pub fn embed_layer(&self, history: Tensor<3>, layer: usize, ids: Tensor<2, Int>) -> Tensor<3> {
        let [b, n] = ids.dims();
        let table = self.tables.token_embed(layer);
        let c = table.dims()[1];
        history + table.select(0, ids.reshape([b * n])).reshape([b, n, c])
    }

    /// Logits `[B, N, V+1]` for quantizer layer `q` (1..Q−1) given the code history.
    pub fn forward(
        &self,
        history: Tensor<3>,
        q: usize,
        cond: Tensor<2>,
        padding: Tensor<2, Bool>,
    ) -> Tensor<3> {
        let [b, n, _] = history.dims();
        let device = history.device();
        let x = self.pose_embedding.forward(history);
        let latent = x.dims()[2];
        let x = x + self.position_enc.val().narrow(0, 0, n).reshape([1, n, latent]);
        // onehot(q) · Wᵀ + b is column q of the weight plus the bias.
        let num_q = self.quant_emb.weight.val().dims()[0];
        let mut onehot = vec![0f32; num_q];
        onehot[q] = 1.0;
        let q_token = self
            .quant_emb
            .forward(Tensor::<1>::from_floats(onehot.as_slice(), &device).reshape([1, 1, num_q]))
            .repeat_dim(0, b);
        let cond_token = self.cond_emb.forward(cond).reshape([b, 1, latent]);
        let h = self
            .seq_trans_encoder
            .forward(Tensor::cat(vec![cond_token, q_token, x], 1), 2, padding);
        let y = self.output_process.forward(h); // [B, N, C]
        let (w, out_bias) = self.tables.output_proj(q - 1); // [V+1, C]
        let logits = y.matmul(w.transpose().unsqueeze_dim::<3>(0));
        match out_bias {
            // Reference quirk: `output += output + bias`.
            Some(bias) => {
                let classes = bias.dims()[0];
                logits.clone() + logits + bias.reshape([1, 1, classes])
            }
            None => logits,
        }
    }
}
