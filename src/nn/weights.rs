//! One weight-loading path for every network, native and web alike.
//!
//! Networks never read files: they ask a [`WeightSource`] for tensors by their **reference
//! key** (e.g. `seqTransEncoder.layers.0.linear1.weight`) and shape. A bundle (safetensors bytes,
//! possibly quantized) is one source; [`RandomWeights`] is another, used to build
//! official-size networks in memory for benchmarks and as the initialisation for training.
//! [`Loader`] does the layout work once: PyTorch `Linear` weights are `(out, in)`, burn's are
//! `[in, out]`.

use burn::module::Param;
use burn::nn::{LayerNorm, LayerNormConfig, Linear};
use burn::tensor::{Device, Tensor, TensorData};
use thiserror::Error;

/// Errors while building a network from weights.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum LoadError {
    #[error("tensor '{0}' is missing from the weights")]
    Missing(String),
    #[error("tensor '{name}' has shape {got:?}, expected {expected:?}")]
    Shape {
        name: String,
        expected: Vec<usize>,
        got: Vec<usize>,
    },
    #[error("tensor '{name}' has a non-finite value at element {index}")]
    NonFinite { name: String, index: usize },
    #[error("tensor '{name}' cannot be read: {message}")]
    Bad { name: String, message: String },
    #[error("weights contain tensors that no network uses: {0:?}")]
    Unused(Vec<String>),
}

/// Somewhere tensors come from, by reference key.
pub trait WeightSource {
    /// Returns the f32 values (row-major) of `name`, which must have exactly `shape`.
    fn take(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, LoadError>;
}

/// Weights drawn from a seeded normal distribution with std `1/sqrt(fan_in)` (biases and
/// LayerNorm shifts small, LayerNorm scales near 1), so that random networks behave like
/// trained ones numerically: used for `momask bench` and tests that need no files.
pub struct RandomWeights {
    rng: crate::sample::rng::Rng,
}

impl RandomWeights {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: crate::sample::rng::Rng::new(seed),
        }
    }
}

impl WeightSource for RandomWeights {
    fn take(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, LoadError> {
        let count: usize = shape.iter().product();
        // Normalisation statistics: identity (mean 0, std 1).
        if name.ends_with("norm.mean") {
            return Ok(vec![0.0; count]);
        }
        if name.ends_with("norm.std") {
            return Ok(vec![1.0; count]);
        }
        let leaf = name.rsplit('.').next().unwrap_or(name);
        let is_norm = name.contains("norm") || name.contains("ln_") || name.contains("LayerNorm");
        // Fan-in is the product of every dimension but the first: (out, in) or (out, in, k).
        let fan_in: usize = shape.iter().skip(1).product::<usize>().max(1);
        let values = match (shape.len(), leaf, is_norm) {
            (1, "weight", true) => (0..count).map(|_| 1.0 + 0.1 * self.rng.normal()).collect(),
            (1, _, _) => (0..count).map(|_| 0.02 * self.rng.normal()).collect(),
            _ => {
                let std = if name.ends_with("pe") {
                    return Ok(sinusoidal_table(shape[0], *shape.last().unwrap_or(&1)));
                } else if leaf.contains("embedding") || leaf.contains("emb") || name.contains("token_embed") {
                    1.0
                } else {
                    1.0 / (fan_in as f32).sqrt()
                };
                (0..count).map(|_| std * self.rng.normal()).collect()
            }
        };
        Ok(values)
    }
}

/// The sinusoidal position table of spec §3.3, `(rows, 1, dim)` flattened.
pub fn sinusoidal_table(rows: usize, dim: usize) -> Vec<f32> {
    let mut pe = vec![0f32; rows * dim];
    for p in 0..rows {
        for i in 0..dim / 2 {
            let div = ((2 * i) as f32 * (-(10000f32).ln() / dim as f32)).exp();
            pe[p * dim + 2 * i] = (p as f32 * div).sin();
            pe[p * dim + 2 * i + 1] = (p as f32 * div).cos();
        }
    }
    pe
}

/// Builds burn modules from a [`WeightSource`], resolving names under a key prefix.
pub struct Loader<'a> {
    source: &'a mut dyn WeightSource,
    device: Device,
    prefix: String,
}

impl<'a> Loader<'a> {
    pub fn new(source: &'a mut dyn WeightSource, device: &Device) -> Self {
        Self {
            source,
            device: device.clone(),
            prefix: String::new(),
        }
    }

    /// A loader for the keys under `prefix.`.
    pub fn sub(&mut self, prefix: &str) -> Loader<'_> {
        let prefix = self.key(prefix);
        Loader {
            source: &mut *self.source,
            device: self.device.clone(),
            prefix,
        }
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    fn key(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}.{}", self.prefix, name)
        }
    }

    /// Raw values of `name` with `shape`.
    pub fn values(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, LoadError> {
        let key = self.key(name);
        self.source.take(&key, shape)
    }

    /// A tensor of rank `D` stored with exactly `shape`.
    pub fn tensor<const D: usize>(&mut self, name: &str, shape: [usize; D]) -> Result<Tensor<D>, LoadError> {
        let values = self.values(name, &shape)?;
        Ok(Tensor::from_data(TensorData::new(values, shape), &self.device))
    }

    /// A PyTorch `nn.Linear` stored as `weight (out, in)` [+ `bias (out)`].
    pub fn linear(&mut self, name: &str, d_in: usize, d_out: usize, bias: bool) -> Result<Linear, LoadError> {
        let w = self.values(&format!("{name}.weight"), &[d_out, d_in])?;
        let weight = Tensor::<2>::from_data(
            TensorData::new(transpose(&w, d_out, d_in), [d_in, d_out]),
            &self.device,
        );
        let bias = if bias {
            Some(Param::from_tensor(self.tensor(&format!("{name}.bias"), [d_out])?))
        } else {
            None
        };
        Ok(Linear {
            weight: Param::from_tensor(weight),
            bias,
        })
    }

    /// A linear layer stored under explicit weight/bias keys (MHA's packed `in_proj_weight`).
    pub fn linear_packed(
        &mut self,
        weight: &str,
        bias: &str,
        d_in: usize,
        d_out: usize,
    ) -> Result<Linear, LoadError> {
        let w = self.values(weight, &[d_out, d_in])?;
        let weight = Tensor::<2>::from_data(
            TensorData::new(transpose(&w, d_out, d_in), [d_in, d_out]),
            &self.device,
        );
        let bias = Param::from_tensor(self.tensor(bias, [d_out])?);
        Ok(Linear {
            weight: Param::from_tensor(weight),
            bias: Some(bias),
        })
    }

    /// A PyTorch `nn.LayerNorm(d)` with its `weight`/`bias`.
    pub fn layer_norm(&mut self, name: &str, d: usize, epsilon: f64) -> Result<LayerNorm, LoadError> {
        let mut norm = LayerNormConfig::new(d).with_epsilon(epsilon).init(&self.device);
        norm.gamma = Param::from_tensor(self.tensor(&format!("{name}.weight"), [d])?);
        norm.beta = Some(Param::from_tensor(self.tensor(&format!("{name}.bias"), [d])?));
        Ok(norm)
    }
}

/// Row-major `(rows, cols)` → `(cols, rows)`.
pub fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0f32; values.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = values[r * cols + c];
        }
    }
    out
}
