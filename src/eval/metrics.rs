//! Spec §8.4's metric formulas (official `utils/metrics.py`, `utils/eval_t2m.py` and the final
//! aggregation of `eval_t2m_trans_res.py`), on plain row-major matrices.
//!
//! Conventions:
//! * An embedding matrix is a row-major `&[f32]` of `rows × dim` values plus its `dim`; the row
//!   count is `len / dim` (an error if it does not divide). The evaluator's embeddings are `f32`,
//!   as in the reference.
//! * Everything is computed in `f64`. The reference computes the distance matrix, the means and
//!   the norms in `float32` (numpy keeps the dtype of the `float32` embeddings; only `np.cov`
//!   upcasts to `float64`), so results differ from an official run by `float32` rounding
//!   (~1e-7 relative), never by formula. R-precision can only differ where two candidate
//!   distances are within `float32` rounding of each other.
//! * Diversity and multimodality draw their index sets with our [`Rng`] (xoshiro256++), not
//!   numpy's global Mersenne Twister: the distribution is the same (two independent uniform
//!   draws without replacement), the stream is not, so values match the reference only in
//!   distribution. [`diversity_from_indices`] and [`multimodality_from_indices`] take explicit
//!   index sets and match the reference exactly.
//!
//! FID needs `tr sqrtm(Σ1 Σ2)`. The reference calls `scipy.linalg.sqrtm` on the non-symmetric
//! product. Here it is `Σ sqrt(μ_i)` over the eigenvalues `μ_i` of the symmetric positive
//! semi-definite `Bᵀ Σ2 B`, where `Σ1 = B Bᵀ` and `B = V Λ^{1/2}` comes from the eigendecomposition
//! of `Σ1`. `Bᵀ Σ2 B` has the same non-zero eigenvalues as `Σ2 Σ1` (and hence as `Σ1 Σ2`). The
//! eigen solver is a Householder tridiagonalisation followed by the implicit QL algorithm, in `f64`.

use std::fmt;

use serde::Serialize;
use thiserror::Error;

use crate::sample::rng::Rng;

/// The evaluation loader's batch size (R-precision is computed per batch of 32 candidates).
pub const R_PRECISION_BATCH: usize = 32;
/// R-precision is reported for top-1, top-2 and top-3.
pub const TOP_K: usize = 3;
/// Texts generated repeatedly for multimodality: 3 batches of 32.
pub const MULTIMODALITY_TEXTS: usize = 96;
/// Generations per multimodality text.
pub const MULTIMODALITY_REPEATS: usize = 30;
/// Index pairs drawn for multimodality.
pub const MULTIMODALITY_TIMES: usize = 10;
/// Diagonal offset the reference adds to both covariances when `sqrtm` is not finite.
pub const FID_EPS: f64 = 1e-6;
/// Largest imaginary part of `sqrtm(Σ1 Σ2)` that the reference tolerates (and then drops).
pub const FID_IMAG_ATOL: f64 = 1e-3;
/// The two-sided 95 % normal quantile used for the confidence interval.
pub const CONFIDENCE_Z: f64 = 1.96;
/// Replications of the official protocol.
pub const REPLICATIONS: usize = 20;

