//! What every trainer shares: the learning-rate schedule of spec §7, initialisation, the
//! run folder (checkpoint, resume state, CSV log, loss-curve PNG) and small loss helpers.

use std::path::{Path, PathBuf};

use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::data::DataError;
use super::export::TensorMap;
use crate::nn::weights::{LoadError, WeightSource, sinusoidal_table};
use crate::sample::rng::Rng;

#[derive(Debug, Error)]
pub enum TrainError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("{0}")]
    Invalid(String),
    #[error("i/o on {path}: {message}")]
    Io { path: String, message: String },
    #[error(transparent)]
    Log(#[from] super::log::LogError),
    #[error(transparent)]
    Generate(#[from] crate::Error),
    #[error(transparent)]
    Plot(#[from] super::plot::PlotError),
    #[error(transparent)]
    Metrics(#[from] crate::eval::metrics::MetricsError),
}

pub fn io_error(path: &Path, e: impl std::fmt::Display) -> TrainError {
    TrainError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Linear warm-up then multi-step decay (spec §7): for `it < warmup`,
/// `lr = base·(it+1)/(warmup+1)`; afterwards `base·gamma^(milestones passed)`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LrSchedule {
    pub base: f64,
    pub warmup: usize,
    pub milestones: Vec<usize>,
    pub gamma: f64,
}

impl LrSchedule {
    pub fn at(&self, it: usize) -> f64 {
        let decay = self
            .gamma
            .powi(self.milestones.iter().filter(|&&m| it >= m).count() as i32);
        if it < self.warmup {
            self.base * (it + 1) as f64 / (self.warmup + 1) as f64 * decay
        } else {
            self.base * decay
        }
    }
}

/// Training initialisation (spec §7.2): transformers get N(0, 0.02) weights and embeddings,
/// zero biases, LayerNorm (1, 0), the sinusoidal table; convolutions PyTorch's default
/// U(±1/√fan_in) for weights and biases.
pub struct TrainInit {
    rng: Rng,
}

impl TrainInit {
    pub fn new(seed: u64) -> Self {
        Self { rng: Rng::new(seed) }
    }
}

impl WeightSource for TrainInit {
    fn take(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, LoadError> {
        let count: usize = shape.iter().product();
        let leaf = name.rsplit('.').next().unwrap_or(name);
        let is_norm = name.contains("norm")
            || name.contains("LayerNorm")
            || name.starts_with("output.1")
            || name.contains("output.5")
            || name.contains("output.9");
        if name.ends_with("position_enc.pe") {
            return Ok(sinusoidal_table(shape[0], *shape.last().unwrap_or(&1)));
        }
        if name.contains("codebook") {
            // Replaced from the first batch (spec §2.6); any finite values do.
            return Ok((0..count).map(|_| self.rng.normal()).collect());
        }
        let fan_in: usize = shape.iter().skip(1).product::<usize>().max(1);
        let is_conv = shape.len() == 3 && (name.contains("encoder.") || name.contains("decoder."));
        let values = if is_conv || (name.contains("coder.") && leaf == "bias") {
            // PyTorch Conv1d default: kaiming_uniform(a=√5) → U(±1/√fan_in); the bias uses the
            // weight's fan-in, which a bias key alone does not know: 1/√(3·width) is close.
            let fan = if leaf == "bias" { 3 * shape[0] } else { fan_in };
            let bound = 1.0 / (fan as f32).sqrt();
            (0..count)
                .map(|_| bound * (2.0 * self.rng.uniform_f32() - 1.0))
                .collect()
        } else if is_norm && shape.len() == 1 {
            vec![if leaf == "weight" { 1.0 } else { 0.0 }; count]
        } else if shape.len() == 1 || leaf.contains("bias") {
            vec![0.0; count]
        } else {
            (0..count).map(|_| 0.02 * self.rng.normal()).collect()
        };
        Ok(values)
    }
}

/// Where a stage writes: `latest.safetensors` (weights under reference keys), `state.json`,
/// `<stage>.csv`, `<stage>.png`.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub dir: PathBuf,
    pub stage: String,
}

/// What `state.json` records for resuming.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunState {
    pub stage: String,
    /// Iterations completed.
    pub step: usize,
    pub seed: u64,
    /// Best validation metric so far (lower is better) and its step.
    pub best: Option<(f64, usize)>,
    /// Wall seconds spent so far, over all resumes.
    pub seconds: f64,
    /// Stage-specific extras (e.g. the training options used).
    #[serde(default)]
    pub extra: serde_json::Value,
}

impl RunDir {
    pub fn new(out: &Path, stage: &str) -> Result<Self, TrainError> {
        std::fs::create_dir_all(out).map_err(|e| io_error(out, e))?;
        Ok(Self {
            dir: out.to_path_buf(),
            stage: stage.to_string(),
        })
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn latest(&self) -> PathBuf {
        self.path("latest.safetensors")
    }

    pub fn best(&self) -> PathBuf {
        self.path("best.safetensors")
    }

    /// The saved state and weights, if a previous run left them.
    pub fn resume(&self) -> Result<Option<(RunState, TensorMap)>, TrainError> {
        let state_path = self.path("state.json");
        if !state_path.exists() || !self.latest().exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&state_path).map_err(|e| io_error(&state_path, e))?;
        let state: RunState = serde_json::from_str(&text).map_err(|e| io_error(&state_path, e))?;
        if state.stage != self.stage {
            return Err(TrainError::Invalid(format!(
                "{} holds a '{}' run, not '{}'",
                self.dir.display(),
                state.stage,
                self.stage
            )));
        }
        Ok(Some((state, TensorMap::open(&self.latest())?)))
    }

    /// Writes weights then state (the state names a checkpoint that exists).
    pub fn save(&self, weights: &TensorMap, state: &RunState, best: bool) -> Result<(), TrainError> {
        weights
            .save(&self.latest())
            .map_err(|e| io_error(&self.latest(), e))?;
        if best {
            weights
                .save(&self.best())
                .map_err(|e| io_error(&self.best(), e))?;
        }
        let path = self.path("state.json");
        let json = serde_json::to_string_pretty(state).map_err(|e| io_error(&path, e))?;
        std::fs::write(&path, json).map_err(|e| io_error(&path, e))
    }
}

/// Cross-entropy over the last axis of `logits [B, N, C]` against `targets` (row-major `[B·N]`),
/// averaged over positions whose `weight` is 1; returns (loss, number of positions).
pub fn masked_cross_entropy(
    logits: Tensor<3>,
    targets: &[i64],
    weight: &[f32],
    device: &Device,
) -> (Tensor<1>, f32) {
    let [b, n, c] = logits.dims();
    let count: f32 = weight.iter().sum::<f32>().max(1.0);
    let logp = log_softmax(logits.reshape([b * n, c]), 1);
    let t = Tensor::<2, Int>::from_data(TensorData::new(targets.to_vec(), [b * n, 1]), device);
    let w = Tensor::<2>::from_data(TensorData::new(weight.to_vec(), [b * n, 1]), device);
    let picked = logp.gather(1, t) * w;
    (picked.sum().neg() / count, count)
}

/// Smooth L1 (β = 1), mean over elements.
pub fn smooth_l1(pred: Tensor<3>, target: Tensor<3>) -> Tensor<1> {
    let a = (pred - target).abs();
    let quad = a.clone().clamp_max(1.0);
    (quad.clone() * (a - quad * 0.5)).mean()
}

/// Scalar value of a one-element tensor.
pub fn scalar(t: Tensor<1>) -> f64 {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .ok()
        .and_then(|v| v.first().copied())
        .unwrap_or(f32::NAN) as f64
}

/// Row-major f32 values of a tensor.
pub fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap_or_default()
}

/// Top-1 accuracy of `logits [B, N, C]` on positions with weight 1.
pub fn masked_accuracy(logits: Tensor<3>, targets: &[i64], weight: &[f32]) -> f64 {
    let [b, n, _] = logits.dims();
    let pred = logits.argmax(2).reshape([b * n]);
    let pred: Vec<i64> = pred
        .into_data()
        .convert::<i64>()
        .try_into_vec::<i64>()
        .unwrap_or_default();
    let (mut hit, mut total) = (0.0, 0.0);
    for ((p, t), w) in pred.iter().zip(targets).zip(weight) {
        if *w > 0.0 {
            total += 1.0;
            if p == t {
                hit += 1.0;
            }
        }
    }
    if total > 0.0 { hit / total } else { 0.0 }
}
