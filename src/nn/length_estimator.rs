//! The length estimator (spec §5): text feature → logits over token lengths 0..49.
//! `output.{0,4,8,11}` Linear, `output.{1,5,9}` LayerNorm, LeakyReLU(0.2) between.

use burn::module::Module;
use burn::nn::{LayerNorm, Linear};
use burn::tensor::Tensor;
use burn::tensor::activation::leaky_relu;

use super::weights::{LoadError, Loader};
use crate::config::LengthEstimatorConfig;

#[derive(Module, Debug)]
pub struct LengthEstimator {
    pub linears: Vec<Linear>,
    pub norms: Vec<LayerNorm>,
}

impl LengthEstimator {
    const HIDDEN: [usize; 3] = [512, 256, 128];

    pub fn load(l: &mut Loader, c: &LengthEstimatorConfig) -> Result<Self, LoadError> {
        let dims = [
            c.input_size,
            Self::HIDDEN[0],
            Self::HIDDEN[1],
            Self::HIDDEN[2],
            c.output_size,
        ];
        let linear_idx = [0, 4, 8, 11];
        let norm_idx = [1, 5, 9];
        let mut linears = Vec::new();
        let mut norms = Vec::new();
        for (i, idx) in linear_idx.iter().enumerate() {
            linears.push(l.linear(&format!("output.{idx}"), dims[i], dims[i + 1], true)?);
        }
        for (i, idx) in norm_idx.iter().enumerate() {
            norms.push(l.layer_norm(&format!("output.{idx}"), dims[i + 1], 1e-5)?);
        }
        Ok(Self { linears, norms })
    }

    /// Logits `[B, classes]` over token lengths.
    pub fn forward(&self, text: Tensor<2>) -> Tensor<2> {
        let mut x = text;
        for (linear, norm) in self.linears.iter().zip(&self.norms) {
            x = leaky_relu(norm.forward(linear.forward(x)), 0.2);
        }
        self.linears[self.linears.len() - 1].forward(x)
    }
}
