//! Features → joint positions (spec §1.7): `recover_root_rot_pos` and `recover_from_ric`.
//!
//! Only the root channels `[0:4]` and the RIC positions are used. The math is float32 like the
//! reference (torch on CPU); the two cumulative sums accumulate in float64 and round each
//! partial sum to float32, which is what torch's CPU `cumsum` does for float32 tensors.

use super::error::MotionError;
use super::joints::JointPositions;
use super::layout::FeatureLayout;
use super::quat::{Quat, Vec3, qinv, qrot};
use crate::io::npy::{NpyArray, NpyDtype};

/// De-normalises model output with float64 statistics: `x · std + mean` per feature, computed
/// in float64 and rounded to float32. This is what `gen_t2m.py` does with the official
/// `meta/mean.npy` / `std.npy`, which are float64 arrays (spec §1.4).
///
/// `features` is row-major `(frames, dim)` with `dim = mean.len() = std.len()`.
pub fn denormalize_f64(features: &[f32], mean: &[f64], std: &[f64]) -> Result<Vec<f32>, MotionError> {
    check_stats(features.len(), mean.len(), std.len())?;
    Ok(features
        .chunks_exact(mean.len())
        .flat_map(|row| {
            row.iter()
                .zip(mean.iter().zip(std))
                .map(|(&x, (&m, &s))| (x as f64 * s + m) as f32)
        })
        .collect())
}

/// De-normalises model output with float32 statistics: `x · std + mean` per feature in
/// float32 (two roundings, no fused multiply-add), which is what numpy computes when the meta
/// files are float32 arrays (as in the small fixture tree). For float64 files use
/// [`denormalize_f64`], or [`denormalize_npy`] to pick by dtype.
///
pub fn denormalize(features: &[f32], mean: &[f32], std: &[f32]) -> Result<Vec<f32>, MotionError> {
    check_stats(features.len(), mean.len(), std.len())?;
    Ok(features
        .chunks_exact(mean.len())
        .flat_map(|row| {
            row.iter()
                .zip(mean.iter().zip(std))
                .map(|(&x, (&m, &s))| x * s + m)
        })
        .collect())
}

/// De-normalises with `.npy` statistics the way the reference does for their dtype: float64
/// arithmetic if either array is float64 (numpy promotes), float32 otherwise.
pub fn denormalize_npy(features: &[f32], mean: &NpyArray, std: &NpyArray) -> Result<Vec<f32>, MotionError> {
    if mean.dtype == NpyDtype::F64 || std.dtype == NpyDtype::F64 {
        denormalize_f64(features, &mean.to_f64()?, &std.to_f64()?)
    } else {
        denormalize(features, &mean.to_f32()?, &std.to_f32()?)
    }
}

fn check_stats(n: usize, mean: usize, std: usize) -> Result<(), MotionError> {
    if std != mean {
        return Err(MotionError::WrongLength {
            expected: mean,
            got: std,
        });
    }
    if mean == 0 || !n.is_multiple_of(mean) {
        return Err(MotionError::WrongLength {
            expected: n.div_ceil(mean.max(1)) * mean,
            got: n,
        });
    }
    Ok(())
}

/// Checks the buffer length and that the channels `recover_*` reads are finite.
fn check_features(features: &[f32], frames: usize, layout: &FeatureLayout) -> Result<(), MotionError> {
    let expected = frames * layout.dim;
    if features.len() != expected {
        return Err(MotionError::WrongLength {
            expected,
            got: features.len(),
        });
    }
    let used = layout.ric_range().end;
    for (t, row) in features.chunks_exact(layout.dim).enumerate() {
        if let Some(i) = row[..used].iter().position(|v| !v.is_finite()) {
            return Err(MotionError::NonFiniteFeature { frame: t, index: i });
        }
    }
    Ok(())
}

