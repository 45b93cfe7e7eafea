//! The cosine masking schedule of MoMask's mask-predict decoding, in float32 exactly as the
//! reference computes it (spec §3.7): `t = linspace(0, 1, steps)`, `p = cos(t·π/2)`,
//! `count = round_half_even(p·len)`, at least 1.
//!
//! The float32 arithmetic matters: at step 6 of 10, `p = 0.49999997`, so odd lengths round
//! down (49 tokens → 24, where a float64 schedule would give 25 and diverge).

/// `torch.linspace(0, 1, steps)` as float32: PyTorch computes the points in double precision
/// (counting up from 0 in the first half and down from 1 in the second, so both ends are exact)
/// and rounds each to float32. A pure-f32 computation gives 0.6666666 instead of 0.6666667 at
/// step 6 of 10, which changes the masked counts.
pub fn linspace01(steps: usize) -> Vec<f32> {
    match steps {
        0 => vec![],
        1 => vec![0.0],
        _ => {
            let step = 1.0f64 / (steps - 1) as f64;
            let halfway = steps / 2;
            (0..steps)
                .map(|i| {
                    if i < halfway {
                        step * i as f64
                    } else {
                        1.0 - step * (steps - i - 1) as f64
                    }
                })
                .map(|t| t as f32)
                .collect()
        }
    }
}

/// Masking probability of each step: `cos(t·π·0.5)` in float32.
pub fn mask_probabilities(steps: usize) -> Vec<f32> {
    linspace01(steps)
        .into_iter()
        .map(|t| {
            let angle = t * std::f32::consts::PI * 0.5f32;
            // Correctly rounded f32 cosine, so native and wasm agree bit for bit.
            ((angle as f64).cos()) as f32
        })
        .collect()
}

/// Number of tokens to (re-)mask at a step: `round_half_even(prob·len)`, at least 1.
pub fn masked_count(prob: f32, len: usize) -> usize {
    let x = prob * len as f32;
    (x.round_ties_even().max(1.0)) as usize
}

/// Masked counts of every step for a sequence of `len` tokens.
pub fn schedule(steps: usize, len: usize) -> Vec<usize> {
    mask_probabilities(steps)
        .into_iter()
        .map(|p| masked_count(p, len))
        .collect()
}

/// Top-k count of the reference's `top_k` filter: `ceil((1 − thres)·classes)` computed in f64,
/// as Python does (so 0.9 keeps 52 of 512 and 7 of 64).
pub fn top_k_count(thres: f64, classes: usize) -> usize {
    (((1.0 - thres) * classes as f64).ceil() as usize).clamp(1, classes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_schedules_from_spec() {
        // The spec's table says 25 at step 6; the official code (fixture) gives 24.
        assert_eq!(schedule(10, 49), vec![49, 48, 46, 42, 38, 31, 24, 17, 9, 1]);
        assert_eq!(schedule(10, 40), vec![40, 39, 38, 35, 31, 26, 20, 14, 7, 1]);
        // Edit fixtures (18 steps over edit spans of 10 and 8 tokens).
        assert_eq!(
            schedule(18, 10),
            vec![10, 10, 10, 10, 9, 9, 9, 8, 7, 7, 6, 5, 4, 4, 3, 2, 1, 1]
        );
        assert_eq!(
            schedule(18, 8),
            vec![8, 8, 8, 8, 7, 7, 7, 6, 6, 5, 5, 4, 4, 3, 2, 1, 1, 1]
        );
        assert_eq!(mask_probabilities(10)[6].to_bits(), 0x3effffff);
    }

    #[test]
    fn top_k_counts() {
        assert_eq!(top_k_count(0.9, 512), 52);
        assert_eq!(top_k_count(0.9, 513), 52);
        assert_eq!(top_k_count(0.9, 64), 7);
        assert_eq!(top_k_count(0.9, 65), 7);
    }
}
