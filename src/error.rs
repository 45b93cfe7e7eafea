//! The crate-wide error type: every failure a user can cause is a typed variant.

use thiserror::Error;

use crate::bundle::BundleError;
use crate::io::npy::NpyError;
use crate::motion::MotionError;
use crate::nn::weights::LoadError;
use crate::text::TokenizerError;
use crate::text::wordpiece::WordPieceError;

#[derive(Debug, Error)]
pub enum Error {
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The CLIP tokenizer's vocabulary is unusable.
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
    /// The WordPiece (MiniLM) tokenizer's vocabulary is unusable.
    #[error("wordpiece tokenizer: {0}")]
    WordPiece(#[from] WordPieceError),
    #[error(transparent)]
    Motion(#[from] MotionError),
    #[error(transparent)]
    Npy(#[from] NpyError),
    /// A long-motion timeline that cannot be generated (empty prompt, bad duration, too long).
    #[error("invalid timeline: {0}")]
    Timeline(#[from] crate::long::TimelineError),
    /// An option or argument outside its valid range; names the option.
    #[error("invalid {name}: {message}")]
    InvalidArgument { name: &'static str, message: String },
    /// The compute backend failed (device lost, shader error, read-back failure).
    #[error("backend error: {0}")]
    Backend(String),
    /// Generation was cancelled by the caller (AbortSignal, Ctrl-C).
    #[error("cancelled")]
    Cancelled,
    /// The model cannot do what was asked (e.g. no length estimator for `frames: auto`).
    #[error("unsupported: {0}")]
    Unsupported(String),
}

impl Error {
    pub(crate) fn invalid(name: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidArgument {
            name,
            message: message.into(),
        }
    }
}
