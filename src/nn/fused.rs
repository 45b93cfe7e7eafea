//! A fused forward of MoMask's post-norm encoder stack for the CPU backend.
//!
//! burn-flex runs a layer as ~25 separate ops, each allocating its output; the permutes that
//! split heads copy, and its GELU calls a scalar `erff` per element. At official size (8 layers,
//! width 384, batch 2 × 50 tokens) that overhead is as large as the matrix products. Here one
//! layer is four GEMMs (the `gemm` crate burn-flex itself uses; split across cores natively)
//! with their biases, residuals, GELU and LayerNorms applied in place, and attention done per head
//! on strided views of the packed QKV rows. Same math as [`super::attention`] in f32; only the
//! summation order differs (≤ 1e-6 relative), checked against the burn path in the tests.
//!
//! The weights are copied out of the burn modules once ([`FusedEncoder::from_layers`]); the
//! modules stay, so the burn path remains available (GPU, training).

use std::sync::Arc;

use burn::tensor::{Tensor, TensorData};

use super::attention::TransformerEncoderLayer;

/// One post-norm layer's weights, row-major, as `x · W` takes them (`[in, out]`).
#[derive(Debug)]
struct FusedLayer {
    w_qkv: Vec<f32>,
    b_qkv: Vec<f32>,
    w_out: Vec<f32>,
    b_out: Vec<f32>,
    w1: Vec<f32>,
    b1: Vec<f32>,
    w2: Vec<f32>,
    b2: Vec<f32>,
    norm1: (Vec<f32>, Vec<f32>),
    norm2: (Vec<f32>, Vec<f32>),
}

/// The encoder stack in host memory.
#[derive(Debug)]
pub struct FusedEncoder {
    layers: Vec<FusedLayer>,
    d_model: usize,
    n_heads: usize,
    ff: usize,
    eps: f32,
}

/// Shared handle kept next to the burn modules (cheap to clone with the model).
pub type FusedHandle = Option<Arc<FusedEncoder>>;

fn host(t: Tensor<1>) -> Option<Vec<f32>> {
    t.try_into_data()
        .ok()?
        .convert::<f32>()
        .try_into_vec::<f32>()
        .ok()
}

fn host2(t: Tensor<2>) -> Option<Vec<f32>> {
    t.try_into_data()
        .ok()?
        .convert::<f32>()
        .try_into_vec::<f32>()
        .ok()
}

