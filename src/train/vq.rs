//! RVQ-VAE training (spec §7.1, quantizer behaviour §2.6): random 64-frame windows,
//! `L = SmoothL1(x̂, x) + 0.5·SmoothL1 on the RIC positions + 0.02·commit`, codebooks updated by
//! EMA (μ = 0.99) with dead-code reset, stochastic (Gumbel, temperature 0.5) code choice,
//! quantize dropout, straight-through gradients, AdamW.

use burn::tensor::{Device, Int, Tensor, TensorData};

use super::common::{TrainError, scalar, smooth_l1, to_vec};
use crate::nn::vq::RvqVae;
use crate::sample::rng::Rng;

/// Quantizer training hyper-parameters (spec §2.6).
#[derive(Debug, Clone)]
pub struct QuantizerTraining {
    pub mu: f32,
    pub temperature: f32,
    pub dropout_prob: f32,
}

impl Default for QuantizerTraining {
    fn default() -> Self {
        Self {
            mu: 0.99,
            temperature: 0.5,
            dropout_prob: 0.2,
        }
    }
}

/// The EMA state of one codebook (not saved in checkpoints by the reference; saved by us only
/// as the codebook itself).
#[derive(Debug, Clone)]
struct EmaCodebook {
    codebook: Vec<f32>,
    code_sum: Vec<f32>,
    code_count: Vec<f32>,
    initialised: bool,
}

/// The residual quantizer in training mode, holding the codebooks on the host.
#[derive(Debug, Clone)]
pub struct TrainingQuantizer {
    pub nb_code: usize,
    pub code_dim: usize,
    layers: Vec<EmaCodebook>,
    pub opts: QuantizerTraining,
}

/// One forward's quantizer results.
pub struct QuantizeOut {
    /// Straight-through sum of the active layers' codes, `[B, C, N]`.
    pub quantized: Tensor<3>,
    /// Mean over active layers of `MSE(r, c)`.
    pub commit: Tensor<1>,
    /// Mean perplexity of code usage over active layers.
    pub perplexity: f64,
    /// Active layers this step.
    pub active: usize,
}

impl TrainingQuantizer {
    /// From the network's current codebooks; `initialised` = they are trained already (resume).
    pub fn new(vq: &RvqVae, initialised: bool, opts: QuantizerTraining) -> Self {
        let code_dim = vq.codebooks.val().dims()[1];
        let layers = (0..vq.num_quantizers)
            .map(|q| {
                let codebook = to_vec(vq.codebook(q));
                EmaCodebook {
                    code_sum: codebook.clone(),
                    code_count: vec![1.0; vq.nb_code],
                    codebook,
                    initialised,
                }
            })
            .collect();
        Self {
            nb_code: vq.nb_code,
            code_dim,
            layers,
            opts,
        }
    }

    /// Writes the trained codebooks into the network (for export and evaluation).
    pub fn store(&self, vq: &mut RvqVae, device: &Device) {
        let mut books = Vec::with_capacity((self.layers.len() * self.nb_code + 1) * self.code_dim);
        for layer in &self.layers {
            books.extend_from_slice(&layer.codebook);
        }
        books.extend(std::iter::repeat_n(0.0, self.code_dim));
        let rows = self.layers.len() * self.nb_code + 1;
        let t = Tensor::<2>::from_data(TensorData::new(books, [rows, self.code_dim]), device);
        vq.codebooks = burn::module::Param::from_tensor(t).set_require_grad(false);
    }

