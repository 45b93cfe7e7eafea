//! Trained networks back to reference-keyed tensors: the mirror image of
//! [`crate::nn::weights::Loader`], so a checkpoint, a resumed run and the shipped bundle all go
//! through the one loading path. [`TensorMap`] is the in-memory [`WeightSource`] that reads them
//! back.

use std::collections::BTreeMap;
use std::path::Path;

use burn::module::Param;
use burn::nn::conv::Conv1d;
use burn::nn::{LayerNorm, Linear};
use burn::tensor::Tensor;
use safetensors::{Dtype, SafeTensors};

use crate::bundle::OwnedTensor;
use crate::nn::attention::{MultiHeadAttention, OutputProcess, SeqTransEncoder, TransformerEncoderLayer};
use crate::nn::length_estimator::LengthEstimator;
use crate::nn::mask_transformer::MaskTransformer;
use crate::nn::residual_transformer::{ProjectionTables, ResidualTransformer};
use crate::nn::vq::{Decoder, Encoder, ResConv1DBlock, Resnet1D, RvqVae};
use crate::nn::weights::{LoadError, WeightSource, transpose};

/// Row-major f32 values and their shape.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// Reference-keyed f32 tensors in memory: written by [`Saver`], read as a [`WeightSource`].
#[derive(Debug, Clone, Default)]
pub struct TensorMap {
    pub tensors: BTreeMap<String, NamedTensor>,
}

impl TensorMap {
    /// Every F32 tensor of a safetensors file (other dtypes are skipped: tokenizer blobs).
    pub fn from_safetensors(bytes: &[u8]) -> Result<Self, LoadError> {
        let file = SafeTensors::deserialize(bytes).map_err(|e| LoadError::Bad {
            name: "<safetensors>".into(),
            message: e.to_string(),
        })?;
        let mut tensors = BTreeMap::new();
        for (name, view) in file.tensors() {
            if view.dtype() != Dtype::F32 {
                continue;
            }
            let values = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            tensors.insert(
                name,
                NamedTensor {
                    shape: view.shape().to_vec(),
                    values,
                },
            );
        }
        Ok(Self { tensors })
    }

