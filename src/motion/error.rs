//! Typed errors of the motion module.
//!
//! Every function that takes user data (features, joints, JSON, BVH text) reports problems
//! through [`MotionError`] instead of panicking.

use crate::io::npy::NpyError;

/// Everything that can go wrong while converting between features, joints and BVH.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MotionError {
    /// A flat buffer does not have the length its shape needs.
    #[error("wrong data length: expected {expected} values, got {got}")]
    WrongLength { expected: usize, got: usize },

    /// The number of joints does not match the skeleton or layout in use.
    #[error("wrong joint count: expected {expected} joints, got {got}")]
    WrongJointCount { expected: usize, got: usize },

    /// The operation needs more frames than it was given.
    #[error("too few frames: need at least {needed}, got {got}")]
    TooFewFrames { needed: usize, got: usize },

    /// A joint position is NaN or infinite.
    #[error("non-finite joint position at frame {frame}, joint {joint}")]
    NonFinite { frame: usize, joint: usize },

    /// A feature value is NaN or infinite.
    #[error("non-finite feature value at frame {frame}, index {index}")]
    NonFiniteFeature { frame: usize, index: usize },

    /// A bone has zero length (child on top of its parent), so its direction is undefined.
    #[error("degenerate bone at frame {frame}: joint {joint} coincides with its parent")]
    DegenerateBone { frame: usize, joint: usize },

    /// The body's facing direction cannot be computed (hips and shoulders give a vertical or
    /// zero "across" vector).
    #[error("cannot compute the facing direction at frame {frame}")]
    DegenerateFacing { frame: usize },

    /// The skeleton has no target bone lengths (e.g. KIT, whose target skeleton is unpublished).
    #[error("skeleton '{skeleton}' has no target bone lengths; set them with Skeleton::with_bone_lengths")]
    MissingBoneLengths { skeleton: String },

    /// The feature layout and the skeleton disagree.
    #[error("feature layout '{layout}' does not fit skeleton '{skeleton}'")]
    LayoutMismatch { layout: String, skeleton: String },

    /// Malformed BVH text; `line` is 1-based.
    #[error("BVH line {line}: {message}")]
    Bvh { line: usize, message: String },

    /// Malformed joints JSON.
    #[error("joints JSON: {0}")]
    Json(String),

    /// `.npy` encoding or decoding failed (the [`NpyError`] message).
    #[error("npy: {0}")]
    Npy(String),
}

impl From<NpyError> for MotionError {
    fn from(e: NpyError) -> Self {
        MotionError::Npy(e.to_string())
    }
}