/// Root heading and position per frame from the root channels.
///
/// * heading: `θ_t = Σ_{k<t} features[k, 0]` (half-angles, shifted by one frame),
///   `r_rot[t] = (cos θ_t, 0, sin θ_t, 0)`;
/// * position: `Σ_{1≤k≤t} r_rot[k]⁻¹ · (features[k−1, 1], 0, features[k−1, 2])`, with `y`
///   replaced by `features[t, 3]` (not shifted).
///
/// Returns `(r_rot, r_pos)`, one entry per frame.
pub fn recover_root_rot_pos(
    features: &[f32],
    frames: usize,
    layout: &FeatureLayout,
) -> Result<(Vec<Quat>, Vec<Vec3>), MotionError> {
    check_features(features, frames, layout)?;
    let dim = layout.dim;
    let row = |t: usize| &features[t * dim..(t + 1) * dim];

    let mut r_rot = Vec::with_capacity(frames);
    let mut acc = 0.0f64;
    for t in 0..frames {
        if t > 0 {
            acc += row(t - 1)[FeatureLayout::ROOT_ROT_VEL] as f64;
        }
        let theta = acc as f32;
        r_rot.push([theta.cos(), 0.0, theta.sin(), 0.0]);
    }

    let mut r_pos = Vec::with_capacity(frames);
    let mut sum = [0.0f64; 3];
    for (t, &rot) in r_rot.iter().enumerate() {
        let vel = if t > 0 {
            let prev = row(t - 1);
            [prev[1], 0.0, prev[2]]
        } else {
            [0.0; 3]
        };
        let v = qrot(qinv(rot), vel);
        for a in 0..3 {
            sum[a] += v[a] as f64;
        }
        r_pos.push([sum[0] as f32, row(t)[FeatureLayout::ROOT_Y], sum[2] as f32]);
    }
    Ok((r_rot, r_pos))
}

/// Joint positions from RIC features (`recover_from_ric`, spec §1.7).
///
/// `features` is row-major `(frames, layout.dim)`, de-normalised. Joint 0 is the recovered
/// root; joints `1..J` are the RIC positions rotated back by `r_rot⁻¹` and shifted by the root
/// `x`/`z` (their `y` is already absolute).
pub fn recover_from_ric(
    features: &[f32],
    frames: usize,
    layout: &FeatureLayout,
) -> Result<JointPositions, MotionError> {
    let (r_rot, r_pos) = recover_root_rot_pos(features, frames, layout)?;
    let joints = layout.joints;
    let ric = layout.ric_range();
    let mut out = JointPositions::zeros(frames, joints);
    for t in 0..frames {
        let row = &features[t * layout.dim..(t + 1) * layout.dim];
        let inv = qinv(r_rot[t]);
        let root = r_pos[t];
        out.set(t, 0, root);
        for (j, p) in row[ric.clone()].chunks_exact(3).enumerate() {
            let mut q = qrot(inv, [p[0], p[1], p[2]]);
            q[0] += root[0];
            q[2] += root[2];
            out.set(t, j + 1, q);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::motion::layout::HUMANML3D;

    #[test]
    fn first_frame_is_at_origin_facing_z() {
        let mut f = vec![0.0f32; 2 * 263];
        f[3] = 0.9;
        f[4..7].copy_from_slice(&[0.1, 0.8, 0.2]);
        f[0] = 0.5; // yaw velocity only affects frame 1
        f[1] = 0.1;
        f[2] = 0.3;
        f[263 + 3] = 0.95;
        let j = recover_from_ric(&f, 2, &HUMANML3D).unwrap();
        assert_eq!(j.get(0, 0), [0.0, 0.9, 0.0]);
        assert_eq!(j.get(0, 1), [0.1, 0.8, 0.2]);
        // Frame 1: heading θ = 0.5 (half-angle), displacement rotated by r_rot⁻¹.
        let r = j.get(1, 0);
        let (s, c) = (1.0f32.sin(), 1.0f32.cos());
        assert!((r[0] - (c * 0.1 - s * 0.3)).abs() < 1e-6);
        assert!((r[2] - (s * 0.1 + c * 0.3)).abs() < 1e-6);
        assert_eq!(r[1], 0.95);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(matches!(
            recover_from_ric(&[0.0; 262], 1, &HUMANML3D),
            Err(MotionError::WrongLength { .. })
        ));
        let mut f = vec![0.0f32; 263];
        f[10] = f32::NAN;
        assert!(matches!(
            recover_from_ric(&f, 1, &HUMANML3D),
            Err(MotionError::NonFiniteFeature { frame: 0, index: 10 })
        ));
        assert!(denormalize(&[0.0; 5], &[0.0; 2], &[1.0; 2]).is_err());
        assert_eq!(
            denormalize(&[1.0, 2.0], &[0.5, 0.5], &[2.0, 3.0]).unwrap(),
            vec![2.5, 6.5]
        );
        assert_eq!(
            denormalize_f64(&[1.0, 2.0], &[0.5, 0.5], &[2.0, 3.0]).unwrap(),
            vec![2.5, 6.5]
        );
    }
}