/// A metric could not be computed from the given data.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum MetricsError {
    /// `dim` is 0.
    #[error("{what}: dimension must be positive")]
    ZeroDim { what: &'static str },
    /// A buffer's length is not a whole number of rows.
    #[error("{what}: {len} values are not a whole number of rows of {dim}")]
    NotWholeRows {
        what: &'static str,
        len: usize,
        dim: usize,
    },
    /// Two inputs that must have the same shape do not.
    #[error("{what}: shape mismatch, expected {expected}, got {got}")]
    ShapeMismatch {
        what: &'static str,
        expected: String,
        got: String,
    },
    /// Too few samples for the metric (the reference would assert or divide by zero).
    #[error("{what}: needs {needed} samples, got {got}")]
    TooFewSamples {
        what: &'static str,
        needed: usize,
        got: usize,
    },
    /// The rows are not a whole number of evaluation batches (the loader uses `drop_last`).
    #[error("r-precision: {rows} rows are not a whole number of batches of {batch}")]
    PartialBatch { rows: usize, batch: usize },
    /// An index is outside the sample range.
    #[error("{what}: index {index} out of range for {len} samples")]
    IndexOutOfRange {
        what: &'static str,
        index: usize,
        len: usize,
    },
    /// An input holds NaN or infinity.
    #[error("{what}: input is not finite")]
    NonFinite { what: &'static str },
    /// A covariance matrix is not symmetric positive semi-definite.
    #[error("{what}: not a symmetric positive semi-definite matrix ({detail})")]
    NotPsd { what: &'static str, detail: String },
    /// `sqrtm(Σ1 Σ2)` has an imaginary part above [`FID_IMAG_ATOL`] (the reference raises).
    #[error("fid: imaginary component {0}")]
    ImaginaryComponent(f64),
    /// The eigen solver did not converge (even after the reference's `eps·I` retry for FID).
    #[error("symmetric eigen solver did not converge")]
    NotConverged,
    /// The replications disagree on which optional metrics they carry.
    #[error("aggregate: {0}")]
    Inconsistent(String),
}

pub type Result<T> = std::result::Result<T, MetricsError>;

fn rows_of(what: &'static str, len: usize, dim: usize) -> Result<usize> {
    if dim == 0 {
        return Err(MetricsError::ZeroDim { what });
    }
    if !len.is_multiple_of(dim) {
        return Err(MetricsError::NotWholeRows { what, len, dim });
    }
    Ok(len / dim)
}

fn ensure_finite(what: &'static str, values: impl IntoIterator<Item = f64>) -> Result<()> {
    if values.into_iter().all(f64::is_finite) {
        Ok(())
    } else {
        Err(MetricsError::NonFinite { what })
    }
}

// ---------------------------------------------------------------------------------------------
// Distance matrix, R-precision, matching score
// ---------------------------------------------------------------------------------------------

/// `ED(A, B)[i, j] = sqrt(−2 A_i·B_j + |A_i|² + |B_j|²)`, row-major `rows(a) × rows(b)`.
///
/// Computed with the same expansion as the reference (not `|A_i − B_j|`), so a tiny negative
/// radicand gives NaN exactly where the expansion does (in `f64` here, `float32` there).
pub fn euclidean_distance_matrix(a: &[f32], b: &[f32], dim: usize) -> Result<Vec<f64>> {
    let n1 = rows_of("distance matrix (a)", a.len(), dim)?;
    let n2 = rows_of("distance matrix (b)", b.len(), dim)?;
    let sq = |m: &[f32], r: usize| -> f64 {
        m[r * dim..(r + 1) * dim]
            .iter()
            .map(|&x| (x as f64) * (x as f64))
            .sum()
    };
    let sq_a: Vec<f64> = (0..n1).map(|i| sq(a, i)).collect();
    let sq_b: Vec<f64> = (0..n2).map(|j| sq(b, j)).collect();
    let mut out = Vec::with_capacity(n1 * n2);
    for i in 0..n1 {
        let ai = &a[i * dim..(i + 1) * dim];
        for j in 0..n2 {
            let bj = &b[j * dim..(j + 1) * dim];
            let dot: f64 = ai.iter().zip(bj).map(|(&x, &y)| x as f64 * y as f64).sum();
            out.push((-2.0 * dot + sq_a[i] + sq_b[j]).sqrt());
        }
    }
    Ok(out)
}

/// `np.argsort(dist, axis=1)` for a row-major `rows × cols` matrix: each row's column indices in
/// ascending order of distance, NaN last (as numpy sorts). Ties keep index order (numpy's default
/// quicksort is not stable; ties between continuous embeddings do not occur in practice).
pub fn argsort_rows(dist: &[f64], cols: usize) -> Result<Vec<usize>> {
    let rows = rows_of("argsort", dist.len(), cols)?;
    let mut out = Vec::with_capacity(rows * cols);
    for r in 0..rows {
        let row = &dist[r * cols..(r + 1) * cols];
        let mut idx: Vec<usize> = (0..cols).collect();
        idx.sort_by(|&x, &y| {
            let (a, b) = (row[x], row[y]);
            a.partial_cmp(&b).unwrap_or_else(|| a.is_nan().cmp(&b.is_nan()))
        });
        out.extend(idx);
    }
    Ok(out)
}

/// The reference's `calculate_top_k(argsort, top_k)`: for a `size × size` argsort matrix,
/// `out[i][k]` (row-major `size × top_k`) is true if `i` is among the first `k + 1` entries of
/// row `i` (cumulative over `k`).
pub fn calculate_top_k(order: &[usize], size: usize, top_k: usize) -> Result<Vec<bool>> {
    if order.len() != size * size {
        return Err(MetricsError::ShapeMismatch {
            what: "top-k",
            expected: format!("{size}x{size}"),
            got: format!("{} values", order.len()),
        });
    }
    if top_k > size {
        // The reference indexes column `top_k − 1` of the argsort matrix: an IndexError.
        return Err(MetricsError::TooFewSamples {
            what: "top-k",
            needed: top_k,
            got: size,
        });
    }
    let mut out = Vec::with_capacity(size * top_k);
    for i in 0..size {
        let mut correct = false;
        for k in 0..top_k {
            correct |= order[i * size + k] == i;
            out.push(correct);
        }
    }
    Ok(out)
}

/// One batch's R-precision hit counts (`calculate_R_precision(et, em, top_k, sum_all=True)`):
/// `counts[k]` rows whose own motion is among the `k + 1` nearest; plus the batch's matching sum
/// `trace(ED(et, em))`. `et` and `em` must have the same number of rows.
pub fn batch_r_precision_and_matching(
    et: &[f32],
    em: &[f32],
    dim: usize,
    top_k: usize,
) -> Result<(Vec<u64>, f64)> {
    let n_t = rows_of("r-precision (text)", et.len(), dim)?;
    let n_m = rows_of("r-precision (motion)", em.len(), dim)?;
    if n_t != n_m {
        return Err(MetricsError::ShapeMismatch {
            what: "r-precision",
            expected: format!("{n_t} motion rows"),
            got: format!("{n_m}"),
        });
    }
    let dist = euclidean_distance_matrix(et, em, dim)?;
    let order = argsort_rows(&dist, n_m)?;
    let hits = calculate_top_k(&order, n_t, top_k)?;
    let counts = (0..top_k)
        .map(|k| (0..n_t).filter(|&i| hits[i * top_k + k]).count() as u64)
        .collect();
    let trace = (0..n_t).map(|i| dist[i * n_m + i]).sum();
    Ok((counts, trace))
}

/// Matching score (MM-Dist) of one batch: `trace(ED(et, em))`, the sum of matched distances.
pub fn batch_matching_sum(et: &[f32], em: &[f32], dim: usize) -> Result<f64> {
    let n_t = rows_of("matching (text)", et.len(), dim)?;
    let n_m = rows_of("matching (motion)", em.len(), dim)?;
    if n_t != n_m {
        return Err(MetricsError::ShapeMismatch {
            what: "matching",
            expected: format!("{n_t} motion rows"),
            got: format!("{n_m}"),
        });
    }
    // The diagonal of the expansion, term for term as in the full matrix.
    Ok((0..n_t)
        .map(|i| {
            let (a, b) = (&et[i * dim..(i + 1) * dim], &em[i * dim..(i + 1) * dim]);
            let dot: f64 = a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum();
            let sa: f64 = a.iter().map(|&x| x as f64 * x as f64).sum();
            let sb: f64 = b.iter().map(|&x| x as f64 * x as f64).sum();
            (-2.0 * dot + sa + sb).sqrt()
        })
        .sum())
}

/// The reference's per-batch accumulation loop: R-precision hits and matching distances are
/// summed over batches, then divided by the total sample count.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MatchingAccumulator {
    /// Top-1/2/3 hits summed over batches.
    pub counts: [u64; TOP_K],
    /// `trace(ED(et, em))` summed over batches.
    pub matching_sum: f64,
    /// Rows seen (`nb_sample`).
    pub samples: usize,
}

impl MatchingAccumulator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one evaluation batch (`et`, `em`: `bs × dim`, aligned row for row; `bs ≥ 3`).
    pub fn push_batch(&mut self, et: &[f32], em: &[f32], dim: usize) -> Result<()> {
        let (counts, trace) = batch_r_precision_and_matching(et, em, dim, TOP_K)?;
        for (acc, c) in self.counts.iter_mut().zip(counts) {
            *acc += c;
        }
        self.matching_sum += trace;
        self.samples += et.len() / dim;
        Ok(())
    }

    /// R-precision top-1/2/3: hits / samples.
    pub fn r_precision(&self) -> Result<[f64; TOP_K]> {
        if self.samples == 0 {
            return Err(MetricsError::TooFewSamples {
                what: "r-precision",
                needed: 1,
                got: 0,
            });
        }
        Ok(self.counts.map(|c| c as f64 / self.samples as f64))
    }

    /// Matching score (MM-Dist): summed matched distances / samples.
    pub fn matching_score(&self) -> Result<f64> {
        if self.samples == 0 {
            return Err(MetricsError::TooFewSamples {
                what: "matching score",
                needed: 1,
                got: 0,
            });
        }
        Ok(self.matching_sum / self.samples as f64)
    }
}

