//! The HumanML3D 22-joint and KIT-ML 21-joint skeletons (spec §1.2).
//!
//! Each chain starts at the root (or at a joint of an earlier chain); a joint's parent is the
//! previous element of its chain. Raw offsets are unit directions of the rest pose; the target
//! offsets used by feature extraction are `raw_offset · bone_length`.

use super::error::MotionError;

/// Parent of each HumanML3D joint (`-1` for the root).
pub const HML_PARENTS: [i32; 22] = [
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19,
];

/// HumanML3D kinematic chains (`utils/paramUtil.py`): right leg, left leg, spine/head,
/// right arm, left arm.
pub const HML_KINEMATIC_CHAIN: [&[usize]; 5] = [
    &[0, 2, 5, 8, 11],
    &[0, 1, 4, 7, 10],
    &[0, 3, 6, 9, 12, 15],
    &[9, 14, 17, 19, 21],
    &[9, 13, 16, 18, 20],
];

/// HumanML3D raw offsets (`t2m_raw_offsets`): the rest-pose direction of each bone.
pub const HML_RAW_OFFSETS: [[f32; 3]; 22] = [
    [0.0, 0.0, 0.0],
    [1.0, 0.0, 0.0],
    [-1.0, 0.0, 0.0],
    [0.0, 1.0, 0.0],
    [0.0, -1.0, 0.0],
    [0.0, -1.0, 0.0],
    [0.0, 1.0, 0.0],
    [0.0, -1.0, 0.0],
    [0.0, -1.0, 0.0],
    [0.0, 1.0, 0.0],
    [0.0, 0.0, 1.0],
    [0.0, 0.0, 1.0],
    [0.0, 1.0, 0.0],
    [1.0, 0.0, 0.0],
    [-1.0, 0.0, 0.0],
    [0.0, 0.0, 1.0],
    [0.0, -1.0, 0.0],
    [0.0, -1.0, 0.0],
    [0.0, -1.0, 0.0],
    [0.0, -1.0, 0.0],
    [0.0, -1.0, 0.0],
    [0.0, -1.0, 0.0],
];

/// Target bone lengths in metres (parent → joint) of the HumanML3D reference skeleton
/// (first frame of subject `000021`, as measured in spec §1.2). `0` for the root.
pub const HML_BONE_LENGTHS: [f32; 22] = [
    0.0, 0.103074, 0.109883, 0.131568, 0.393623, 0.390188, 0.143190, 0.432433, 0.425643, 0.057365, 0.143382,
    0.149419, 0.219360, 0.137487, 0.143383, 0.103039, 0.131614, 0.122984, 0.256840, 0.263092, 0.266012,
    0.269876,
];

/// SMPL names of the 22 HumanML3D joints (index order).
pub const HML_JOINT_NAMES: [&str; 22] = [
    "pelvis",
    "left_hip",
    "right_hip",
    "spine1",
    "left_knee",
    "right_knee",
    "spine2",
    "left_ankle",
    "right_ankle",
    "spine3",
    "left_foot",
    "right_foot",
    "neck",
    "left_collar",
    "right_collar",
    "head",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
];

/// HumanML3D left foot joints (ankle, foot) for contacts.
pub const HML_FOOT_LEFT: [usize; 2] = [7, 10];
/// HumanML3D right foot joints (ankle, foot) for contacts.
pub const HML_FOOT_RIGHT: [usize; 2] = [8, 11];
/// HumanML3D facing joints `(r_hip, l_hip, r_shoulder, l_shoulder)`.
pub const HML_FACE_JOINTS: [usize; 4] = [2, 1, 17, 16];
/// HumanML3D lower-leg joints whose bones set the retarget scale (`l_idx1, l_idx2`).
pub const HML_LOWER_LEG: [usize; 2] = [5, 8];

/// Parent of each KIT-ML joint (`-1` for the root), derived from [`KIT_KINEMATIC_CHAIN`].
pub const KIT_PARENTS: [i32; 21] = [
    -1, 0, 1, 2, 3, 3, 5, 6, 3, 8, 9, 0, 11, 12, 13, 14, 0, 16, 17, 18, 19,
];

