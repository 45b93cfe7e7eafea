//! `momask train bundle`: the best checkpoints of the four stages plus the frozen MiniLM text
//! encoder, as one self-describing bundle (f32, then optionally quantized), verified by loading
//! it back through the one loading path.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::tensor::Device;

use super::common::{RunState, TrainError, io_error};
use super::export::TensorMap;
use crate::bundle::{BundleHeader, SourceFile, write_bundle};
use crate::config::ModelConfig;
use crate::generate::Guidance;
use crate::model::MoMask;

/// The run folders of the four stages.
#[derive(Debug, Clone)]
pub struct StageDirs {
    pub vq: PathBuf,
    pub mask: PathBuf,
    pub res: PathBuf,
    pub len: Option<PathBuf>,
}

fn best_or_latest(dir: &Path) -> PathBuf {
    let best = dir.join("best.safetensors");
    if best.exists() {
        best
    } else {
        dir.join("latest.safetensors")
    }
}

fn state_of(dir: &Path) -> Option<RunState> {
    let text = std::fs::read_to_string(dir.join("state.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// Assembles the f32 bundle; `notes` (training recipe, times) and `guidance` (the scales the
/// model samples best with, measured by `momask eval`) are stored in the header.
pub fn assemble(
    config: ModelConfig,
    dirs: &StageDirs,
    minilm: &Path,
    mut notes: BTreeMap<String, String>,
    guidance: Guidance,
) -> Result<Vec<u8>, TrainError> {
    guidance.validate()?;
    let mut tensors = BTreeMap::new();
    let mut sources = Vec::new();
    let stages: Vec<(&str, &Path)> = [
        ("vq", dirs.vq.as_path()),
        ("mask", &dirs.mask),
        ("res", &dirs.res),
    ]
    .into_iter()
    .chain(dirs.len.as_deref().map(|d| ("len", d)))
    .collect();
    for (name, dir) in stages {
        let path = best_or_latest(dir);
        let map = TensorMap::open(&path)?;
        tensors.extend(map.to_owned_tensors());
        let bytes = std::fs::read(&path).map_err(|e| io_error(&path, e))?;
        sources.push(SourceFile {
            path: format!(
                "{name}/{}",
                path.file_name().and_then(|f| f.to_str()).unwrap_or_default()
            ),
            size: bytes.len() as u64,
            sha256: crate::bundle::hex(&<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
        });
        if let Some(state) = state_of(dir) {
            notes.insert(
                format!("train.{name}"),
                format!(
                    "{} steps, {:.0} s, best {} at step {}",
                    state.step,
                    state.seconds,
                    state.best.map_or("-".into(), |b| format!("{:.4}", b.0)),
                    state.best.map_or(0, |b| b.1)
                ),
            );
        }
    }
    let text =
        crate::converter::minilm_bundle_tensors(minilm).map_err(|e| TrainError::Invalid(e.to_string()))?;
    tensors.extend(text);
    let mut header = BundleHeader::new(config, "f32");
    header.sources = sources;
    header.notes = notes;
    header.guidance = guidance;
    let bytes = write_bundle(header, &tensors).map_err(|e| TrainError::Invalid(e.to_string()))?;
    // Refuses missing, misshapen or unused tensors.
    MoMask::from_bundle_bytes(&bytes, &Device::flex())?;
    Ok(bytes)
}