/// R-precision top-1/2/3 and matching score over consecutive batches of `batch` rows (the
/// reference uses 32, [`R_PRECISION_BATCH`]). The row count must be a whole number of batches, as
/// the reference's `drop_last` loader guarantees.
pub fn r_precision_and_matching(
    et: &[f32],
    em: &[f32],
    dim: usize,
    batch: usize,
) -> Result<([f64; TOP_K], f64)> {
    let rows = rows_of("r-precision (text)", et.len(), dim)?;
    let rows_m = rows_of("r-precision (motion)", em.len(), dim)?;
    if rows != rows_m {
        return Err(MetricsError::ShapeMismatch {
            what: "r-precision",
            expected: format!("{rows} motion rows"),
            got: format!("{rows_m}"),
        });
    }
    if batch < TOP_K {
        return Err(MetricsError::TooFewSamples {
            what: "r-precision batch",
            needed: TOP_K,
            got: batch,
        });
    }
    if rows == 0 || !rows.is_multiple_of(batch) {
        return Err(MetricsError::PartialBatch { rows, batch });
    }
    let mut acc = MatchingAccumulator::new();
    let step = batch * dim;
    for (t, m) in et.chunks(step).zip(em.chunks(step)) {
        acc.push_batch(t, m, dim)?;
    }
    Ok((acc.r_precision()?, acc.matching_score()?))
}

// ---------------------------------------------------------------------------------------------
// Activation statistics and FID
// ---------------------------------------------------------------------------------------------

/// Mean and covariance of a set of embeddings (`np.mean(axis=0)`, `np.cov(rowvar=False)`, i.e.
/// normalised by `N − 1`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActivationStats {
    pub dim: usize,
    /// `dim` values.
    pub mean: Vec<f64>,
    /// Row-major `dim × dim`, symmetric.
    pub cov: Vec<f64>,
    /// Sample count `N`.
    pub samples: usize,
}

/// `calculate_activation_statistics`: mean and covariance (ddof 1) of `N × dim` embeddings,
/// `N ≥ 2`.
pub fn activation_statistics(act: &[f32], dim: usize) -> Result<ActivationStats> {
    let n = rows_of("activation statistics", act.len(), dim)?;
    if n < 2 {
        return Err(MetricsError::TooFewSamples {
            what: "covariance",
            needed: 2,
            got: n,
        });
    }
    ensure_finite("activation statistics", act.iter().map(|&x| x as f64))?;
    let mut mean = vec![0.0f64; dim];
    for row in act.chunks(dim) {
        for (m, &x) in mean.iter_mut().zip(row) {
            *m += x as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let mut cov = vec![0.0f64; dim * dim];
    let mut centred = vec![0.0f64; dim];
    for row in act.chunks(dim) {
        for ((c, &x), &m) in centred.iter_mut().zip(row).zip(&mean) {
            *c = x as f64 - m;
        }
        for i in 0..dim {
            let ci = centred[i];
            let out = &mut cov[i * dim..(i + 1) * dim];
            // Upper triangle (mirrored below) so the result is exactly symmetric.
            for j in i..dim {
                out[j] += ci * centred[j];
            }
        }
    }
    let denom = (n - 1) as f64;
    for i in 0..dim {
        for j in i..dim {
            let v = cov[i * dim + j] / denom;
            cov[i * dim + j] = v;
            cov[j * dim + i] = v;
        }
    }
    Ok(ActivationStats {
        dim,
        mean,
        cov,
        samples: n,
    })
}

/// `tr sqrtm(Σ1 Σ2)` as the reference uses it: the real part of the trace, and the largest
/// imaginary part that was dropped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TraceSqrt {
    pub trace: f64,
    /// `max sqrt(−μ)` over negative eigenvalues `μ` of the product (numerical noise for PSD
    /// inputs); the reference raises when its imaginary part exceeds [`FID_IMAG_ATOL`].
    pub max_imag: f64,
}

/// `tr sqrtm(Σ1 Σ2)` for symmetric positive semi-definite `n × n` row-major `s1`, `s2`.
///
/// `Σ sqrt(μ_i)` over the eigenvalues of `Bᵀ Σ2 B`, `B = V Λ^{1/2}`, `Σ1 = V Λ Vᵀ` (negative
/// round-off eigenvalues of `Σ1` count as 0). A negative `μ_i` contributes `i·sqrt(−μ_i)`, whose
/// real part is 0 (the reference keeps the real part); it is reported as `max_imag`.
pub fn trace_sqrt_product(s1: &[f64], s2: &[f64], n: usize) -> Result<TraceSqrt> {
    if n == 0 {
        return Err(MetricsError::ZeroDim { what: "trace sqrtm" });
    }
    for (what, s) in [("trace sqrtm (sigma1)", s1), ("trace sqrtm (sigma2)", s2)] {
        if s.len() != n * n {
            return Err(MetricsError::ShapeMismatch {
                what,
                expected: format!("{n}x{n}"),
                got: format!("{} values", s.len()),
            });
        }
        ensure_finite(what, s.iter().copied())?;
    }
    let e1 = symmetric_eigen(&symmetrized(s1, n), n, true)?;
    let scale = e1.values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    check_psd("sigma1", e1.values[0], scale)?;
    // B = V Λ^{1/2}, keeping only the columns with a positive eigenvalue (the rest are 0).
    let cols: Vec<usize> = (0..n).filter(|&j| e1.values[j] > 0.0).collect();
    let m = cols.len();
    if m == 0 {
        return Ok(TraceSqrt {
            trace: 0.0,
            max_imag: 0.0,
        });
    }
    let mut b = vec![0.0f64; m * n]; // column-major n × m
    for (c, &j) in cols.iter().enumerate() {
        let root = e1.values[j].sqrt();
        for (dst, &v) in b[c * n..(c + 1) * n]
            .iter_mut()
            .zip(&e1.vectors[j * n..(j + 1) * n])
        {
            *dst = v * root;
        }
    }
    // T = Σ2 B (column-major n × m): column c = Σ_k B[k, c] · Σ2[k, :] (Σ2 symmetric).
    let s2s = symmetrized(s2, n);
    let mut t = vec![0.0f64; m * n];
    for c in 0..m {
        let col = &mut t[c * n..(c + 1) * n];
        for k in 0..n {
            let bk = b[c * n + k];
            if bk != 0.0 {
                for (o, &s) in col.iter_mut().zip(&s2s[k * n..(k + 1) * n]) {
                    *o += bk * s;
                }
            }
        }
    }
    // M = Bᵀ T (m × m), symmetrised.
    let mut mm = vec![0.0f64; m * m];
    for i in 0..m {
        for j in i..m {
            let bi = &b[i * n..(i + 1) * n];
            let tj = &t[j * n..(j + 1) * n];
            let ti = &t[i * n..(i + 1) * n];
            let bj = &b[j * n..(j + 1) * n];
            let v1: f64 = bi.iter().zip(tj).map(|(x, y)| x * y).sum();
            let v2: f64 = bj.iter().zip(ti).map(|(x, y)| x * y).sum();
            let v = 0.5 * (v1 + v2);
            mm[i * m + j] = v;
            mm[j * m + i] = v;
        }
    }
    let e2 = symmetric_eigen(&mm, m, false)?;
    let mut trace = 0.0;
    let mut max_imag = 0.0f64;
    for &mu in &e2.values {
        if mu >= 0.0 {
            trace += mu.sqrt();
        } else {
            max_imag = max_imag.max((-mu).sqrt());
        }
    }
    Ok(TraceSqrt { trace, max_imag })
}

fn symmetrized(s: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            out[i * n + j] = 0.5 * (s[i * n + j] + s[j * n + i]);
        }
    }
    out
}

