//! Procedural motion corpus in the HumanML3D layout.
//!
//! HumanML3D cannot be downloaded everywhere, so this module builds a small procedural world of
//! human motion with text: kinematically clean motions on the 22-joint SMPL skeleton (exact
//! HumanML3D bone lengths, 20 fps, Y up, facing +Z, left = +X), each with three captions,
//! written in exactly the HumanML3D directory layout so the same loader
//! ([`dataset::HumanMl3dDataset`]) and trainer work on the real dataset too.
//!
//! * [`body`] — pose description and its resolution: FK of the pelvis/spine/neck/collars and
//!   analytic two-bone IK of the legs (toward planted ankle targets) and arms;
//! * [`track`], [`gait`] — foot plants, swings, paths, locomotion (walk … sprint);
//! * [`families`] — the motion families and their parameters ([`family_names`]);
//! * [`compose`] — idle padding and compositions "A then B (then C)" with cross-faded joins;
//! * [`captions`] — template grammar (train and test-only paraphrases) and POS tokens;
//! * [`corpus`] — the writer ([`synthesize_corpus`]); [`metrics`] — bone / floor / skate checks;
//! * [`preview`] — PNG contact sheets ([`contact_sheet`]); [`dataset`] — the loader.
//!
//! Determinism: every motion draws from its own SplitMix64 stream derived from
//! `(seed, index)`, outputs never depend on hash-map order, and the aggregate statistics are
//! summed in id order, so a seed gives a byte-identical corpus for any number of threads.

pub mod body;
pub mod captions;
pub mod compose;
pub mod corpus;
pub mod dataset;
pub mod families;
pub mod gait;
pub mod math;
pub mod metrics;
pub mod preview;
pub mod rng;
pub mod track;

use std::path::PathBuf;

use crate::io::npy::NpyError;
use crate::motion::error::MotionError;

pub use dataset::{Caption, DatasetError, HumanMl3dDataset};
pub use preview::contact_sheet;

/// Errors of the corpus synthesis.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// A file or directory could not be written or read.
    #[error("I/O error at {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A family name not in [`family_names`].
    #[error("unknown motion family '{0}' (see family_names())")]
    UnknownFamily(String),
    /// Invalid options.
    #[error("invalid synthesis options: {0}")]
    Invalid(String),
    /// Feature extraction or recovery failed.
    #[error("motion processing failed: {0}")]
    Motion(#[from] MotionError),
    /// `.npy` encoding failed.
    #[error("npy encoding failed: {0}")]
    Npy(#[from] NpyError),
    /// JSON encoding failed.
    #[error("JSON encoding failed: {0}")]
    Json(String),
    /// PNG encoding failed.
    #[error("PNG encoding failed: {0}")]
    Png(String),
}

/// Options of [`synthesize_corpus`].
#[derive(Debug, Clone, PartialEq)]
pub struct SynthOptions {
    /// Output directory (created if missing).
    pub out: PathBuf,
    /// Number of motions.
    pub count: usize,
    /// Corpus seed.
    pub seed: u64,
    /// Families to use (names from [`family_names`]; `"sequence"` enables compositions).
    /// Empty: all families and compositions.
    pub families: Vec<String>,
    /// Fraction of compositions when they are enabled alongside single families.
    pub composite_fraction: f64,
    /// Worker threads (0: available parallelism). Does not change the output.
    pub threads: usize,
}

impl SynthOptions {
    /// Defaults: all families, 20 % compositions, automatic threads.
    pub fn new(out: impl Into<PathBuf>, count: usize, seed: u64) -> Self {
        Self {
            out: out.into(),
            count,
            seed,
            families: Vec::new(),
            composite_fraction: 0.2,
            threads: 0,
        }
    }
}

/// Per-family quality figures of a written corpus.
#[derive(Debug, Clone, PartialEq)]
pub struct FamilyStats {
    pub family: String,
    /// Motions of this family.
    pub count: usize,
    /// Mean horizontal displacement of foot joints in ground contact (see [`metrics`]).
    pub skate_cm_per_frame: f64,
    /// Largest bone-length error.
    pub max_bone_err_mm: f64,
    /// Deepest joint below the floor.
    pub max_penetration_cm: f64,
    /// Peak joint acceleration, m/s².
    pub max_acc: f64,
    /// Largest features → joints round-trip error.
    pub roundtrip_max_mm: f64,
}

/// Summary of a written corpus.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthReport {
    pub count: usize,
    pub frames_total: usize,
    pub train: usize,
    pub val: usize,
    pub test: usize,
    /// `recover_from_ric(features)` vs the written `new_joints` (all frames but the last).
    pub roundtrip_max_mm: f64,
    pub roundtrip_mean_mm: f64,
    pub max_bone_err_mm: f64,
    pub max_penetration_cm: f64,
    /// Statistics per family (`"sequence"` for compositions), sorted by name.
    pub families: Vec<FamilyStats>,
    /// Dimensions whose Std was raised to the floor.
    pub std_floored: usize,
    /// Feature rows whose yaw rate was sign-corrected ([`corpus::fix_heading_flips`]).
    pub heading_flips_fixed: usize,
    /// Wall time.
    pub seconds: f64,
}

/// Names accepted in [`SynthOptions::families`]: every single-action family plus
/// `"sequence"` (compositions).
pub fn family_names() -> &'static [&'static str] {
    static NAMES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    NAMES
        .get_or_init(|| {
            let mut v: Vec<&'static str> = families::FAMILIES.iter().map(|f| f.name).collect();
            v.push("sequence");
            v
        })
        .as_slice()
}

/// Writes a corpus directory in the HumanML3D layout (see [`corpus`] for the file list) and
/// returns its quality report. `progress(done, total)` is called after every motion.
pub fn synthesize_corpus(
    opts: &SynthOptions,
    progress: impl FnMut(usize, usize),
) -> Result<SynthReport, SynthError> {
    corpus::synthesize(opts, progress)
}