impl FusedEncoder {
    /// Copies the weights out of `layers` (CPU device: the reads are synchronous). `None` if a
    /// layer lacks a bias or a LayerNorm shift: the reference layers always have them.
    pub fn from_layers(layers: &[TransformerEncoderLayer], n_heads: usize, eps: f32) -> Option<Self> {
        let first = layers.first()?;
        let [d_model, ff] = first.linear1.weight.val().dims();
        let bias = |l: &burn::nn::Linear| l.bias.as_ref().and_then(|b| host(b.val()));
        let norm = |n: &burn::nn::LayerNorm| Some((host(n.gamma.val())?, host(n.beta.as_ref()?.val())?));
        let fused = layers
            .iter()
            .map(|l| {
                Some(FusedLayer {
                    w_qkv: host2(l.self_attn.in_proj.weight.val())?,
                    b_qkv: bias(&l.self_attn.in_proj)?,
                    w_out: host2(l.self_attn.out_proj.weight.val())?,
                    b_out: bias(&l.self_attn.out_proj)?,
                    w1: host2(l.linear1.weight.val())?,
                    b1: bias(&l.linear1)?,
                    w2: host2(l.linear2.weight.val())?,
                    b2: bias(&l.linear2)?,
                    norm1: norm(&l.norm1)?,
                    norm2: norm(&l.norm2)?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Self {
            layers: fused,
            d_model,
            n_heads,
            ff,
            eps,
        })
    }

    /// Runs the stack on `h: [B, L, D]` with `key_padded[b·L + j]` true where key j of sample b
    /// is padding (never attended to). Returns `[B, L, D]` on the same device, or `None` when
    /// `h` cannot be read synchronously (not on the CPU backend): the caller then uses burn's ops.
    pub fn forward(&self, h: &Tensor<3>, key_padded: &[bool]) -> Option<Tensor<3>> {
        let [b, l, d] = h.dims();
        if d != self.d_model || key_padded.len() != b * l {
            return None;
        }
        let mut x: Vec<f32> = h
            .clone()
            .try_into_data()
            .ok()?
            .convert::<f32>()
            .try_into_vec::<f32>()
            .ok()?;
        self.forward_host(&mut x, b, l, key_padded);
        Some(Tensor::from_data(TensorData::new(x, [b, l, d]), &h.device()))
    }

    /// The stack on host rows `x: [B·L, D]`, in place.
    pub fn forward_host(&self, x: &mut [f32], b: usize, l: usize, key_padded: &[bool]) {
        let (d, ff) = (self.d_model, self.ff);
        let rows = b * l;
        debug_assert_eq!(x.len(), rows * d);
        debug_assert_eq!(key_padded.len(), rows);
        let mut qkv = vec![0f32; rows * 3 * d];
        let mut attn = vec![0f32; rows * d];
        let mut hidden = vec![0f32; rows * ff];
        for layer in &self.layers {
            // qkv = x·W_in + b_in
            fill_rows(&mut qkv, &layer.b_qkv);
            matmul_acc(&mut qkv, x, &layer.w_qkv, rows, d, 3 * d);
            attention(&qkv, &mut attn, b, l, d, self.n_heads, key_padded);
            // x = norm1(x + attn·W_out + b_out)
            add_bias_rows(x, &layer.b_out);
            matmul_acc(x, &attn, &layer.w_out, rows, d, d);
            layer_norm_rows(x, &layer.norm1.0, &layer.norm1.1, self.eps);
            // x = norm2(x + gelu(x·W1 + b1)·W2 + b2)
            fill_rows(&mut hidden, &layer.b1);
            matmul_acc(&mut hidden, x, &layer.w1, rows, d, ff);
            gelu_in_place(&mut hidden);
            add_bias_rows(x, &layer.b2);
            matmul_acc(x, &hidden, &layer.w2, rows, ff, d);
            layer_norm_rows(x, &layer.norm2.0, &layer.norm2.1, self.eps);
        }
    }
}

/// Every row of `dst` (width `bias.len()`) set to `bias`.
fn fill_rows(dst: &mut [f32], bias: &[f32]) {
    for row in dst.chunks_exact_mut(bias.len()) {
        row.copy_from_slice(bias);
    }
}

fn add_bias_rows(dst: &mut [f32], bias: &[f32]) {
    for row in dst.chunks_exact_mut(bias.len()) {
        for (o, v) in row.iter_mut().zip(bias) {
            *o += v;
        }
    }
}

/// `dst[m, n] += a[m, k] · w[k, n]`, all row-major.
fn matmul_acc(dst: &mut [f32], a: &[f32], w: &[f32], m: usize, k: usize, n: usize) {
    debug_assert_eq!(dst.len(), m * n);
    debug_assert_eq!(a.len(), m * k);
    debug_assert_eq!(w.len(), k * n);
    // SAFETY: the slices hold exactly m·n, m·k and k·n elements (asserted above), addressed
    // with row strides n, k and n and unit column strides.
    let gemm_cols = |dst: *mut f32, w: *const f32, cols: usize, par: gemm::Parallelism| unsafe {
        gemm::gemm(
            m,
            cols,
            k,
            dst,
            1,
            n as isize,
            true,
            a.as_ptr(),
            1,
            k as isize,
            w,
            1,
            n as isize,
            1.0f32,
            1.0f32,
            false,
            false,
            false,
            par,
        )
    };
    #[cfg(not(target_family = "wasm"))]
    {
        let threads = rayon::current_num_threads();
        if threads > 1 && m * n * k >= 1 << 20 {
            // Column blocks, one per thread: each is an independent GEMM (no shared writes).
            let block = n.div_ceil(threads).next_multiple_of(16);
            let dst_ptr = SendPtr(dst.as_mut_ptr());
            let w_ptr = SendConstPtr(w.as_ptr());
            rayon::scope(|s| {
                for start in (0..n).step_by(block) {
                    let cols = block.min(n - start);
                    let (dst_ptr, w_ptr) = (dst_ptr, w_ptr);
                    s.spawn(move |_| {
                        // SAFETY: column ranges are disjoint and inside the matrices.
                        let (d, w) = unsafe { (dst_ptr.get().add(start), w_ptr.get().add(start)) };
                        gemm_cols(d, w, cols, gemm::Parallelism::None);
                    });
                }
            });
            return;
        }
    }
    gemm_cols(dst.as_mut_ptr(), w.as_ptr(), n, gemm::Parallelism::None);
}

/// A pointer handed to worker threads that write disjoint parts of one buffer.
#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
// SAFETY: every user writes a region no other thread touches (column blocks, head columns).
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}
impl SendPtr {
    /// Through a method, so closures capture the wrapper (Send), not its raw field.
    fn get(self) -> *mut f32 {
        self.0
    }
}
#[cfg(not(target_family = "wasm"))]
#[derive(Clone, Copy)]
struct SendConstPtr(*const f32);
// SAFETY: only read.
#[cfg(not(target_family = "wasm"))]
unsafe impl Send for SendConstPtr {}
#[cfg(not(target_family = "wasm"))]
unsafe impl Sync for SendConstPtr {}
#[cfg(not(target_family = "wasm"))]
impl SendConstPtr {
    fn get(self) -> *const f32 {
        self.0
    }
}

/// Multi-head self-attention on packed rows `qkv: [B·L, 3D]` (q | k | v) into `out: [B·L, D]`,
/// one (sample, head) pair per task. Padded keys get weight exactly 0, as the reference's −1e9
/// bias gives after `exp` underflows.
fn attention(qkv: &[f32], out: &mut [f32], b: usize, l: usize, d: usize, heads: usize, key_padded: &[bool]) {
    debug_assert_eq!(qkv.len(), b * l * 3 * d);
    debug_assert_eq!(out.len(), b * l * d);
    let out_ptr = SendPtr(out.as_mut_ptr());
    let one = |task: usize, scores: &mut Vec<f32>| {
        let (s, h) = (task / heads, task % heads);
        let padded = &key_padded[s * l..(s + 1) * l];
        // SAFETY: each (sample, head) task writes only its own rows × head columns of `out`.
        unsafe { attend_head(qkv, out_ptr, s, h, l, d, heads, padded, scores) }
    };
    let tasks = b * heads;
    #[cfg(not(target_family = "wasm"))]
    if rayon::current_num_threads() > 1 && tasks > 1 {
        use rayon::prelude::*;
        (0..tasks)
            .into_par_iter()
            .for_each_init(|| vec![0f32; l * l], |scores, t| one(t, scores));
        return;
    }
    let mut scores = vec![0f32; l * l];
    for t in 0..tasks {
        one(t, &mut scores);
    }
}

/// `softmax(Q Kᵀ / √dh) V` for sample `s`, head `h`, written to `out`'s rows of that sample at
/// the head's columns.
///
/// # Safety
/// `out` must point to `[B·L, D]` floats, and no other thread may write this sample's rows at
/// this head's columns meanwhile.
#[allow(clippy::too_many_arguments)]
unsafe fn attend_head(
    qkv: &[f32],
    out: SendPtr,
    s: usize,
    h: usize,
    l: usize,
    d: usize,
    heads: usize,
    padded: &[bool],
    scores: &mut Vec<f32>,
) {
    let dh = d / heads;
    let stride = 3 * d as isize;
    let rows = &qkv[s * l * 3 * d..(s + 1) * l * 3 * d];
    let (q, k, v) = (rows.as_ptr(), rows[d..].as_ptr(), rows[2 * d..].as_ptr());
    scores.resize(l * l, 0.0);
    // SAFETY: the q/k/v views stay inside `rows` (l rows of stride 3D, dh columns from the
    // head's offset); `scores` holds l × l.
    unsafe {
        gemm::gemm(
            l,
            l,
            dh,
            scores.as_mut_ptr(),
            1,
            l as isize,
            false,
            q.add(h * dh),
            1,
            stride,
            k.add(h * dh),
            stride,
            1,
            0.0f32,
            1.0f32 / (dh as f32).sqrt(),
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
    for row in scores.chunks_exact_mut(l) {
        let mut max = f32::NEG_INFINITY;
        for (x, &p) in row.iter_mut().zip(padded) {
            if p {
                *x = f32::NEG_INFINITY;
            }
            max = max.max(*x);
        }
        let mut sum = 0f32;
        for x in row.iter_mut() {
            *x = (*x - max).exp();
            sum += *x;
        }
        let inv = 1.0 / sum;
        for x in row.iter_mut() {
            *x *= inv;
        }
    }
    // SAFETY: `out` rows s·L.. of width D at this head's dh columns (the caller's contract).
    unsafe {
        gemm::gemm(
            l,
            dh,
            l,
            out.get().add(s * l * d + h * dh),
            1,
            d as isize,
            false,
            scores.as_ptr(),
            1,
            l as isize,
            v.add(h * dh),
            1,
            stride,
            0.0f32,
            1.0f32,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// LayerNorm over each row (biased variance, as PyTorch).
fn layer_norm_rows(x: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
    let n = gamma.len();
    for row in x.chunks_exact_mut(n) {
        let mean = row.iter().sum::<f32>() / n as f32;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for ((v, g), bb) in row.iter_mut().zip(gamma).zip(beta) {
            *v = (*v - mean) * inv * g + bb;
        }
    }
}

/// erf GELU, `0.5·x·(1 + erf(x/√2))`, with a branch-free erf so the loop vectorises.
pub(crate) fn gelu_in_place(x: &mut [f32]) {
    for v in x.iter_mut() {
        *v = 0.5 * *v * (1.0 + erf(*v * std::f32::consts::FRAC_1_SQRT_2));
    }
}

/// erf(x) = x·P(x²)/Q(x²) on |x| ≤ 3.925 (beyond it erf rounds to ±1 in f32); a rational fit
/// made for this crate (least squares, then checked in f32 arithmetic): max abs error 3.7e-7,
/// against libm's erff (burn-flex's GELU) which is within a few ulps but scalar and branchy.
#[inline(always)]
// P[0] is the fit's value, not 2/√π rounded: the coefficients were fitted together.
#[allow(clippy::approx_constant)]
fn erf(x: f32) -> f32 {
    const P: [f32; 6] = [
        1.128_379_1,
        0.189_417_97,
        0.052_660_942,
        0.003_736_114_8,
        0.000_286_485_74,
        2.086_867_9e-6,
    ];
    const Q: [f32; 6] = [
        1.0,
        0.501_199_54,
        0.113_740_28,
        0.014_906_639,
        0.001_159_699_9,
        3.855_764e-5,
    ];
    let c = x.clamp(-3.925, 3.925);
    let t = c * c;
    let p = ((((P[5] * t + P[4]) * t + P[3]) * t + P[2]) * t + P[1]) * t + P[0];
    let q = ((((Q[5] * t + Q[4]) * t + Q[3]) * t + Q[2]) * t + Q[1]) * t + Q[0];
    (c * p / q).clamp(-1.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ModelConfig;
    use crate::model::MoMask;
    use burn::tensor::{Bool, Device, Int};

    /// Mask- and residual-transformer logits through the fused stack vs burn's ops, on a padded
    /// batch (sample 1 shorter), for the fixture's and the demo model's sizes.
    #[test]
    fn fused_encoder_matches_burn_ops() {
        for config in [ModelConfig::fixture_small(), ModelConfig::demo()] {
            let device = Device::flex();
            let mut model = MoMask::random(config, 7, &device).expect("random model");
            let (b, n) = (2usize, 13usize);
            let v = model.config.mask.num_tokens as i64;
            let ids: Vec<i64> = (0..b * n).map(|i| (i as i64 * 37) % (v + 1)).collect();
            let lengths = [n, 9];
            let padded: Vec<bool> = (0..b * n).map(|i| i % n >= lengths[i / n]).collect();
            let cond_dim = model.config.mask.clip_dim;
            let cond_values: Vec<f32> = (0..b * cond_dim)
                .map(|i| ((i * 13 % 17) as f32 - 8.0) / 8.0)
                .collect();
            let run = |model: &MoMask| {
                let ids = Tensor::<1, Int>::from_ints(ids.as_slice(), &device).reshape([b, n]);
                let cond = Tensor::<1>::from_floats(cond_values.as_slice(), &device).reshape([b, cond_dim]);
                let pad = Tensor::<1, Bool>::from_bool(TensorData::new(padded.clone(), [b * n]), &device)
                    .reshape([b, n]);
                let mask = model.mask.forward(ids.clone(), cond.clone(), pad.clone());
                let history = model.res.embed_layer(
                    Tensor::zeros([b, n, model.config.res.code_dim], &device),
                    0,
                    ids.clamp(0, v - 1),
                );
                let res = model.res.forward(history, 1, cond, pad);
                let read = |t: Tensor<3>| t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap();
                (read(mask), read(res))
            };
            assert!(model.set_fused_cpu(true));
            let fused = run(&model);
            assert!(!model.set_fused_cpu(false));
            let plain = run(&model);
            for (name, a, r) in [("mask", &fused.0, &plain.0), ("res", &fused.1, &plain.1)] {
                let scale = r.iter().fold(0f32, |m, x| m.max(x.abs()));
                let worst = a.iter().zip(r).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
                assert!(
                    worst <= 1e-5 * scale.max(1.0),
                    "{name}: max |Δ| {worst:e} (scale {scale})"
                );
            }
        }
    }

    #[test]
    fn erf_matches_libm_within_4e7() {
        let mut worst = 0f32;
        let mut x = -6.0f32;
        while x <= 6.0 {
            worst = worst.max((erf(x) - libm_erf(x)).abs());
            x += 1e-4;
        }
        assert!(worst <= 4e-7, "max |erf − libm| = {worst:e}");
    }

    /// f64 reference erf: Taylor series below 3, Laplace's continued fraction for erfc above.
    fn libm_erf(x: f32) -> f32 {
        erf_f64(x as f64) as f32
    }

    fn erf_f64(x: f64) -> f64 {
        // Taylor series for |x| < 3, complementary asymptotic continued fraction beyond.
        let ax = x.abs();
        let r = if ax < 3.0 {
            let mut term = ax;
            let mut sum = ax;
            let x2 = ax * ax;
            for n in 1..200 {
                term *= -x2 / n as f64;
                let add = term / (2 * n + 1) as f64;
                sum += add;
                if add.abs() < 1e-17 {
                    break;
                }
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        } else {
            // erfc(x) = exp(−x²)/√π / (x + (1/2)/(x + (2/2)/(x + (3/2)/(x + …))))
            let mut f = ax;
            for n in (1..80).rev() {
                f = ax + (n as f64 / 2.0) / f;
            }
            1.0 - (-ax * ax).exp() / std::f64::consts::PI.sqrt() / f
        };
        r.copysign(x)
    }
}