fn check_psd(what: &'static str, min_eig: f64, scale: f64) -> Result<()> {
    // Round-off makes null directions slightly negative (~n·ε·scale); a covariance never has a
    // genuinely negative eigenvalue.
    if min_eig < -1e-9 * scale.max(f64::MIN_POSITIVE) {
        return Err(MetricsError::NotPsd {
            what,
            detail: format!("eigenvalue {min_eig:e}, largest {scale:e}"),
        });
    }
    Ok(())
}

/// FID and how it was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FrechetDetail {
    /// `|μ1−μ2|² + tr Σ1 + tr Σ2 − 2 tr sqrtm(Σ1 Σ2)`.
    pub fid: f64,
    /// The first attempt was not finite and `eps·I` was added to both covariances inside the
    /// square root (the reference's fallback; the traces `tr Σ1 + tr Σ2` stay un-offset, as there).
    pub offset_added: bool,
    /// The imaginary part dropped (see [`TraceSqrt::max_imag`]).
    pub max_imag: f64,
}

/// FID between two activation statistics (`calculate_frechet_distance(mu1, sigma1, mu2, sigma2)`,
/// `eps = 1e-6`). The reference passes the ground truth first.
pub fn frechet_distance(s1: &ActivationStats, s2: &ActivationStats) -> Result<f64> {
    if s1.dim != s2.dim {
        return Err(MetricsError::ShapeMismatch {
            what: "fid",
            expected: format!("dim {}", s1.dim),
            got: format!("dim {}", s2.dim),
        });
    }
    Ok(frechet_distance_detailed(&s1.mean, &s1.cov, &s2.mean, &s2.cov, s1.dim, FID_EPS)?.fid)
}

/// FID straight from two embedding sets (`N × dim` each, `N ≥ 2`): statistics of both, then
/// [`frechet_distance`]. The reference passes the ground truth first.
pub fn frechet_distance_of(gt: &[f32], generated: &[f32], dim: usize) -> Result<f64> {
    frechet_distance(
        &activation_statistics(gt, dim)?,
        &activation_statistics(generated, dim)?,
    )
}

/// FID from raw means (`dim`) and row-major covariances (`dim × dim`, symmetric PSD).
///
/// As the reference: if `tr sqrtm(Σ1 Σ2)` is not obtainable as a finite number (here: the eigen
/// solver does not converge or gives non-finite values), retry once with `eps·I` added to both
/// covariances; an imaginary part above [`FID_IMAG_ATOL`] is an error, a smaller one is dropped.
pub fn frechet_distance_detailed(
    mu1: &[f64],
    sigma1: &[f64],
    mu2: &[f64],
    sigma2: &[f64],
    dim: usize,
    eps: f64,
) -> Result<FrechetDetail> {
    if dim == 0 {
        return Err(MetricsError::ZeroDim { what: "fid" });
    }
    if mu1.len() != dim || mu2.len() != dim {
        return Err(MetricsError::ShapeMismatch {
            what: "fid means",
            expected: format!("{dim}"),
            got: format!("{} and {}", mu1.len(), mu2.len()),
        });
    }
    ensure_finite("fid means", mu1.iter().chain(mu2).copied())?;
    let attempt = |s1: &[f64], s2: &[f64]| trace_sqrt_product(s1, s2, dim);
    let (ts, offset_added) = with_offset_retry(sigma1, sigma2, dim, eps, attempt)?;
    if ts.max_imag > FID_IMAG_ATOL {
        return Err(MetricsError::ImaginaryComponent(ts.max_imag));
    }
    let diff2: f64 = mu1.iter().zip(mu2).map(|(a, b)| (a - b) * (a - b)).sum();
    let tr1: f64 = (0..dim).map(|i| sigma1[i * dim + i]).sum();
    let tr2: f64 = (0..dim).map(|i| sigma2[i * dim + i]).sum();
    Ok(FrechetDetail {
        fid: diff2 + tr1 + tr2 - 2.0 * ts.trace,
        offset_added,
        max_imag: ts.max_imag,
    })
}

/// Runs `f(Σ1, Σ2)`; when it fails to give a finite result (non-convergence or a non-finite
/// trace), runs `f(Σ1 + eps·I, Σ2 + eps·I)` once. Shape, finiteness-of-input and PSD errors are
/// returned at once (the offset would not fix them).
fn with_offset_retry(
    sigma1: &[f64],
    sigma2: &[f64],
    dim: usize,
    eps: f64,
    f: impl Fn(&[f64], &[f64]) -> Result<TraceSqrt>,
) -> Result<(TraceSqrt, bool)> {
    match f(sigma1, sigma2) {
        Ok(ts) if ts.trace.is_finite() && ts.max_imag.is_finite() => return Ok((ts, false)),
        Ok(_) | Err(MetricsError::NotConverged) => {}
        Err(e) => return Err(e),
    }
    let offset = |s: &[f64]| {
        let mut s = s.to_vec();
        for i in 0..dim {
            s[i * dim + i] += eps;
        }
        s
    };
    let ts = f(&offset(sigma1), &offset(sigma2))?;
    if !(ts.trace.is_finite() && ts.max_imag.is_finite()) {
        return Err(MetricsError::NotConverged);
    }
    Ok((ts, true))
}

// ---------------------------------------------------------------------------------------------
// Symmetric eigen solver
// ---------------------------------------------------------------------------------------------

/// Eigenvalues (ascending) and, optionally, eigenvectors of a symmetric matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct SymmetricEigen {
    pub values: Vec<f64>,
    /// Column-major `n × n`: eigenvector `j` is `vectors[j*n..(j+1)*n]`. Empty when not asked for.
    pub vectors: Vec<f64>,
}

