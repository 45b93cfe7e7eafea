//! Seam metrics: how abruptly a motion changes where generated pieces meet (edit span
//! boundaries, long-motion windows and timeline segments).
//!
//! The velocity of joint j at frame t is `p[t+1] − p[t]` (mm/frame); its change at frame t is
//! `a[t] = |p[t+1] − 2·p[t] + p[t−1]|`, and `A[t] = max_j a[t]`. A seam at frame s (the first
//! frame of new content) gets:
//!
//! * `jump`: the largest `A[t]` for t in s−1..=s+1 (a cut may land one frame either side after
//!   the VQ decoder's smoothing),
//! * `typical`: the mean `A[t]` over the frames within one second of the seam, excluding the
//!   five frames around it,
//! * `ratio = jump / typical`.
//!
//! Because `jump` is a maximum over three frames and `typical` a mean, a seamless motion has
//! ratios around 1–2; [`baseline`] gives the same statistic at frames far from any seam, which is
//! what a seam should be compared with. A hard cut between two independent motions scores ≫ 10.

use serde::Serialize;

use crate::motion::JointPositions;

/// Frames either side of a seam that `typical` averages over (one second at 20 fps).
pub const NEIGHBOURHOOD: usize = 20;
/// Frames either side of a seam left out of `typical`.
const EXCLUDE: usize = 2;

/// The metric at one seam; distances in millimetres per frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeamMetric {
    /// First frame of the new content.
    pub frame: usize,
    /// What meets here: `"span start"`, `"span end"`, `"window"` or `"segment"`.
    pub kind: &'static str,
    /// Largest joint velocity change (mm/frame) at the seam.
    pub jump_mm: f32,
    /// Mean of the same per-frame maximum nearby (mm/frame).
    pub typical_mm: f32,
    /// `jump_mm / typical_mm`.
    pub ratio: f32,
}

/// The same ratio at frames far from any seam: median and 95th percentile.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Baseline {
    pub median: f32,
    pub p95: f32,
    /// Frames it was measured at.
    pub frames: usize,
}

/// `A[t]` (mm/frame) for t in 1..F−1; entries 0 and F−1 are 0.
pub fn velocity_changes(joints: &JointPositions) -> Vec<f32> {
    let f = joints.frames;
    let mut out = vec![0.0f32; f];
    for (t, slot) in out.iter_mut().enumerate().take(f.saturating_sub(1)).skip(1) {
        let mut m = 0.0f32;
        for j in 0..joints.joints {
            let (a, b, c) = (joints.get(t - 1, j), joints.get(t, j), joints.get(t + 1, j));
            let d: f32 = (0..3).map(|k| (c[k] - 2.0 * b[k] + a[k]).powi(2)).sum();
            m = m.max(d.sqrt());
        }
        *slot = m * 1000.0;
    }
    out
}

fn ratio_at(acc: &[f32], s: usize) -> Option<(f32, f32)> {
    let f = acc.len();
    if f < 3 || s == 0 || s >= f - 1 {
        return None;
    }
    let jump = (s.saturating_sub(1).max(1)..=(s + 1).min(f - 2))
        .map(|t| acc[t])
        .fold(0.0f32, f32::max);
    let lo = s.saturating_sub(NEIGHBOURHOOD).max(1);
    let hi = (s + NEIGHBOURHOOD).min(f - 2);
    let near: Vec<f32> = (lo..=hi)
        .filter(|&t| t + EXCLUDE < s || t > s + EXCLUDE)
        .map(|t| acc[t])
        .collect();
    if near.is_empty() {
        return None;
    }
    let typical = near.iter().sum::<f32>() / near.len() as f32;
    Some((jump, typical))
}

/// Metrics at `seams` (`(frame, kind)`); seams at the first or last frame are skipped.
pub fn seam_metrics(joints: &JointPositions, seams: &[(usize, &'static str)]) -> Vec<SeamMetric> {
    let acc = velocity_changes(joints);
    seams
        .iter()
        .filter_map(|&(frame, kind)| {
            let (jump, typical) = ratio_at(&acc, frame)?;
            Some(SeamMetric {
                frame,
                kind,
                jump_mm: jump,
                typical_mm: typical,
                // A motion at rest has no velocity change: a floor of 0.01 mm keeps it finite.
                ratio: jump / typical.max(0.01),
            })
        })
        .collect()
}

/// The seam ratio measured at every frame at least [`NEIGHBOURHOOD`] frames from all `seams`
/// (and from both ends): how large the statistic is where nothing was stitched.
pub fn baseline(joints: &JointPositions, seams: &[usize]) -> Option<Baseline> {
    let acc = velocity_changes(joints);
    let f = acc.len();
    let mut ratios: Vec<f32> = (NEIGHBOURHOOD..f.saturating_sub(NEIGHBOURHOOD))
        .filter(|&t| seams.iter().all(|&s| t.abs_diff(s) >= NEIGHBOURHOOD))
        .filter_map(|t| ratio_at(&acc, t).map(|(j, typ)| j / typ.max(0.01)))
        .collect();
    if ratios.is_empty() {
        return None;
    }
    ratios.sort_by(f32::total_cmp);
    let at = |q: f32| ratios[((ratios.len() - 1) as f32 * q).round() as usize];
    Some(Baseline {
        median: at(0.5),
        p95: at(0.95),
        frames: ratios.len(),
    })
}

/// One line per seam, for the CLI.
pub fn describe(metrics: &[SeamMetric], baseline: Option<&Baseline>) -> String {
    let mut out = String::new();
    for m in metrics {
        out.push_str(&format!(
            "seam at frame {} ({}): velocity jump {:.1} mm/frame vs {:.1} typical nearby (×{:.2})\n",
            m.frame, m.kind, m.jump_mm, m.typical_mm, m.ratio
        ));
    }
    if let Some(b) = baseline {
        out.push_str(&format!(
            "same ratio away from seams: median ×{:.2}, 95th percentile ×{:.2} ({} frames)\n",
            b.median, b.p95, b.frames
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A joint moving at constant velocity, optionally jumping sideways at `cut`.
    fn line(frames: usize, cut: Option<usize>) -> JointPositions {
        let mut j = JointPositions::zeros(frames, 2);
        for t in 0..frames {
            let wobble = 0.002 * ((t as f32) * 0.7).sin();
            let offset = if cut.is_some_and(|c| t >= c) { 0.3 } else { 0.0 };
            j.set(t, 0, [0.01 * t as f32 + offset, 0.9 + wobble, 0.0]);
            j.set(t, 1, [0.01 * t as f32, 0.5, wobble]);
        }
        j
    }

    #[test]
    fn a_cut_scores_far_above_smooth_motion() {
        let smooth = seam_metrics(&line(120, None), &[(60, "window")]);
        let cut = seam_metrics(&line(120, Some(60)), &[(60, "window")]);
        assert!(smooth[0].ratio < 3.0, "{smooth:?}");
        assert!(cut[0].ratio > 20.0, "{cut:?}");
        assert!((cut[0].jump_mm - 300.0).abs() < 10.0, "{cut:?}");
        let b = baseline(&line(120, None), &[60]).unwrap();
        assert!(b.p95 < 3.0 && b.frames > 20, "{b:?}");
    }

    #[test]
    fn seams_at_the_ends_are_skipped() {
        let j = line(40, None);
        assert!(seam_metrics(&j, &[(0, "window"), (39, "window")]).is_empty());
        assert!(
            velocity_changes(&JointPositions::zeros(1, 1))
                .iter()
                .all(|&v| v == 0.0)
        );
    }
}
