//! Per-position token draws from guided logits, on the host (spec §3.7, §4.5).
//!
//! The reference's sampling is exact categorical sampling from `softmax(top_k(logits) / T)`,
//! either by a multinomial draw or by the Gumbel-max trick; both are reproduced here from our own
//! seeded [`Rng`](super::rng::Rng). A greedy mode takes the argmax, which is what the reference
//! does at its temperature floor of 1e-10 and what parity tests compare against.

use super::rng::Rng;
use serde::{Deserialize, Serialize};

/// How a token is drawn from its (top-k filtered) logits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Draw {
    /// Multinomial draw from `softmax(filtered / T)` (the masked model's default).
    #[default]
    Categorical,
    /// `argmax(filtered / max(T, 1e-10) + Gumbel noise)` (the residual model, and eval batches).
    Gumbel,
    /// `argmax(logits)`: deterministic, for exact comparison with the reference.
    Greedy,
}

/// Indices of the `k` largest logits, largest first (ties: lower index first, like a stable sort).
pub fn top_k_indices(logits: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..logits.len()).collect();
    let k = k.min(idx.len());
    // Total order: NaN sorts last so it is never kept ahead of a real logit.
    let key = |i: &usize| {
        let v = logits[*i];
        if v.is_nan() { f32::NEG_INFINITY } else { v }
    };
    idx.select_nth_unstable_by(k.saturating_sub(1), |a, b| {
        key(b).total_cmp(&key(a)).then(a.cmp(b))
    });
    idx.truncate(k);
    idx.sort_by(|a, b| key(b).total_cmp(&key(a)).then(a.cmp(b)));
    idx
}

/// Index of the largest value (first on ties, like `torch.argmax`).
pub fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

/// `softmax(logits)[index]` in f32 (the confidence score used for re-masking).
pub fn softmax_at(logits: &[f32], index: usize) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f32 = logits.iter().map(|&v| (v - max).exp()).sum();
    (logits[index] - max).exp() / sum
}

/// Draws one class from `logits` after keeping the `top_k` largest.
pub fn draw(logits: &[f32], top_k: usize, temperature: f32, mode: Draw, rng: &mut Rng) -> usize {
    match mode {
        Draw::Greedy => argmax(logits),
        Draw::Gumbel => {
            let t = temperature.max(1e-10);
            let kept = top_k_indices(logits, top_k);
            let mut best = kept[0];
            let mut best_score = f32::NEG_INFINITY;
            for &i in &kept {
                let score = logits[i] / t + rng.gumbel();
                if score > best_score {
                    best_score = score;
                    best = i;
                }
            }
            best
        }
        Draw::Categorical => {
            let kept = top_k_indices(logits, top_k);
            let t = temperature.max(1e-10);
            let max = logits[kept[0]] / t;
            let weights: Vec<f64> = kept
                .iter()
                .map(|&i| ((logits[i] / t - max) as f64).exp())
                .collect();
            let total: f64 = weights.iter().sum();
            let mut u = rng.uniform() * total;
            for (w, &i) in weights.iter().zip(&kept) {
                if u < *w {
                    return i;
                }
                u -= w;
            }
            kept[kept.len() - 1]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_keeps_the_largest() {
        let logits = [0.1, 3.0, -1.0, 2.0, 2.5];
        assert_eq!(top_k_indices(&logits, 3), vec![1, 4, 3]);
        assert_eq!(argmax(&logits), 1);
    }

    #[test]
    fn categorical_matches_softmax_frequencies() {
        // Statistical check: with k = 3 the draw frequencies follow softmax over the kept three.
        let logits = [1.0f32, 0.0, 2.0, -5.0, 0.5];
        let mut rng = Rng::new(42);
        let n = 60_000;
        for mode in [Draw::Categorical, Draw::Gumbel] {
            let mut counts = [0usize; 5];
            for _ in 0..n {
                counts[draw(&logits, 3, 1.0, mode, &mut rng)] += 1;
            }
            let kept = [0usize, 2, 4];
            let z: f64 = kept.iter().map(|&i| (logits[i] as f64).exp()).sum();
            for &i in &kept {
                let p = (logits[i] as f64).exp() / z;
                let f = counts[i] as f64 / n as f64;
                // 5 standard errors.
                let se = (p * (1.0 - p) / n as f64).sqrt();
                assert!(
                    (f - p).abs() < 5.0 * se,
                    "{mode:?} class {i}: freq {f:.4} vs p {p:.4}"
                );
            }
            assert_eq!(counts[1] + counts[3], 0, "{mode:?} drew outside the top-k");
        }
    }

    #[test]
    fn low_temperature_is_argmax() {
        let logits = [0.3f32, 0.31, 0.2];
        let mut rng = Rng::new(1);
        for _ in 0..100 {
            assert_eq!(draw(&logits, 3, 1e-10, Draw::Gumbel, &mut rng), 1);
            assert_eq!(draw(&logits, 3, 1e-6, Draw::Categorical, &mut rng), 1);
        }
    }
}