/// KIT-ML kinematic chains (`utils/paramUtil.py`).
pub const KIT_KINEMATIC_CHAIN: [&[usize]; 5] = [
    &[0, 11, 12, 13, 14, 15],
    &[0, 16, 17, 18, 19, 20],
    &[0, 1, 2, 3, 4],
    &[3, 5, 6, 7],
    &[3, 8, 9, 10],
];

/// KIT-ML raw offsets (`kit_raw_offsets`).
pub const KIT_RAW_OFFSETS: [[f32; 3]; 21] = [
    [0.0, 0.0, 0.0],
    [0.0, 1.0, 0.0],
    [0.0, 1.0, 0.0],
    [0.0, 1.0, 0.0],
    [0.0, 1.0, 0.0],
    [1.0, 0.0, 0.0],
    [0.0, -1.0, 0.0],
    [0.0, -1.0, 0.0],
    [-1.0, 0.0, 0.0],
    [0.0, -1.0, 0.0],
    [0.0, -1.0, 0.0],
    [1.0, 0.0, 0.0],
    [0.0, -1.0, 0.0],
    [0.0, -1.0, 0.0],
    [0.0, 0.0, 1.0],
    [0.0, 0.0, 1.0],
    [-1.0, 0.0, 0.0],
    [0.0, -1.0, 0.0],
    [0.0, -1.0, 0.0],
    [0.0, 0.0, 1.0],
    [0.0, 0.0, 1.0],
];

/// Descriptive KIT-ML joint names. They follow the reference code's own "r"/"l" labels
/// (`fid_r = [14, 15]`, `face_joint_indx = [11, 16, 5, 8]` = r_hip, l_hip, r_sdr, l_sdr).
pub const KIT_JOINT_NAMES: [&str; 21] = [
    "root",
    "spine_lower",
    "spine_upper",
    "neck",
    "head",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "right_hip",
    "right_knee",
    "right_ankle",
    "right_metatarsal",
    "right_toe",
    "left_hip",
    "left_knee",
    "left_ankle",
    "left_metatarsal",
    "left_toe",
];

/// KIT-ML "left" foot joints for contacts (`fid_l`).
pub const KIT_FOOT_LEFT: [usize; 2] = [19, 20];
/// KIT-ML "right" foot joints for contacts (`fid_r`).
pub const KIT_FOOT_RIGHT: [usize; 2] = [14, 15];
/// KIT-ML facing joints `(r_hip, l_hip, r_shoulder, l_shoulder)`.
pub const KIT_FACE_JOINTS: [usize; 4] = [11, 16, 5, 8];
/// KIT-ML lower-leg joints for the retarget scale.
pub const KIT_LOWER_LEG: [usize; 2] = [17, 18];

/// A kinematic skeleton: topology, rest directions, target bone lengths and the joint sets the
/// feature extraction needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Skeleton {
    /// Short name (`"humanml3d"` or `"kit"`).
    pub name: String,
    /// Parent of each joint, `-1` for the root.
    pub parents: Vec<i32>,
    /// Unit rest-pose direction of each bone (parent → joint); zero for the root.
    pub raw_offsets: Vec<[f32; 3]>,
    /// Target bone length of each joint (metres); `0` for the root. All zero when unknown.
    pub bone_lengths: Vec<f32>,
    /// Joint names in index order.
    pub joint_names: Vec<String>,
    /// Kinematic chains, each a path starting at the root or at a joint of an earlier chain.
    pub chains: Vec<Vec<usize>>,
    /// Left foot joints `(ankle, foot)` for contacts.
    pub foot_left: [usize; 2],
    /// Right foot joints `(ankle, foot)` for contacts.
    pub foot_right: [usize; 2],
    /// Facing joints `(r_hip, l_hip, r_shoulder, l_shoulder)`.
    pub face_joints: [usize; 4],
    /// The two lower-leg joints whose bone lengths set the retarget scale.
    pub lower_leg: [usize; 2],
}

