//! sentence-transformers' `all-MiniLM-L6-v2`: a 6-layer BERT (hidden 384) whose token
//! outputs are mean-pooled over the real (non-padding) tokens and L2-normalised into a 384-d
//! sentence embedding, with Hugging Face's `BertModel` key names.
//!
//! BERT is post-norm: `x = LN(x + Attn(x))`, `x = LN(x + W2 · gelu(W1 · x))`, erf GELU,
//! LayerNorm eps 1e-12; embeddings are word + absolute position + token type 0, then a
//! LayerNorm. The separate `query`/`key`/`value` projections are packed into one `in_proj` at
//! load time (rows `[Wq; Wk; Wv]`), so [`MultiHeadAttention`] is reused unchanged. The
//! `pooler.*` and `embeddings.position_ids` tensors of the checkpoint are not used.
//!
//! Checkpoints whose keys carry a `bert.` prefix load through `Loader::sub("bert")`.

use burn::module::{Module, Param};
use burn::nn::{LayerNorm, Linear};
use burn::tensor::activation::gelu;
use burn::tensor::{Bool, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::attention::{MultiHeadAttention, key_padding_bias};
use super::weights::{LoadError, Loader, transpose};
use crate::text::wordpiece::WordPieceTokenizer;

/// BERT encoder sizes (the fields of Hugging Face's `config.json` that shape the network).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MiniLmConfig {
    /// Word-piece vocabulary size (30,522 for BERT uncased).
    pub vocab_size: usize,
    /// Hidden width, also the embedding width (`hidden_size`).
    pub hidden: usize,
    /// Transformer layers (`num_hidden_layers`).
    pub layers: usize,
    /// Attention heads (`num_attention_heads`).
    pub heads: usize,
    /// Feed-forward width (`intermediate_size`).
    pub intermediate: usize,
    /// Rows of the position table (`max_position_embeddings`): the longest input.
    pub max_position: usize,
    /// Rows of the token-type table (`type_vocab_size`); only type 0 is used.
    pub type_vocab: usize,
    /// Epsilon of every LayerNorm (`layer_norm_eps`).
    pub layer_norm_eps: f64,
}

impl MiniLmConfig {
    /// `sentence-transformers/all-MiniLM-L6-v2`.
    pub fn all_minilm_l6_v2() -> Self {
        Self {
            vocab_size: 30522,
            hidden: 384,
            layers: 6,
            heads: 12,
            intermediate: 1536,
            max_position: 512,
            type_vocab: 2,
            layer_norm_eps: 1e-12,
        }
    }

    /// Width of the sentence embedding (`hidden`).
    pub fn output_dim(&self) -> usize {
        self.hidden
    }
}

/// One post-norm BERT layer (`encoder.layer.N`).
#[derive(Module, Debug)]
pub struct BertLayer {
    /// `attention.self.{query,key,value}` packed as `in_proj`, `attention.output.dense` as
    /// `out_proj`.
    pub attention: MultiHeadAttention,
    /// `attention.output.LayerNorm`.
    pub attention_norm: LayerNorm,
    /// `intermediate.dense`.
    pub intermediate: Linear,
    /// `output.dense`.
    pub output: Linear,
    /// `output.LayerNorm`.
    pub output_norm: LayerNorm,
}

impl BertLayer {
    /// Loads the keys under `encoder.layer.N` (the loader's prefix).
    pub fn load(l: &mut Loader, c: &MiniLmConfig) -> Result<Self, LoadError> {
        let d = c.hidden;
        let mut w = Vec::with_capacity(3 * d * d);
        let mut b = Vec::with_capacity(3 * d);
        for part in ["query", "key", "value"] {
            w.extend(l.values(&format!("attention.self.{part}.weight"), &[d, d])?);
            b.extend(l.values(&format!("attention.self.{part}.bias"), &[d])?);
        }
        let device = l.device().clone();
        let in_proj = Linear {
            weight: Param::from_tensor(Tensor::from_data(
                TensorData::new(transpose(&w, 3 * d, d), [d, 3 * d]),
                &device,
            )),
            bias: Some(Param::from_tensor(Tensor::from_data(
                TensorData::new(b, [3 * d]),
                &device,
            ))),
        };
        let eps = c.layer_norm_eps;
        Ok(Self {
            attention: MultiHeadAttention {
                in_proj,
                out_proj: l.linear("attention.output.dense", d, d, true)?,
                n_heads: c.heads,
            },
            attention_norm: l.layer_norm("attention.output.LayerNorm", d, eps)?,
            intermediate: l.linear("intermediate.dense", d, c.intermediate, true)?,
            output: l.linear("output.dense", c.intermediate, d, true)?,
            output_norm: l.layer_norm("output.LayerNorm", d, eps)?,
        })
    }