    /// Reads a safetensors file.
    pub fn open(path: &Path) -> Result<Self, LoadError> {
        let bytes = std::fs::read(path).map_err(|e| LoadError::Bad {
            name: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::from_safetensors(&bytes)
    }

    /// Names of the tensors, sorted.
    pub fn names(&self) -> Vec<String> {
        self.tensors.keys().cloned().collect()
    }

    /// Shape of `name`, if present.
    pub fn shape(&self, name: &str) -> Option<Vec<usize>> {
        self.tensors.get(name).map(|t| t.shape.clone())
    }

    /// Adds `other`'s tensors under `prefix.`.
    pub fn insert_all(&mut self, prefix: &str, other: TensorMap) {
        for (name, t) in other.tensors {
            self.tensors.insert(format!("{prefix}.{name}"), t);
        }
    }

    /// The tensors as bundle entries.
    pub fn to_owned_tensors(&self) -> BTreeMap<String, OwnedTensor> {
        self.tensors
            .iter()
            .map(|(name, t)| (name.clone(), OwnedTensor::f32(t.shape.clone(), &t.values)))
            .collect()
    }

    /// Writes a plain safetensors file (a training checkpoint).
    pub fn save(&self, path: &Path) -> Result<(), std::io::Error> {
        let owned = self.to_owned_tensors();
        let views = owned
            .iter()
            .map(|(name, t)| {
                safetensors::tensor::TensorView::new(t.dtype, t.shape.clone(), &t.data)
                    .map(|v| (name.clone(), v))
                    .map_err(|e| std::io::Error::other(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let bytes = safetensors::serialize(views, None).map_err(|e| std::io::Error::other(e.to_string()))?;
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, bytes)?;
        // Atomic replace: an interrupted run never leaves a half-written checkpoint.
        std::fs::rename(tmp, path)
    }
}

impl WeightSource for TensorMap {
    fn take(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, LoadError> {
        let t = self
            .tensors
            .get(name)
            .ok_or_else(|| LoadError::Missing(name.to_string()))?;
        if t.shape != shape {
            return Err(LoadError::Shape {
                name: name.to_string(),
                expected: shape.to_vec(),
                got: t.shape.clone(),
            });
        }
        Ok(t.values.clone())
    }
}

/// Writes modules' parameters under reference keys (the inverse of `Loader`).
pub struct Saver<'a> {
    out: &'a mut TensorMap,
    prefix: String,
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap_or_default()
}

impl<'a> Saver<'a> {
    pub fn new(out: &'a mut TensorMap) -> Self {
        Self {
            out,
            prefix: String::new(),
        }
    }

    pub fn sub(&mut self, prefix: &str) -> Saver<'_> {
        let prefix = self.key(prefix);
        Saver {
            out: &mut *self.out,
            prefix,
        }
    }

    fn key(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}.{}", self.prefix, name)
        }
    }

    pub fn values(&mut self, name: &str, shape: Vec<usize>, values: Vec<f32>) {
        let key = self.key(name);
        self.out.tensors.insert(key, NamedTensor { shape, values });
    }

    pub fn tensor<const D: usize>(&mut self, name: &str, shape: Vec<usize>, t: Tensor<D>) {
        self.values(name, shape, values(t));
    }

    /// `Linear` as PyTorch stores it: `weight (out, in)`, `bias (out)`.
    pub fn linear(&mut self, name: &str, linear: &Linear) {
        self.linear_packed(&format!("{name}.weight"), &format!("{name}.bias"), linear);
    }

    pub fn linear_packed(&mut self, weight: &str, bias: &str, linear: &Linear) {
        let [d_in, d_out] = linear.weight.val().dims();
        let w = values(linear.weight.val());
        self.values(weight, vec![d_out, d_in], transpose(&w, d_in, d_out));
        if let Some(b) = &linear.bias {
            self.tensor(bias, vec![d_out], b.val());
        }
    }

    pub fn layer_norm(&mut self, name: &str, norm: &LayerNorm) {
        let d = norm.gamma.val().dims()[0];
        self.tensor(&format!("{name}.weight"), vec![d], norm.gamma.val());
        if let Some(beta) = &norm.beta {
            self.tensor(&format!("{name}.bias"), vec![d], beta.val());
        }
    }

    pub fn conv(&mut self, name: &str, conv: &Conv1d) {
        let dims = conv.weight.val().dims();
        self.tensor(&format!("{name}.weight"), dims.to_vec(), conv.weight.val());
        if let Some(b) = &conv.bias {
            self.tensor(&format!("{name}.bias"), vec![dims[0]], b.val());
        }
    }

    fn param3(&mut self, name: &str, p: &Param<Tensor<3>>) {
        self.tensor(name, p.val().dims().to_vec(), p.val());
    }
}

fn save_resnet(s: &mut Saver, r: &Resnet1D) {
    for (i, block) in r.blocks.iter().enumerate() {
        let ResConv1DBlock { conv1, conv2, .. } = block;
        let mut b = s.sub(&format!("model.{i}"));
        b.conv("conv1", conv1);
        b.conv("conv2", conv2);
    }
}

fn save_encoder(s: &mut Saver, e: &Encoder) {
    s.conv("model.0", &e.conv_in);
    for (i, stage) in e.down.iter().enumerate() {
        s.conv(&format!("model.{}.0", 2 + i), &stage.conv);
        save_resnet(&mut s.sub(&format!("model.{}.1", 2 + i)), &stage.res);
    }
    s.conv(&format!("model.{}", 2 + e.down.len()), &e.conv_out);
}

fn save_decoder(s: &mut Saver, d: &Decoder) {
    s.conv("model.0", &d.conv_in);
    for (i, stage) in d.up.iter().enumerate() {
        save_resnet(&mut s.sub(&format!("model.{}.0", 2 + i)), &stage.res);
        s.conv(&format!("model.{}.2", 2 + i), &stage.conv);
    }
    s.conv(&format!("model.{}", 2 + d.up.len()), &d.conv_mid);
    s.conv(&format!("model.{}", 4 + d.up.len()), &d.conv_out);
}

/// `encoder.*`, `decoder.*`, `quantizer.layers.<q>.codebook`.
pub fn save_vq(s: &mut Saver, vq: &RvqVae) {
    save_encoder(&mut s.sub("encoder"), &vq.encoder);
    save_decoder(&mut s.sub("decoder"), &vq.decoder);
    for q in 0..vq.num_quantizers {
        let book = vq.codebook(q);
        let shape = book.dims().to_vec();
        s.tensor(&format!("quantizer.layers.{q}.codebook"), shape, book);
    }
}

fn save_attention(s: &mut Saver, a: &MultiHeadAttention) {
    s.linear_packed("in_proj_weight", "in_proj_bias", &a.in_proj);
    s.linear("out_proj", &a.out_proj);
}

fn save_layer(s: &mut Saver, l: &TransformerEncoderLayer) {
    save_attention(&mut s.sub("self_attn"), &l.self_attn);
    s.linear("linear1", &l.linear1);
    s.linear("linear2", &l.linear2);
    s.layer_norm("norm1", &l.norm1);
    s.layer_norm("norm2", &l.norm2);
}

fn save_encoder_stack(s: &mut Saver, e: &SeqTransEncoder) {
    for (i, layer) in e.layers.iter().enumerate() {
        save_layer(&mut s.sub(&format!("seqTransEncoder.layers.{i}")), layer);
    }
}

fn save_output_process(s: &mut Saver, o: &OutputProcess) {
    s.linear("dense", &o.dense);
    s.layer_norm("LayerNorm", &o.layer_norm);
    s.linear("poseFinal", &o.pose_final);
}

fn save_position_table(s: &mut Saver, pe: &Param<Tensor<2>>) {
    let [rows, latent] = pe.val().dims();
    s.tensor("position_enc.pe", vec![rows, 1, latent], pe.val());
}

/// The masked transformer under its reference keys.
pub fn save_mask(s: &mut Saver, m: &MaskTransformer) {
    let dims = m.token_emb.val().dims();
    s.tensor("token_emb.weight", dims.to_vec(), m.token_emb.val());
    s.linear("input_process.poseEmbedding", &m.pose_embedding);
    s.linear("cond_emb", &m.cond_emb);
    save_position_table(s, &m.position_enc);
    save_encoder_stack(s, &m.seq_trans_encoder);
    save_output_process(&mut s.sub("output_process"), &m.output_process);
}

/// The residual transformer under its reference keys (`_sw` or plain tables).
pub fn save_res(s: &mut Saver, r: &ResidualTransformer) {
    match &r.tables {
        ProjectionTables::Shared(t) => {
            s.param3("token_embed_weight_", &t.token_embed_first);
            s.param3("embed_proj_shared_weight", &t.shared);
            s.param3("output_proj_weight_", &t.output_proj_last);
        }
        ProjectionTables::Plain(t) => {
            s.param3("token_embed_weight", &t.token_embed);
            s.param3("output_proj_weight", &t.output_proj);
            let dims = t.output_bias.val().dims();
            s.tensor("output_proj_bias", dims.to_vec(), t.output_bias.val());
        }
    }
    s.linear("input_process.poseEmbedding", &r.pose_embedding);
    s.linear("quant_emb", &r.quant_emb);
    s.linear("cond_emb", &r.cond_emb);
    save_position_table(s, &r.position_enc);
    save_encoder_stack(s, &r.seq_trans_encoder);
    save_output_process(&mut s.sub("output_process"), &r.output_process);
}

/// `output.{0,4,8,11}` linears and `output.{1,5,9}` norms.
pub fn save_length_estimator(s: &mut Saver, e: &LengthEstimator) {
    for (linear, idx) in e.linears.iter().zip([0, 4, 8, 11]) {
        s.linear(&format!("output.{idx}"), linear);
    }
    for (norm, idx) in e.norms.iter().zip([1, 5, 9]) {
        s.layer_norm(&format!("output.{idx}"), norm);
    }
}