    /// `ResidualVQ.forward` in training mode over `z [B, C, N]`.
    pub fn forward(&mut self, z: Tensor<3>, rng: &mut Rng) -> QuantizeOut {
        let [b, c, n] = z.dims();
        let rows = b * n;
        let device = z.device();
        let q_total = self.layers.len();
        let active = if rng.uniform_f32() < self.opts.dropout_prob {
            rng.below(q_total) + 1
        } else {
            q_total
        };
        let mut residual = z.swap_dims(1, 2).reshape([rows, c]);
        let mut quantized: Option<Tensor<2>> = None;
        let mut commit: Option<Tensor<1>> = None;
        let mut perplexity = 0.0;
        let (k, mu, temp) = (self.nb_code, self.opts.mu, self.opts.temperature);
        for layer in self.layers.iter_mut().take(active) {
            let r_host = to_vec(residual.clone().detach());
            if !layer.initialised {
                layer.codebook = tiled_rows(&r_host, rows, c, k, Some(rng));
                layer.code_sum = layer.codebook.clone();
                layer.code_count = vec![1.0; k];
                layer.initialised = true;
            }
            // Distances on the host: |r|² − 2 r·c + |c|², then argmax(−d/T + Gumbel).
            let book = Tensor::<2>::from_data(TensorData::new(layer.codebook.clone(), [k, c]), &device);
            let r_det = residual.clone().detach();
            let dist = r_det.clone().powi_scalar(2).sum_dim(1) - r_det.matmul(book.clone().transpose()) * 2.0
                + book.clone().powi_scalar(2).sum_dim(1).reshape([1, k]);
            let dist = to_vec(dist);
            let mut idx = vec![0i64; rows];
            let mut counts = vec![0f32; k];
            for (row, chosen) in idx.iter_mut().enumerate() {
                let d = &dist[row * k..(row + 1) * k];
                let mut best = (f32::NEG_INFINITY, 0usize);
                for (j, &dj) in d.iter().enumerate() {
                    let score = if temp > 0.0 {
                        -dj / temp + rng.gumbel()
                    } else {
                        -dj
                    };
                    if score > best.0 {
                        best = (score, j);
                    }
                }
                *chosen = best.1 as i64;
                counts[best.1] += 1.0;
            }
            // EMA update with dead-code reset.
            let mut sums = vec![0f32; k * c];
            for (row, &j) in idx.iter().enumerate() {
                let j = j as usize;
                for (s, v) in sums[j * c..(j + 1) * c]
                    .iter_mut()
                    .zip(&r_host[row * c..(row + 1) * c])
                {
                    *s += v;
                }
            }
            let code_rand = tiled_rows(&r_host, rows, c, k, None);
            for j in 0..k {
                layer.code_count[j] = mu * layer.code_count[j] + (1.0 - mu) * counts[j];
                for d in 0..c {
                    let s = &mut layer.code_sum[j * c + d];
                    *s = mu * *s + (1.0 - mu) * sums[j * c + d];
                }
                for d in 0..c {
                    layer.codebook[j * c + d] = if layer.code_count[j] >= 1.0 {
                        layer.code_sum[j * c + d] / layer.code_count[j]
                    } else {
                        code_rand[j * c + d]
                    };
                }
            }
            let total = rows as f32;
            let entropy: f32 = counts
                .iter()
                .map(|&n| {
                    let p = n / total;
                    -p * (p + 1e-7).ln()
                })
                .sum();
            perplexity += entropy.exp() as f64;
            // The chosen codes (the codebook before this step's update, as the reference
            // dequantizes before updating).
            let index = Tensor::<1, Int>::from_data(TensorData::new(idx, [rows]), &device);
            let codes = book.select(0, index);
            let layer_commit = (residual.clone() - codes.clone()).powi_scalar(2).mean();
            let straight = residual.clone() + (codes.clone() - residual.clone()).detach();
            quantized = Some(match quantized {
                Some(q) => q + straight,
                None => straight,
            });
            commit = Some(match commit {
                Some(cm) => cm + layer_commit,
                None => layer_commit,
            });
            residual = residual - codes;
        }
        let quantized = quantized.unwrap_or_else(|| Tensor::zeros([rows, c], &device));
        let commit = commit.unwrap_or_else(|| Tensor::zeros([1], &device)) / active as f32;
        QuantizeOut {
            quantized: quantized.reshape([b, n, c]).swap_dims(1, 2),
            commit,
            perplexity: perplexity / active as f64,
            active,
        }
    }
}

