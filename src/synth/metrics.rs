//! Physical-plausibility metrics of a joint sequence (20 fps, metres, Y up).
//!
//! * **Bone error**: largest `| |p_j − p_parent| − target_length |` over all bones and frames.
//! * **Penetration**: how far the lowest joint goes below the floor plane `y = 0` of the
//!   generator (before the floor normalisation of the feature extraction).
//! * **Foot skate** (cm/frame): for each foot joint (ankles 7/8, toes 10/11), the frame pairs
//!   in which the joint is in ground contact in both frames — height below its flat-foot rest
//!   height + 2 cm (toe) or + 1.5 cm (ankle) — contribute their horizontal displacement; the
//!   metric is the mean displacement over all such contact pairs. A perfectly planted foot
//!   scores 0; rolling over the toe at push-off contributes a little, as in real motion.
//! * **Peak acceleration** (m/s²): largest second difference of any joint times fps²
//!   (spikes from discontinuities would show up here).

use super::body::{TOE_Y, ankle_y, bone};
use super::math::V3;
use crate::motion::skeleton::HML_PARENTS;

/// Metrics of one motion.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MotionMetrics {
    /// Largest bone-length error, metres.
    pub bone_err: f64,
    /// Lowest joint height (negative = below the floor), metres.
    pub min_y: f64,
    /// Sum of horizontal contact displacements, metres.
    pub skate_sum: f64,
    /// Number of contact frame pairs.
    pub skate_n: usize,
    /// Peak joint acceleration, m/s².
    pub max_acc: f64,
}

impl MotionMetrics {
    /// Mean skate in cm/frame (0 when no contact pairs).
    pub fn skate_cm(&self) -> f64 {
        if self.skate_n == 0 {
            0.0
        } else {
            100.0 * self.skate_sum / self.skate_n as f64
        }
    }
}

/// Contact height threshold of a foot joint.
pub fn contact_threshold(joint: usize) -> f64 {
    match joint {
        7 => ankle_y(0) + 0.015,
        8 => ankle_y(1) + 0.015,
        _ => TOE_Y + 0.02,
    }
}

/// Computes the metrics of a sequence of poses.
pub fn measure(frames: &[[V3; 22]], fps: f64) -> MotionMetrics {
    let mut m = MotionMetrics {
        min_y: f64::INFINITY,
        ..Default::default()
    };
    for p in frames {
        for j in 1..22 {
            let parent = HML_PARENTS[j] as usize;
            let e = ((p[j] - p[parent]).len() - bone(j)).abs();
            m.bone_err = m.bone_err.max(e);
        }
        for q in p.iter() {
            m.min_y = m.min_y.min(q.y);
        }
    }
    for w in frames.windows(2) {
        for j in [7usize, 8, 10, 11] {
            let th = contact_threshold(j);
            if w[0][j].y < th && w[1][j].y < th {
                m.skate_sum += (w[1][j] - w[0][j]).flat().len();
                m.skate_n += 1;
            }
        }
    }
    for w in frames.windows(3) {
        for ((a, b), c) in w[2].iter().zip(&w[1]).zip(&w[0]) {
            let a = (*a - *b * 2.0 + *c).len() * fps * fps;
            m.max_acc = m.max_acc.max(a);
        }
    }
    if !m.min_y.is_finite() {
        m.min_y = 0.0;
    }
    m
}