    /// `x: [B, L, D]`, `mask`: additive key bias `[B, 1, L]`.
    pub fn forward(&self, x: Tensor<3>, mask: Tensor<3>) -> Tensor<3> {
        let x = self
            .attention_norm
            .forward(x.clone() + self.attention.forward(x, Some(mask)));
        let h = self.output.forward(gelu(self.intermediate.forward(x.clone())));
        self.output_norm.forward(x + h)
    }
}

/// all-MiniLM-L6-v2 as a sentence encoder: BERT → masked mean pooling → L2 normalisation.
#[derive(Module, Debug)]
pub struct MiniLmEncoder {
    /// `embeddings.word_embeddings.weight`, `[vocab, hidden]`.
    pub word_embeddings: Param<Tensor<2>>,
    /// `embeddings.position_embeddings.weight`, `[max_position, hidden]`.
    pub position_embeddings: Param<Tensor<2>>,
    /// `embeddings.token_type_embeddings.weight`, `[type_vocab, hidden]` (row 0 is used).
    pub token_type_embeddings: Param<Tensor<2>>,
    /// `embeddings.LayerNorm`.
    pub embeddings_norm: LayerNorm,
    /// `encoder.layer.0 ..`.
    pub layers: Vec<BertLayer>,
}

impl MiniLmEncoder {
    /// Loads a Hugging Face `BertModel` state dict (keys `embeddings.*`, `encoder.layer.N.*`)
    /// from the loader's prefix.
    pub fn load(l: &mut Loader, c: &MiniLmConfig) -> Result<Self, LoadError> {
        let d = c.hidden;
        let layers = (0..c.layers)
            .map(|i| BertLayer::load(&mut l.sub(&format!("encoder.layer.{i}")), c))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            word_embeddings: Param::from_tensor(
                l.tensor("embeddings.word_embeddings.weight", [c.vocab_size, d])?,
            ),
            position_embeddings: Param::from_tensor(
                l.tensor("embeddings.position_embeddings.weight", [c.max_position, d])?,
            ),
            token_type_embeddings: Param::from_tensor(
                l.tensor("embeddings.token_type_embeddings.weight", [c.type_vocab, d])?,
            ),
            embeddings_norm: l.layer_norm("embeddings.LayerNorm", d, c.layer_norm_eps)?,
            layers,
        })
    }

    /// Width of the embeddings this encoder returns.
    pub fn output_dim(&self) -> usize {
        self.word_embeddings.val().dims()[1]
    }

    /// Unit-norm sentence embeddings `[B, hidden]` for rows of token ids (each as
    /// [`WordPieceTokenizer::encode`] returns them, `[CLS] … [SEP]`).
    ///
    /// Rows are right-padded to the longest; padded keys are masked out of attention and
    /// padded positions out of the mean. Rows longer than the position table are cut to it,
    /// and ids outside the vocabulary are read as `[PAD]` (id 0), so any input is safe. An
    /// empty row gives a zero vector; an empty batch a `[0, hidden]` tensor.
    pub fn forward(&self, tokens: &[Vec<u32>]) -> Tensor<2> {
        let words = self.word_embeddings.val();
        let device = words.device();
        let [vocab, width] = words.dims();
        let b = tokens.len();
        if b == 0 {
            return Tensor::zeros([0, width], &device);
        }
        let max_position = self.position_embeddings.val().dims()[0];
        let lens: Vec<usize> = tokens.iter().map(|row| row.len().min(max_position)).collect();
        let len = lens.iter().copied().max().unwrap_or(0).max(1);
        let ids: Vec<i64> = tokens
            .iter()
            .flat_map(|row| {
                (0..len).map(move |t| match row.get(t) {
                    Some(&id) if (id as usize) < vocab => i64::from(id),
                    _ => 0,
                })
            })
            .collect();
        let ids = Tensor::<1, Int>::from_data(TensorData::new(ids, [b * len]), &device);
        let x = words.select(0, ids).reshape([b, len, width])
            + self
                .position_embeddings
                .val()
                .narrow(0, 0, len)
                .reshape([1, len, width])
            + self
                .token_type_embeddings
                .val()
                .narrow(0, 0, 1)
                .reshape([1, 1, width]);
        let mut x = self.embeddings_norm.forward(x);

        let padding: Vec<bool> = lens.iter().flat_map(|&n| (0..len).map(move |t| t >= n)).collect();
        let padding = Tensor::<2, Bool>::from_data(TensorData::new(padding, [b, len]), &device);
        let bias = key_padding_bias(padding);
        for layer in &self.layers {
            x = layer.forward(x, bias.clone());
        }

        // Mean over real tokens (count clamped as sentence-transformers: 1e-9), then
        // `F.normalize` (norm clamped at 1e-12).
        let keep: Vec<f32> = lens
            .iter()
            .flat_map(|&n| (0..len).map(move |t| if t < n { 1.0 } else { 0.0 }))
            .collect();
        let keep = Tensor::<3>::from_data(TensorData::new(keep, [b, len, 1]), &device);
        let count = keep.clone().sum_dim(1).reshape([b, 1]).clamp_min(1e-9);
        let mean = (x * keep).sum_dim(1).reshape([b, width]) / count;
        let norm = mean.clone().powi_scalar(2).sum_dim(1).sqrt().clamp_min(1e-12);
        mean / norm
    }

    /// Tokenizes `texts` and embeds them: `[texts.len(), hidden]`, unit norm.
    pub fn embed(&self, tokenizer: &WordPieceTokenizer, texts: &[&str]) -> Tensor<2> {
        let tokens: Vec<Vec<u32>> = texts.iter().map(|t| tokenizer.encode(t)).collect();
        self.forward(&tokens)
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::Device;

    use super::*;
    use crate::nn::weights::RandomWeights;

    fn tiny() -> MiniLmConfig {
        MiniLmConfig {
            vocab_size: 50,
            hidden: 16,
            layers: 2,
            heads: 4,
            intermediate: 32,
            max_position: 12,
            type_vocab: 2,
            layer_norm_eps: 1e-12,
        }
    }

    fn rows(t: Tensor<2>) -> Vec<Vec<f32>> {
        let [_, w] = t.dims();
        let v = t
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("f32 data");
        v.chunks(w).map(<[f32]>::to_vec).collect()
    }

    #[test]
    fn padding_does_not_change_embeddings_and_output_is_unit_norm() {
        let device = Device::flex();
        let mut source = RandomWeights::new(7);
        let enc = MiniLmEncoder::load(&mut Loader::new(&mut source, &device), &tiny()).expect("load");
        let short = vec![2u32, 5, 9, 3];
        let long = vec![2u32, 7, 8, 11, 12, 13, 3];
        let alone = rows(enc.forward(std::slice::from_ref(&short)));
        let batch = rows(enc.forward(&[short, long, vec![]]));
        let diff = alone[0]
            .iter()
            .zip(&batch[0])
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(diff < 1e-5, "padding changed the embedding by {diff}");
        let norm: f32 = batch[1].iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
        assert!(batch[2].iter().all(|&v| v == 0.0), "empty row must give zeros");
        // Out-of-range ids and over-long rows are safe.
        let odd = rows(enc.forward(&[vec![2, 999, 3], (0..40).collect()]));
        assert!(odd.iter().flatten().all(|v| v.is_finite()));
        assert_eq!(enc.forward(&[]).dims(), [0, 16]);
    }

    #[test]
    fn config_round_trips_through_json() {
        let c = MiniLmConfig::all_minilm_l6_v2();
        let json = serde_json::to_string(&c).expect("serialise");
        assert_eq!(serde_json::from_str::<MiniLmConfig>(&json).expect("parse"), c);
        assert_eq!(c.output_dim(), 384);
        assert_eq!(c.hidden % c.heads, 0);
    }
}