impl Skeleton {
    /// The HumanML3D (SMPL body) 22-joint skeleton with its target bone lengths.
    pub fn humanml3d() -> Self {
        Self {
            name: "humanml3d".into(),
            parents: HML_PARENTS.to_vec(),
            raw_offsets: HML_RAW_OFFSETS.to_vec(),
            bone_lengths: HML_BONE_LENGTHS.to_vec(),
            joint_names: HML_JOINT_NAMES.iter().map(|s| s.to_string()).collect(),
            chains: HML_KINEMATIC_CHAIN.iter().map(|c| c.to_vec()).collect(),
            foot_left: HML_FOOT_LEFT,
            foot_right: HML_FOOT_RIGHT,
            face_joints: HML_FACE_JOINTS,
            lower_leg: HML_LOWER_LEG,
        }
    }

    /// The KIT-ML 21-joint skeleton. Its target skeleton (`03950_gt`) is not published, so the
    /// bone lengths are all zero: set them with [`Skeleton::with_bone_lengths`] before
    /// extracting features.
    pub fn kit() -> Self {
        Self {
            name: "kit".into(),
            parents: KIT_PARENTS.to_vec(),
            raw_offsets: KIT_RAW_OFFSETS.to_vec(),
            bone_lengths: vec![0.0; 21],
            joint_names: KIT_JOINT_NAMES.iter().map(|s| s.to_string()).collect(),
            chains: KIT_KINEMATIC_CHAIN.iter().map(|c| c.to_vec()).collect(),
            foot_left: KIT_FOOT_LEFT,
            foot_right: KIT_FOOT_RIGHT,
            face_joints: KIT_FACE_JOINTS,
            lower_leg: KIT_LOWER_LEG,
        }
    }

    /// The skeleton with other target bone lengths (one per joint, root first).
    pub fn with_bone_lengths(mut self, lengths: Vec<f32>) -> Result<Self, MotionError> {
        if lengths.len() != self.joints() {
            return Err(MotionError::WrongJointCount {
                expected: self.joints(),
                got: lengths.len(),
            });
        }
        self.bone_lengths = lengths;
        Ok(self)
    }

    /// Number of joints.
    pub fn joints(&self) -> usize {
        self.parents.len()
    }

    /// Whether every non-root bone has a positive, finite target length.
    pub fn has_bone_lengths(&self) -> bool {
        self.bone_lengths
            .iter()
            .skip(1)
            .all(|&l| l.is_finite() && l > 0.0)
    }

    /// Target offsets `raw_offset · bone_length` (float32, as the reference stores them).
    pub fn target_offsets(&self) -> Vec<[f32; 3]> {
        self.raw_offsets
            .iter()
            .zip(&self.bone_lengths)
            .map(|(o, &l)| [o[0] * l, o[1] * l, o[2] * l])
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parents_from_chains(chains: &[&[usize]], n: usize) -> Vec<i32> {
        let mut p = vec![-1; n];
        for c in chains {
            for w in c.windows(2) {
                p[w[1]] = w[0] as i32;
            }
        }
        p
    }

    #[test]
    fn parents_follow_chains() {
        assert_eq!(
            parents_from_chains(&HML_KINEMATIC_CHAIN, 22),
            HML_PARENTS.to_vec()
        );
        assert_eq!(
            parents_from_chains(&KIT_KINEMATIC_CHAIN, 21),
            KIT_PARENTS.to_vec()
        );
    }

    #[test]
    fn skeletons_are_consistent() {
        let h = Skeleton::humanml3d();
        assert_eq!(h.joints(), 22);
        assert!(h.has_bone_lengths());
        assert_eq!(h.target_offsets()[4], [0.0, -0.393623, 0.0]);
        let k = Skeleton::kit();
        assert_eq!(k.joints(), 21);
        assert!(!k.has_bone_lengths());
        assert!(k.clone().with_bone_lengths(vec![0.1; 20]).is_err());
        assert!(k.with_bone_lengths(vec![0.1; 21]).is_ok());
    }
}