/// Eigen-decomposition of a symmetric row-major `n × n` matrix (only the lower triangle is
/// read): Householder reduction to tridiagonal form, then the implicit QL algorithm with Wilkinson
/// shifts (the classic EISPACK `tred2`/`tql2` scheme), in `f64`.
pub fn symmetric_eigen(a: &[f64], n: usize, want_vectors: bool) -> Result<SymmetricEigen> {
    if n == 0 {
        return Ok(SymmetricEigen {
            values: vec![],
            vectors: vec![],
        });
    }
    if a.len() != n * n {
        return Err(MetricsError::ShapeMismatch {
            what: "symmetric eigen",
            expected: format!("{n}x{n}"),
            got: format!("{} values", a.len()),
        });
    }
    ensure_finite("symmetric eigen", a.iter().copied())?;
    // V is stored column-major (V[r][c] at c*n + r) so the hot loops run over contiguous memory.
    // Loading the row-major lower triangle: V[r][c] = a[r][c] for c <= r; tred2 reads only that.
    let mut v = vec![0.0f64; n * n];
    for r in 0..n {
        for c in 0..=r {
            v[c * n + r] = a[r * n + c];
            v[r * n + c] = a[r * n + c];
        }
    }
    let mut d = vec![0.0f64; n];
    let mut e = vec![0.0f64; n];
    tridiagonalize(&mut v, &mut d, &mut e, n);
    tridiagonal_ql(&mut v, &mut d, &mut e, n, want_vectors)?;
    // Sort ascending (with vectors).
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&x, &y| d[x].total_cmp(&d[y]));
    let values: Vec<f64> = idx.iter().map(|&i| d[i]).collect();
    let vectors = if want_vectors {
        let mut out = Vec::with_capacity(n * n);
        for &i in &idx {
            out.extend_from_slice(&v[i * n..(i + 1) * n]);
        }
        out
    } else {
        Vec::new()
    };
    if !values.iter().chain(&vectors).all(|x| x.is_finite()) {
        return Err(MetricsError::NotConverged);
    }
    Ok(SymmetricEigen { values, vectors })
}

/// Householder reduction of the symmetric matrix in `v` (column-major) to tridiagonal form:
/// on return `d` is the diagonal, `e[1..]` the sub-diagonal and `v` the orthogonal transform.
// Index-heavy numerical kernel: explicit ranges read best.
#[allow(clippy::needless_range_loop)]
fn tridiagonalize(v: &mut [f64], d: &mut [f64], e: &mut [f64], n: usize) {
    // V[r][c] at c*n + r.
    macro_rules! at {
        ($r:expr, $c:expr) => {
            v[($c) * n + ($r)]
        };
    }
    for j in 0..n {
        d[j] = at!(n - 1, j);
    }
    for i in (1..n).rev() {
        let mut scale = 0.0;
        let mut h = 0.0;
        for k in 0..i {
            scale += d[k].abs();
        }
        if scale == 0.0 {
            e[i] = d[i - 1];
            for j in 0..i {
                d[j] = at!(i - 1, j);
                at!(i, j) = 0.0;
                at!(j, i) = 0.0;
            }
        } else {
            for k in 0..i {
                d[k] /= scale;
                h += d[k] * d[k];
            }
            let mut f = d[i - 1];
            let mut g = h.sqrt();
            if f > 0.0 {
                g = -g;
            }
            e[i] = scale * g;
            h -= f * g;
            d[i - 1] = f - g;
            for ej in e.iter_mut().take(i) {
                *ej = 0.0;
            }
            // Apply the similarity transform to the remaining columns.
            for j in 0..i {
                f = d[j];
                at!(j, i) = f;
                g = e[j] + at!(j, j) * f;
                for k in (j + 1)..i {
                    let vkj = at!(k, j);
                    g += vkj * d[k];
                    e[k] += vkj * f;
                }
                e[j] = g;
            }
            f = 0.0;
            for j in 0..i {
                e[j] /= h;
                f += e[j] * d[j];
            }
            let hh = f / (h + h);
            for j in 0..i {
                e[j] -= hh * d[j];
            }
            for j in 0..i {
                f = d[j];
                g = e[j];
                for k in j..i {
                    at!(k, j) -= f * e[k] + g * d[k];
                }
                d[j] = at!(i - 1, j);
                at!(i, j) = 0.0;
            }
        }
        d[i] = h;
    }
    // Accumulate the transformations.
    for i in 0..n - 1 {
        at!(n - 1, i) = at!(i, i);
        at!(i, i) = 1.0;
        let h = d[i + 1];
        if h != 0.0 {
            for k in 0..=i {
                d[k] = at!(k, i + 1) / h;
            }
            for j in 0..=i {
                let mut g = 0.0;
                for k in 0..=i {
                    g += at!(k, i + 1) * at!(k, j);
                }
                for k in 0..=i {
                    at!(k, j) -= g * d[k];
                }
            }
        }
        for k in 0..=i {
            at!(k, i + 1) = 0.0;
        }
    }
    for j in 0..n {
        d[j] = at!(n - 1, j);
        at!(n - 1, j) = 0.0;
    }
    at!(n - 1, n - 1) = 1.0;
    e[0] = 0.0;
}

