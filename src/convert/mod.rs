//! Reading the official MoMask checkpoints (PyTorch `torch.save` zip archives, the TorchScript
//! CLIP archive, `opt.txt` files and the `meta/*.npy` statistics) in pure Rust.
//!
//! Nothing here executes Python or constructs arbitrary objects: [`pickle`] is an allow-list
//! unpickler that only knows the handful of globals `torch.save` writes for tensors and state
//! dicts, [`torch_zip`] materialises tensor storages from the archive, [`opt`] parses `opt.txt`
//! exactly as the reference `utils/get_opt.py` does, and [`official`] gathers and
//! cross-checks a whole official checkpoints tree.

pub mod official;
pub mod opt;
pub mod pickle;
pub mod torch_zip;

pub use official::{OfficialCheckpoints, OfficialSources, SourceFile, read_official};
pub use opt::{Opt, OptValue, parse_opt};
pub use pickle::{PickleValue, StorageRef, TensorRef, unpickle};
pub use torch_zip::{
    RawDtype, RawTensor, StateDict, TorchArchive, read_checkpoint, read_clip_state_dict,
    state_dict_from_checkpoint,
};

use thiserror::Error;

/// Everything that can go wrong while reading official checkpoints.
///
/// Variants name the file, record, tensor or key involved so that a failed conversion says
/// exactly what to look at.
#[derive(Debug, Error)]
pub enum ConvertError {
    /// A file could not be read.
    #[error("cannot read '{path}': {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The zip container is malformed or truncated.
    #[error("bad zip archive: {0}")]
    Zip(String),
    /// A record the archive must contain is absent.
    #[error("archive has no record '{0}'")]
    MissingRecord(String),
    /// The data is not in a format this reader handles (e.g. the pre-1.6 legacy torch format).
    #[error("unsupported format: {0}")]
    Unsupported(String),
    /// The pickle stream is malformed (at byte `offset` of the pickle).
    #[error("pickle error at byte {offset}: {message}")]
    Pickle { offset: usize, message: String },
    /// The pickle references a global that is not on the allow-list.
    #[error("pickle references forbidden global '{module}.{name}' (not on the allow-list)")]
    ForbiddenGlobal { module: String, name: String },
    /// A tensor's view does not fit its storage, or its storage record is inconsistent.
    #[error("tensor storage '{storage}': {message}")]
    Storage { storage: String, message: String },
    /// A value of the wrong kind was found where a specific structure was expected.
    #[error("unexpected structure in {context}: {message}")]
    Structure { context: String, message: String },
    /// A required key is missing; `available` lists the keys that are there.
    #[error("'{file}' has no key {key}; available: {available:?}")]
    MissingKey {
        file: String,
        key: String,
        available: Vec<String>,
    },
    /// A tensor has the wrong shape.
    #[error("tensor '{tensor}' has shape {got:?}, expected {expected}")]
    BadShape {
        tensor: String,
        expected: String,
        got: Vec<usize>,
    },
    /// A tensor has a dtype that the caller cannot use.
    #[error("tensor '{tensor}' has dtype {got:?}, expected {expected}")]
    BadDtype {
        tensor: String,
        expected: String,
        got: RawDtype,
    },
    /// An `opt.txt` line or value is malformed or has the wrong type.
    #[error("opt file '{file}', key '{key}': {message}")]
    Opt {
        file: String,
        key: String,
        message: String,
    },
    /// Two sources disagree (e.g. the `vq_name` of the transformers and the VQ folder).
    #[error("inconsistent checkpoints: {0}")]
    Inconsistent(String),
    /// A `.npy` file could not be parsed.
    #[error("'{path}': {source}")]
    Npy {
        path: String,
        #[source]
        source: crate::io::npy::NpyError,
    },
    /// A JSON file (e.g. the CLIP config) could not be parsed.
    #[error("'{path}': {message}")]
    Json { path: String, message: String },
    /// An error while reading a specific file, with the file named.
    #[error("in '{file}': {source}")]
    InFile {
        file: String,
        #[source]
        source: Box<ConvertError>,
    },
}

impl ConvertError {
    /// Wraps `self` with the name of the file being read (unless it already names one).
    pub fn in_file(self, file: impl Into<String>) -> Self {
        match self {
            e @ (ConvertError::Io { .. } | ConvertError::InFile { .. }) => e,
            e => ConvertError::InFile {
                file: file.into(),
                source: Box::new(e),
            },
        }
    }

    /// The innermost error, looking through [`ConvertError::InFile`] wrappers.
    pub fn root(&self) -> &ConvertError {
        match self {
            ConvertError::InFile { source, .. } => source.root(),
            e => e,
        }
    }
}

impl From<zip::result::ZipError> for ConvertError {
    fn from(e: zip::result::ZipError) -> Self {
        ConvertError::Zip(e.to_string())
    }
}
