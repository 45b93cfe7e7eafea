//! The evaluator for the procedural world (spec §8.2's role, our own networks): a motion
//! encoder and a text head matched contrastively into one embedding space (as Guo et al.'s
//! text-motion matching model), plus an action classifier on the motion embedding whose
//! accuracy scores generated motions. Text goes through the frozen MiniLM, like the generator,
//! then a trained head; motions are the 263-d features z-normalised with the dataset stats.
//!
//! ```text
//! motion [B,T,263] ─conv k4 s2─▶ ─conv k4 s2─▶ ─conv k3─▶ masked mean over time ─▶ MLP ─▶ em (unit)
//! caption ─MiniLM─▶ 384 ─▶ MLP ─▶ et (unit)                      em ─▶ linear ─▶ action logits
//! ```

use burn::module::{Module, Param};
use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig1d};
use burn::tensor::activation::leaky_relu;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::export::{Saver, TensorMap};
use crate::nn::weights::{LoadError, Loader};

/// Evaluator sizes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluatorConfig {
    pub dim_pose: usize,
    pub text_dim: usize,
    pub hidden: usize,
    pub embed: usize,
    pub classes: usize,
}

impl EvaluatorConfig {
    pub fn new(dim_pose: usize, text_dim: usize, classes: usize) -> Self {
        Self {
            dim_pose,
            text_dim,
            hidden: 256,
            embed: 128,
            classes,
        }
    }
}

#[derive(Module, Debug)]
pub struct Evaluator {
    pub conv1: Conv1d,
    pub conv2: Conv1d,
    pub conv3: Conv1d,
    pub motion_head: Linear,
    pub motion_out: Linear,
    pub text_head: Linear,
    pub text_out: Linear,
    pub classifier: Linear,
    /// log(1/τ) of the contrastive loss (learned, as CLIP's).
    pub logit_scale: Param<Tensor<1>>,
}

fn conv(c_in: usize, c_out: usize, k: usize, stride: usize, device: &Device) -> Conv1d {
    Conv1dConfig::new(c_in, c_out, k)
        .with_stride(stride)
        .with_padding(PaddingConfig1d::Explicit(
            k / 2 - usize::from(k.is_multiple_of(2)),
            k / 2,
        ))
        .init(device)
}

impl Evaluator {
    pub fn new(c: &EvaluatorConfig, device: &Device) -> Self {
        Self {
            conv1: conv(c.dim_pose, c.hidden, 4, 2, device),
            conv2: conv(c.hidden, c.hidden, 4, 2, device),
            conv3: conv(c.hidden, c.hidden, 3, 1, device),
            motion_head: LinearConfig::new(c.hidden, c.hidden).init(device),
            motion_out: LinearConfig::new(c.hidden, c.embed).init(device),
            text_head: LinearConfig::new(c.text_dim, c.hidden).init(device),
            text_out: LinearConfig::new(c.hidden, c.embed).init(device),
            classifier: LinearConfig::new(c.embed, c.classes.max(1)).init(device),
            logit_scale: Param::from_tensor(Tensor::from_data(
                TensorData::new(vec![(1.0f32 / 0.07).ln()], [1]),
                device,
            )),
        }
    }

    /// Unit-norm motion embeddings `[B, embed]` of normalised motions `[B, T, D]` with
    /// `lengths` (frames; padding past them is ignored by the pooling).
    pub fn embed_motion(&self, motion: Tensor<3>, lengths: &[usize]) -> Tensor<2> {
        let [b, t, _] = motion.dims();
        let device = motion.device();
        let x = motion.swap_dims(1, 2);
        let x = leaky_relu(self.conv1.forward(x), 0.2);
        let x = leaky_relu(self.conv2.forward(x), 0.2);
        let x = leaky_relu(self.conv3.forward(x), 0.2); // [B, H, T/4]
        let [_, h, n] = x.dims();
        let weights: Vec<f32> = lengths
            .iter()
            .flat_map(|&len| {
                let valid = len.div_ceil(t.max(1) / n.max(1)).clamp(1, n);
                (0..n).map(move |i| if i < valid { 1.0 / valid as f32 } else { 0.0 })
            })
            .collect();
        let w = Tensor::<3>::from_data(TensorData::new(weights, [b, 1, n]), &device);
        let pooled = (x * w).sum_dim(2).reshape([b, h]);
        let e = self
            .motion_out
            .forward(leaky_relu(self.motion_head.forward(pooled), 0.2));
        l2_normalize(e)
    }

    /// Unit-norm text embeddings `[B, embed]` from MiniLM features `[B, text_dim]`.
    pub fn embed_text(&self, text: Tensor<2>) -> Tensor<2> {
        l2_normalize(
            self.text_out
                .forward(leaky_relu(self.text_head.forward(text), 0.2)),
        )
    }

    /// Action logits from motion embeddings.
    pub fn classify(&self, em: Tensor<2>) -> Tensor<2> {
        self.classifier.forward(em)
    }

    pub fn save(&self, s: &mut Saver) {
        for (name, c) in [
            ("conv1", &self.conv1),
            ("conv2", &self.conv2),
            ("conv3", &self.conv3),
        ] {
            s.conv(name, c);
        }
        for (name, l) in [
            ("motion_head", &self.motion_head),
            ("motion_out", &self.motion_out),
            ("text_head", &self.text_head),
            ("text_out", &self.text_out),
            ("classifier", &self.classifier),
        ] {
            s.linear(name, l);
        }
        s.tensor("logit_scale", vec![1], self.logit_scale.val());
    }

    pub fn load(l: &mut Loader, c: &EvaluatorConfig) -> Result<Self, LoadError> {
        let device = l.device().clone();
        let load_conv = |l: &mut Loader, name: &str, c_in: usize, c_out: usize, k: usize, stride: usize| {
            let mut layer = conv(c_in, c_out, k, stride, &device);
            layer.weight = Param::from_tensor(l.tensor(&format!("{name}.weight"), [c_out, c_in, k])?);
            layer.bias = Some(Param::from_tensor(l.tensor(&format!("{name}.bias"), [c_out])?));
            Ok::<_, LoadError>(layer)
        };
        Ok(Self {
            conv1: load_conv(l, "conv1", c.dim_pose, c.hidden, 4, 2)?,
            conv2: load_conv(l, "conv2", c.hidden, c.hidden, 4, 2)?,
            conv3: load_conv(l, "conv3", c.hidden, c.hidden, 3, 1)?,
            motion_head: l.linear("motion_head", c.hidden, c.hidden, true)?,
            motion_out: l.linear("motion_out", c.hidden, c.embed, true)?,
            text_head: l.linear("text_head", c.text_dim, c.hidden, true)?,
            text_out: l.linear("text_out", c.hidden, c.embed, true)?,
            classifier: l.linear("classifier", c.embed, c.classes.max(1), true)?,
            logit_scale: Param::from_tensor(l.tensor("logit_scale", [1])?),
        })
    }
}

fn l2_normalize(x: Tensor<2>) -> Tensor<2> {
    let norm = x.clone().powi_scalar(2).sum_dim(1).sqrt().clamp_min(1e-8);
    x / norm
}

/// The evaluator's weights, config and normalisation as one checkpoint map.
pub fn evaluator_map(e: &Evaluator, c: &EvaluatorConfig, labels: &[String]) -> TensorMap {
    let mut map = TensorMap::default();
    e.save(&mut Saver::new(&mut map).sub("evaluator"));
    let _ = (c, labels);
    map
}