/// The reference's `_tile`: repeat the rows until there are ≥ k (adding N(0, 0.01/√C) noise to
/// the copies when `noise` is given), then take the first k.
fn tiled_rows(x: &[f32], rows: usize, c: usize, k: usize, noise: Option<&mut Rng>) -> Vec<f32> {
    if rows >= k {
        return x[..k * c].to_vec();
    }
    let reps = k.div_ceil(rows);
    let mut out = Vec::with_capacity(reps * rows * c);
    for _ in 0..reps {
        out.extend_from_slice(x);
    }
    if let Some(rng) = noise {
        let std = 0.01 / (c as f32).sqrt();
        for v in out.iter_mut() {
            *v += std * rng.normal();
        }
    }
    out.truncate(k * c);
    out
}

/// Losses of one VQ training step.
pub struct VqLosses {
    pub total: Tensor<1>,
    pub rec: f64,
    pub explicit: f64,
    pub commit: f64,
    pub perplexity: f64,
}

/// `SmoothL1(x̂, x)` over all features and over the RIC positions alone (`[B, T, D]` each).
fn reconstruction_losses(
    pred: Tensor<3>,
    x: Tensor<3>,
    ric: std::ops::Range<usize>,
) -> (Tensor<1>, Tensor<1>) {
    let [b, t, _] = pred.dims();
    let width = ric.end - ric.start;
    let rec = smooth_l1(pred.clone(), x.clone());
    let explicit = smooth_l1(
        pred.slice([0..b, 0..t, ric.clone()]),
        x.slice([0..b, 0..t, ric]).reshape([b, t, width]),
    );
    (rec, explicit)
}

/// One training forward: `x [B, T, D]` normalised windows.
pub fn vq_step(
    vq: &RvqVae,
    quantizer: &mut TrainingQuantizer,
    x: Tensor<3>,
    rng: &mut Rng,
    ric: std::ops::Range<usize>,
) -> Result<VqLosses, TrainError> {
    let z = vq.encode_latents(x.clone());
    let q = quantizer.forward(z, rng);
    let pred = vq.decoder.forward(q.quantized).swap_dims(1, 2);
    let (rec, explicit) = reconstruction_losses(pred, x, ric);
    let total = rec.clone() + explicit.clone() * 0.5 + q.commit.clone() * 0.02;
    Ok(VqLosses {
        total,
        rec: scalar(rec.detach()),
        explicit: scalar(explicit.detach()),
        commit: scalar(q.commit.detach()),
        perplexity: q.perplexity,
    })
}

/// Decoder fine-tuning step: ids from `frozen`'s inference encoder (nearest code per layer on
/// the residual, all layers, as [`RvqVae::encode`]), decoded by `vq`'s decoder;
/// `L = SmoothL1(x̂, x) + 0.5·SmoothL1 on the RIC positions`. Only the decoder gets gradients,
/// so the codes the transformers were trained on stay valid.
pub fn vq_decoder_step(
    vq: &RvqVae,
    frozen: &RvqVae,
    x: Tensor<3>,
    x_plain: Tensor<3>,
    ric: std::ops::Range<usize>,
) -> Result<VqLosses, TrainError> {
    let (ids, [b, n, q]) = pollster::block_on(frozen.encode(x_plain))?;
    let pred = vq.decode_ids(&ids, b, n, q);
    let (rec, explicit) = reconstruction_losses(pred, x, ric);
    let total = rec.clone() + explicit.clone() * 0.5;
    // Mean perplexity of code usage over the layers (a health signal only).
    let mut perplexity = 0.0;
    for layer in 0..q {
        let mut counts = vec![0f64; vq.nb_code];
        for codes in ids.chunks_exact(q) {
            counts[codes[layer] as usize] += 1.0;
        }
        let total = (b * n) as f64;
        let entropy: f64 = counts
            .iter()
            .filter(|&&c| c > 0.0)
            .map(|&c| -(c / total) * (c / total).ln())
            .sum();
        perplexity += entropy.exp() / q as f64;
    }
    Ok(VqLosses {
        total,
        rec: scalar(rec.detach()),
        explicit: scalar(explicit.detach()),
        commit: 0.0,
        perplexity,
    })
}