/// Implicit QL iterations on the tridiagonal matrix (`d`, `e[1..]`), accumulating the rotations
/// into `v` (column-major) when `want_vectors`. Eigenvalues are left unsorted in `d`.
fn tridiagonal_ql(v: &mut [f64], d: &mut [f64], e: &mut [f64], n: usize, want_vectors: bool) -> Result<()> {
    const MAX_ITER: usize = 100;
    for i in 1..n {
        e[i - 1] = e[i];
    }
    e[n - 1] = 0.0;
    let mut f = 0.0f64;
    let mut tst1 = 0.0f64;
    let eps = f64::EPSILON;
    for l in 0..n {
        tst1 = tst1.max(d[l].abs() + e[l].abs());
        let mut m = l;
        while m < n - 1 && e[m].abs() > eps * tst1 {
            m += 1;
        }
        if m > l {
            let mut iter = 0;
            loop {
                iter += 1;
                if iter > MAX_ITER {
                    return Err(MetricsError::NotConverged);
                }
                // Shift.
                let mut g = d[l];
                let mut p = (d[l + 1] - g) / (2.0 * e[l]);
                let mut r = p.hypot(1.0);
                if p < 0.0 {
                    r = -r;
                }
                d[l] = e[l] / (p + r);
                d[l + 1] = e[l] * (p + r);
                let dl1 = d[l + 1];
                let mut h = g - d[l];
                for di in d.iter_mut().take(n).skip(l + 2) {
                    *di -= h;
                }
                f += h;
                // Implicit QL transformation.
                p = d[m];
                let mut c = 1.0f64;
                let mut c2 = c;
                let mut c3 = c;
                let el1 = e[l + 1];
                let mut s = 0.0f64;
                let mut s2 = 0.0f64;
                for i in (l..m).rev() {
                    c3 = c2;
                    c2 = c;
                    s2 = s;
                    g = c * e[i];
                    h = c * p;
                    r = p.hypot(e[i]);
                    e[i + 1] = s * r;
                    s = e[i] / r;
                    c = p / r;
                    p = c * d[i] - s * g;
                    d[i + 1] = h + s * (c * g + s * d[i]);
                    if want_vectors {
                        // Columns i and i+1 of V are contiguous in column-major storage.
                        let (lo, hi) = v.split_at_mut((i + 1) * n);
                        let col_i = &mut lo[i * n..];
                        let col_i1 = &mut hi[..n];
                        for (a, b) in col_i.iter_mut().zip(col_i1.iter_mut()) {
                            let hb = *b;
                            *b = s * *a + c * hb;
                            *a = c * *a - s * hb;
                        }
                    }
                }
                p = -s * s2 * c3 * el1 * e[l] / dl1;
                e[l] = s * p;
                d[l] = c * p;
                if e[l].abs() <= eps * tst1 {
                    break;
                }
            }
        }
        d[l] += f;
        e[l] = 0.0;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Diversity and multimodality
// ---------------------------------------------------------------------------------------------

/// `np.random.choice(n, size, replace=False)` in distribution: `size` distinct indices of
/// `0..n`, uniformly ordered, by a partial Fisher–Yates shuffle with our [`Rng`] (numpy's legacy
/// sampler takes the first `size` of a full permutation from its Mersenne Twister: same
/// distribution, different stream).
pub fn choice_without_replacement(rng: &mut Rng, n: usize, size: usize) -> Result<Vec<usize>> {
    if size > n {
        return Err(MetricsError::TooFewSamples {
            what: "choice without replacement",
            needed: size,
            got: n,
        });
    }
    let mut pool: Vec<usize> = (0..n).collect();
    for i in 0..size {
        let j = i + rng.below(n - i);
        pool.swap(i, j);
    }
    pool.truncate(size);
    Ok(pool)
}

/// The reference's diversity times: 300 when there are more than 300 samples, else 100.
pub fn diversity_times(samples: usize) -> usize {
    if samples > 300 { 300 } else { 100 }
}

/// Diversity with the reference's times ([`diversity_times`]): the mean distance between two
/// independent without-replacement draws of rows. Needs more samples than times (the
/// reference asserts `N > times`).
pub fn diversity(act: &[f32], dim: usize, rng: &mut Rng) -> Result<f64> {
    let n = rows_of("diversity", act.len(), dim)?;
    diversity_with_times(act, dim, diversity_times(n), rng)
}

/// [`diversity`] with an explicit number of pairs (`N > times`).
pub fn diversity_with_times(act: &[f32], dim: usize, times: usize, rng: &mut Rng) -> Result<f64> {
    let n = rows_of("diversity", act.len(), dim)?;
    if n <= times || times == 0 {
        return Err(MetricsError::TooFewSamples {
            what: "diversity",
            needed: times.max(1) + 1,
            got: n,
        });
    }
    let first = choice_without_replacement(rng, n, times)?;
    let second = choice_without_replacement(rng, n, times)?;
    diversity_from_indices(act, dim, &first, &second)
}

/// `mean_k |act[first[k]] − act[second[k]]|` (the reference's formula for given index sets).
pub fn diversity_from_indices(act: &[f32], dim: usize, first: &[usize], second: &[usize]) -> Result<f64> {
    let n = rows_of("diversity", act.len(), dim)?;
    if first.len() != second.len() || first.is_empty() {
        return Err(MetricsError::ShapeMismatch {
            what: "diversity indices",
            expected: format!("{} (non-empty)", first.len()),
            got: format!("{}", second.len()),
        });
    }
    let mut sum = 0.0;
    for (&i, &j) in first.iter().zip(second) {
        for idx in [i, j] {
            if idx >= n {
                return Err(MetricsError::IndexOutOfRange {
                    what: "diversity",
                    index: idx,
                    len: n,
                });
            }
        }
        sum += row_distance(&act[i * dim..(i + 1) * dim], &act[j * dim..(j + 1) * dim]);
    }
    Ok(sum / first.len() as f64)
}

fn row_distance(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64) * (x as f64 - y as f64))
        .sum::<f64>()
        .sqrt()
}

/// Multimodality for embeddings of shape `(texts, repeats, dim)` (row-major; the reference uses
/// `(96, 30, 512)`): two independent draws of `times` repetition indices (without replacement),
/// the mean over texts and pairs of `|e[t, a_k] − e[t, b_k]|`. Needs `repeats > times`.
pub fn multimodality(act: &[f32], repeats: usize, dim: usize, times: usize, rng: &mut Rng) -> Result<f64> {
    multimodality_texts(act, repeats, dim)?;
    if repeats <= times || times == 0 {
        return Err(MetricsError::TooFewSamples {
            what: "multimodality repeats",
            needed: times.max(1) + 1,
            got: repeats,
        });
    }
    let first = choice_without_replacement(rng, repeats, times)?;
    let second = choice_without_replacement(rng, repeats, times)?;
    multimodality_from_indices(act, repeats, dim, &first, &second)
}

fn multimodality_texts(act: &[f32], repeats: usize, dim: usize) -> Result<usize> {
    if repeats == 0 {
        return Err(MetricsError::TooFewSamples {
            what: "multimodality repeats",
            needed: 1,
            got: 0,
        });
    }
    let rows = rows_of("multimodality", act.len(), dim)?;
    if !rows.is_multiple_of(repeats) {
        return Err(MetricsError::NotWholeRows {
            what: "multimodality",
            len: act.len(),
            dim: repeats * dim,
        });
    }
    let texts = rows / repeats;
    if texts == 0 {
        return Err(MetricsError::TooFewSamples {
            what: "multimodality texts",
            needed: 1,
            got: 0,
        });
    }
    Ok(texts)
}

/// The reference's multimodality formula for given repetition index sets.
pub fn multimodality_from_indices(
    act: &[f32],
    repeats: usize,
    dim: usize,
    first: &[usize],
    second: &[usize],
) -> Result<f64> {
    let texts = multimodality_texts(act, repeats, dim)?;
    if first.len() != second.len() || first.is_empty() {
        return Err(MetricsError::ShapeMismatch {
            what: "multimodality indices",
            expected: format!("{} (non-empty)", first.len()),
            got: format!("{}", second.len()),
        });
    }
    for &idx in first.iter().chain(second) {
        if idx >= repeats {
            return Err(MetricsError::IndexOutOfRange {
                what: "multimodality",
                index: idx,
                len: repeats,
            });
        }
    }
    let mut sum = 0.0;
    for t in 0..texts {
        let base = t * repeats;
        for (&i, &j) in first.iter().zip(second) {
            let a = &act[(base + i) * dim..(base + i + 1) * dim];
            let b = &act[(base + j) * dim..(base + j + 1) * dim];
            sum += row_distance(a, b);
        }
    }
    Ok(sum / (texts * first.len()) as f64)
}

