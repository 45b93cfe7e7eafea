//! The per-frame feature layout (spec §1.1, §1.3).
//!
//! With `J` joints a row holds, contiguously:
//! `[rot_vel (1) | root_vel_xz (2) | root_y (1) | ric (J−1)·3 | rot (J−1)·6 | vel J·3 | contacts 4]`.

use std::ops::Range;

/// Dataset constants and slice positions of the motion feature vector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeatureLayout {
    /// Short dataset name (`"humanml3d"` / `"kit"`).
    pub name: &'static str,
    /// Number of joints `J`.
    pub joints: usize,
    /// Feature dimension: `4 + (J−1)·9 + J·3 + 4`.
    pub dim: usize,
    /// Frame rate in frames per second.
    pub fps: f32,
    /// Foot-contact threshold on the squared per-frame displacement.
    pub feet_threshold: f32,
}

/// HumanML3D: 22 joints, 263 features, 20 fps, contact threshold 0.002.
pub const HUMANML3D: FeatureLayout = FeatureLayout {
    name: "humanml3d",
    joints: 22,
    dim: 263,
    fps: 20.0,
    feet_threshold: 0.002,
};

/// KIT-ML: 21 joints, 251 features, 12.5 fps, contact threshold 0.05.
pub const KIT: FeatureLayout = FeatureLayout {
    name: "kit",
    joints: 21,
    dim: 251,
    fps: 12.5,
    feet_threshold: 0.05,
};

impl FeatureLayout {
    /// Index of the root angular velocity about +Y (half-angle per frame).
    pub const ROOT_ROT_VEL: usize = 0;
    /// Index of the root height.
    pub const ROOT_Y: usize = 3;

    /// Root linear velocity `(x, z)` in the heading frame of the next frame: `1..3`.
    pub const fn root_vel_range(&self) -> Range<usize> {
        1..3
    }

    /// Rotation-invariant joint positions of joints `1..J`: `4 .. 4+(J−1)·3`.
    pub const fn ric_range(&self) -> Range<usize> {
        4..4 + (self.joints - 1) * 3
    }

    /// 6-D local rotations of joints `1..J`.
    pub const fn rot_range(&self) -> Range<usize> {
        let s = 4 + (self.joints - 1) * 3;
        s..s + (self.joints - 1) * 6
    }

    /// Velocities of all `J` joints in the heading frame of the current frame.
    pub const fn vel_range(&self) -> Range<usize> {
        let s = 4 + (self.joints - 1) * 9;
        s..s + self.joints * 3
    }

    /// Foot contacts: left ankle, left foot, right ankle, right foot.
    pub const fn contact_range(&self) -> Range<usize> {
        let s = 4 + (self.joints - 1) * 9 + self.joints * 3;
        s..s + 4
    }

    /// The layout for a joint count (22 → HumanML3D, 21 → KIT).
    pub fn for_joints(joints: usize) -> Option<FeatureLayout> {
        match joints {
            22 => Some(HUMANML3D),
            21 => Some(KIT),
            _ => None,
        }
    }

    /// The contact threshold as the `f64` the reference compares against. Going through the
    /// shortest decimal form turns `0.002f32` into exactly `0.002f64`.
    pub fn feet_threshold_f64(&self) -> f64 {
        self.feet_threshold
            .to_string()
            .parse::<f64>()
            .unwrap_or(self.feet_threshold as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_tile_the_vector() {
        for l in [HUMANML3D, KIT] {
            assert_eq!(l.ric_range().start, 4);
            assert_eq!(l.ric_range().end, l.rot_range().start);
            assert_eq!(l.rot_range().end, l.vel_range().start);
            assert_eq!(l.vel_range().end, l.contact_range().start);
            assert_eq!(l.contact_range().end, l.dim);
        }
        assert_eq!(HUMANML3D.ric_range(), 4..67);
        assert_eq!(HUMANML3D.rot_range(), 67..193);
        assert_eq!(HUMANML3D.vel_range(), 193..259);
        assert_eq!(HUMANML3D.contact_range(), 259..263);
        assert_eq!(KIT.ric_range(), 4..64);
        assert_eq!(KIT.rot_range(), 64..184);
        assert_eq!(KIT.vel_range(), 184..247);
        assert_eq!(KIT.contact_range(), 247..251);
        assert_eq!(HUMANML3D.feet_threshold_f64(), 0.002);
        assert_eq!(KIT.feet_threshold_f64(), 0.05);
    }
}
