//! Motion representation: skeletons, the 263-d feature vector, features ↔ joints, and BVH.
//!
//! # The HumanML3D 263-d feature vector (spec §1.3)
//!
//! One row per frame; a clip of `T` joint frames gives `T − 1` rows. With `J = 22` joints:
//!
//! | slice | size | content |
//! |---|---|---|
//! | `[0:1]` | 1 | root yaw velocity: `asin(y of r_rot[t+1]·r_rot[t]⁻¹)`, a **half**-angle per frame |
//! | `[1:3]` | 2 | root xz velocity, in the heading frame of frame `t+1` |
//! | `[3:4]` | 1 | root height `y` |
//! | `[4:67]` | 21·3 | "RIC" positions of joints 1..21: root x/z removed, rotated to face +Z, `y` absolute |
//! | `[67:193]` | 21·6 | 6-D local rotations of joints 1..21 (first two matrix columns) |
//! | `[193:259]` | 22·3 | joint velocities `p[t+1] − p[t]` in the heading frame of frame `t` |
//! | `[259:263]` | 4 | foot contacts: left ankle, left foot, right ankle, right foot |
//!
//! KIT-ML (`J = 21`) has the same structure in 251 dimensions. [`FeatureLayout`] gives the
//! slice ranges. Only `[0:4]` and the RIC block are needed to rebuild joint positions
//! ([`recover_from_ric`]).
//!
//! Module map:
//! * [`skeleton`] — HumanML3D / KIT skeleton tables and [`Skeleton`];
//! * [`quat`] — quaternion helpers (`[w, x, y, z]`);
//! * [`layout`] — [`FeatureLayout`], [`HUMANML3D`], [`KIT`];
//! * [`joints`] — [`JointPositions`] with `.npy` / JSON encodings;
//! * [`recover`] — features → joints ([`recover_from_ric`], [`denormalize`]);
//! * [`extract`] — joints → features ([`joints_to_features`]);
//! * [`bvh`] — joints → BVH fitting and writing, and a BVH parser;
//! * [`synthetic`] — a clean synthetic walk for tests and demos.
//!
//! Everything here works on plain slices and `Vec`s (no tensors, no files), so it builds for
//! `wasm32` as well.

pub mod bvh;
pub mod error;
pub mod extract;
pub mod joints;
pub mod layout;
pub mod quat;
pub mod recover;
pub mod skeleton;
pub mod synthetic;

pub use bvh::{Bvh, BvhOptions, ParsedBvh, joints_to_bvh, parse_bvh};
pub use error::MotionError;
pub use extract::{canonicalize_joints, joints_to_features};
pub use joints::JointPositions;
pub use layout::{FeatureLayout, HUMANML3D, KIT};
pub use recover::{denormalize, denormalize_f64, denormalize_npy, recover_from_ric, recover_root_rot_pos};
pub use skeleton::{
    HML_BONE_LENGTHS, HML_JOINT_NAMES, HML_KINEMATIC_CHAIN, HML_PARENTS, HML_RAW_OFFSETS, Skeleton,
};