// ---------------------------------------------------------------------------------------------
// Protocol aggregation and the report
// ---------------------------------------------------------------------------------------------

/// A metric over replications: the mean and the 95 % interval half-width
/// `1.96 · std / sqrt(replications)` (numpy `std`, ddof 0).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MeanConf {
    pub mean: f64,
    pub conf: f64,
}

impl fmt::Display for MeanConf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = f.precision().unwrap_or(3);
        write!(f, "{:.p$}±{:.p$}", self.mean, self.conf)
    }
}

/// Mean and 95 % confidence half-width of per-replication values (at least one).
pub fn mean_and_confidence(values: &[f64]) -> Result<MeanConf> {
    if values.is_empty() {
        return Err(MetricsError::TooFewSamples {
            what: "aggregate",
            needed: 1,
            got: 0,
        });
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    Ok(MeanConf {
        mean,
        conf: CONFIDENCE_Z * var.sqrt() / n.sqrt(),
    })
}

/// One replication's metrics for the generated motions (what the reference appends per repeat).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ReplicationMetrics {
    pub fid: f64,
    pub diversity: f64,
    pub r_precision: [f64; TOP_K],
    pub matching: f64,
    /// `None` where not computed (VQ reconstruction, `force_mask`).
    pub multimodality: Option<f64>,
    /// VQ reconstruction only.
    pub mpjpe: Option<f64>,
}

/// The final report: every metric's mean ± 95 % interval over the replications.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricsReport {
    pub label: String,
    pub replications: usize,
    pub fid: MeanConf,
    pub diversity: MeanConf,
    pub top1: MeanConf,
    pub top2: MeanConf,
    pub top3: MeanConf,
    /// Matching score (MM-Dist).
    pub matching: MeanConf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multimodality: Option<MeanConf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mpjpe: Option<MeanConf>,
}

impl MetricsReport {
    /// Aggregates replications (all must agree on whether multimodality / MPJPE are present).
    pub fn from_replications(label: impl Into<String>, reps: &[ReplicationMetrics]) -> Result<Self> {
        if reps.is_empty() {
            return Err(MetricsError::TooFewSamples {
                what: "replications",
                needed: 1,
                got: 0,
            });
        }
        let agg = |f: &dyn Fn(&ReplicationMetrics) -> f64| {
            mean_and_confidence(&reps.iter().map(f).collect::<Vec<_>>())
        };
        let optional =
            |name: &str, f: &dyn Fn(&ReplicationMetrics) -> Option<f64>| -> Result<Option<MeanConf>> {
                let vals: Vec<Option<f64>> = reps.iter().map(f).collect();
                match vals.iter().filter(|v| v.is_some()).count() {
                    0 => Ok(None),
                    k if k == vals.len() => Ok(Some(mean_and_confidence(
                        &vals.into_iter().flatten().collect::<Vec<_>>(),
                    )?)),
                    k => Err(MetricsError::Inconsistent(format!(
                        "{name} present in {k} of {} replications",
                        vals.len()
                    ))),
                }
            };
        Ok(Self {
            label: label.into(),
            replications: reps.len(),
            fid: agg(&|r| r.fid)?,
            diversity: agg(&|r| r.diversity)?,
            top1: agg(&|r| r.r_precision[0])?,
            top2: agg(&|r| r.r_precision[1])?,
            top3: agg(&|r| r.r_precision[2])?,
            matching: agg(&|r| r.matching)?,
            multimodality: optional("multimodality", &|r| r.multimodality)?,
            mpjpe: optional("mpjpe", &|r| r.mpjpe)?,
        })
    }

    /// The markdown table header (and separator) matching [`MetricsReport`]'s `Display` rows.
    pub fn markdown_header() -> &'static str {
        "| Run | FID ↓ | Diversity → | Top-1 ↑ | Top-2 ↑ | Top-3 ↑ | MM-Dist ↓ | MModality ↑ | MPJPE ↓ |\n\
         |---|---|---|---|---|---|---|---|---|"
    }
}

impl fmt::Display for MetricsReport {
    /// One markdown table row, values as `mean±conf` with 3 decimals (the reference prints `%.3f`);
    /// absent metrics are `–`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opt = |m: &Option<MeanConf>| m.map_or_else(|| "–".to_string(), |m| m.to_string());
        write!(
            f,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            self.label.replace('|', "\\|"),
            self.fid,
            self.diversity,
            self.top1,
            self.top2,
            self.top3,
            self.matching,
            opt(&self.multimodality),
            opt(&self.mpjpe)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det_matrix(n: usize, seed: u64) -> Vec<f64> {
        let mut rng = Rng::new(seed);
        let g: Vec<f64> = (0..n * n).map(|_| rng.normal() as f64).collect();
        // A = G Gᵀ / n + small diagonal: symmetric PSD.
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = (0..n).map(|k| g[i * n + k] * g[j * n + k]).sum::<f64>() / n as f64;
            }
        }
        a
    }

    #[test]
    fn eigen_reconstructs_and_is_orthonormal() {
        for &n in &[1usize, 2, 3, 7, 24] {
            let a = det_matrix(n, n as u64);
            let e = symmetric_eigen(&a, n, true).unwrap();
            assert!(e.values.windows(2).all(|w| w[0] <= w[1]));
            for j in 0..n {
                let vj = &e.vectors[j * n..(j + 1) * n];
                for r in 0..n {
                    let av: f64 = (0..n).map(|c| a[r * n + c] * vj[c]).sum();
                    assert!((av - e.values[j] * vj[r]).abs() < 1e-10, "n {n} j {j}");
                }
                for k in 0..n {
                    let dot: f64 = (0..n).map(|r| vj[r] * e.vectors[k * n + r]).sum();
                    let want = if j == k { 1.0 } else { 0.0 };
                    assert!((dot - want).abs() < 1e-12);
                }
            }
            let no_vec = symmetric_eigen(&a, n, false).unwrap();
            for (x, y) in no_vec.values.iter().zip(&e.values) {
                assert!((x - y).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn eigen_handles_diagonal_zero_and_repeated() {
        let e = symmetric_eigen(&[0.0; 9], 3, true).unwrap();
        assert_eq!(e.values, vec![0.0; 3]);
        let e = symmetric_eigen(&[2.0, 0.0, 0.0, 2.0], 2, false).unwrap();
        assert_eq!(e.values, vec![2.0, 2.0]);
        assert!(matches!(
            symmetric_eigen(&[1.0, f64::NAN, f64::NAN, 1.0], 2, false),
            Err(MetricsError::NonFinite { .. })
        ));
    }

    #[test]
    fn trace_sqrt_matches_closed_forms() {
        // Diagonal: tr sqrt(diag(a) diag(b)) = Σ sqrt(a_i b_i).
        let s1 = [4.0, 0.0, 0.0, 9.0];
        let s2 = [1.0, 0.0, 0.0, 16.0];
        let t = trace_sqrt_product(&s1, &s2, 2).unwrap();
        assert!((t.trace - (2.0 + 12.0)).abs() < 1e-12);
        // Σ with itself: tr Σ.
        let a = det_matrix(9, 3);
        let t = trace_sqrt_product(&a, &a, 9).unwrap();
        let tr: f64 = (0..9).map(|i| a[i * 9 + i]).sum();
        assert!((t.trace - tr).abs() < 1e-10 * tr);
        // Not PSD.
        let bad = [1.0, 0.0, 0.0, -1.0];
        assert!(matches!(
            trace_sqrt_product(&bad, &s2, 2),
            Err(MetricsError::NotPsd { .. })
        ));
    }

    #[test]
    fn offset_retry_follows_the_reference() {
        let s = [1.0, 0.0, 0.0, 1.0];
        let calls = std::cell::Cell::new(0);
        let (ts, offset) = with_offset_retry(&s, &s, 2, 1e-6, |a, b| {
            calls.set(calls.get() + 1);
            if calls.get() == 1 {
                return Ok(TraceSqrt {
                    trace: f64::NAN,
                    max_imag: 0.0,
                });
            }
            assert_eq!(a[0], 1.0 + 1e-6);
            assert_eq!(b[3], 1.0 + 1e-6);
            assert_eq!(a[1], 0.0);
            trace_sqrt_product(a, b, 2)
        })
        .unwrap();
        assert!(offset);
        assert!((ts.trace - 2.0 * (1.0 + 1e-6)).abs() < 1e-12);
        let r = with_offset_retry(&s, &s, 2, 1e-6, |_, _| Err(MetricsError::NotConverged));
        assert_eq!(r, Err(MetricsError::NotConverged));
        // The traces in the FID stay un-offset: FID of identical stats is 0 either way.
        let d = frechet_distance_detailed(&[0.0, 0.0], &s, &[0.0, 0.0], &s, 2, FID_EPS).unwrap();
        assert!(!d.offset_added && d.fid.abs() < 1e-12);
    }

    #[test]
    fn choice_is_distinct_and_deterministic() {
        let mut a = Rng::new(5);
        let mut b = Rng::new(5);
        let x = choice_without_replacement(&mut a, 50, 50).unwrap();
        assert_eq!(x, choice_without_replacement(&mut b, 50, 50).unwrap());
        let mut s = x.clone();
        s.sort();
        assert_eq!(s, (0..50).collect::<Vec<_>>());
        assert!(choice_without_replacement(&mut a, 3, 4).is_err());
        assert_eq!(diversity_times(301), 300);
        assert_eq!(diversity_times(300), 100);
    }

    #[test]
    fn top_k_needs_k_candidates_and_nan_sorts_last() {
        let order = argsort_rows(&[f64::NAN, 1.0, 0.5, -f64::NAN, 2.0, 0.0], 3).unwrap();
        assert_eq!(order, vec![2, 1, 0, 2, 1, 0]);
        assert!(calculate_top_k(&[0, 1, 1, 0], 2, 3).is_err());
        let hits = calculate_top_k(&[1, 0, 2, 0, 2, 1, 0, 1, 2], 3, 3).unwrap();
        assert_eq!(
            hits,
            vec![false, true, true, false, false, true, false, false, true]
        );
    }

    #[test]
    fn report_row_and_errors() {
        let rep = |fid: f64, mm: Option<f64>| ReplicationMetrics {
            fid,
            diversity: 9.5,
            r_precision: [0.5, 0.7, 0.8],
            matching: 3.0,
            multimodality: mm,
            mpjpe: None,
        };
        let r =
            MetricsReport::from_replications("ours", &[rep(0.1, Some(1.0)), rep(0.3, Some(1.0))]).unwrap();
        assert!((r.fid.mean - 0.2).abs() < 1e-15);
        assert!((r.fid.conf - 1.96 * 0.1 / 2f64.sqrt()).abs() < 1e-15);
        assert_eq!(
            r.to_string(),
            "| ours | 0.200±0.139 | 9.500±0.000 | 0.500±0.000 | 0.700±0.000 | 0.800±0.000 | 3.000±0.000 | 1.000±0.000 | – |"
        );
        assert!(MetricsReport::markdown_header().starts_with("| Run |"));
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains("\"multimodality\"") && !json.contains("mpjpe"));
        assert!(matches!(
            MetricsReport::from_replications("x", &[rep(0.1, Some(1.0)), rep(0.1, None)]),
            Err(MetricsError::Inconsistent(_))
        ));
        assert!(MetricsReport::from_replications("x", &[]).is_err());
    }

    #[test]
    fn shape_errors_are_typed() {
        assert!(matches!(
            euclidean_distance_matrix(&[1.0; 5], &[1.0; 4], 2),
            Err(MetricsError::NotWholeRows { .. })
        ));
        assert!(matches!(
            euclidean_distance_matrix(&[1.0; 4], &[1.0; 4], 0),
            Err(MetricsError::ZeroDim { .. })
        ));
        assert!(matches!(
            activation_statistics(&[1.0; 4], 4),
            Err(MetricsError::TooFewSamples { .. })
        ));
        assert!(matches!(
            activation_statistics(&[1.0, f32::NAN, 0.0, 0.0], 2),
            Err(MetricsError::NonFinite { .. })
        ));
        assert!(matches!(
            r_precision_and_matching(&[0.0; 20], &[0.0; 20], 2, 4),
            Err(MetricsError::PartialBatch { .. })
        ));
        assert!(matches!(
            r_precision_and_matching(&[0.0; 8], &[0.0; 6], 2, 2),
            Err(MetricsError::ShapeMismatch { .. })
        ));
        assert!(matches!(
            diversity(&[0.0; 200], 2, &mut Rng::new(0)),
            Err(MetricsError::TooFewSamples { .. })
        ));
        assert!(matches!(
            multimodality(&[0.0; 40], 10, 2, 10, &mut Rng::new(0)),
            Err(MetricsError::TooFewSamples { .. })
        ));
        assert!(matches!(
            diversity_from_indices(&[0.0; 8], 2, &[0, 4], &[1, 2]),
            Err(MetricsError::IndexOutOfRange { .. })
        ));
        assert!(mean_and_confidence(&[]).is_err());
    }
}
