//! Training data in memory: the clips of one split of a HumanML3D-layout directory (real
//! HumanML3D / KIT, or our procedural corpus), z-normalised, with their captions, and the
//! samplers of spec §7: random 64-frame windows for the VQ, and caption + length-cropped,
//! zero-padded motions for the transformers and the length estimator.

use std::collections::HashMap;
use std::path::Path;

use thiserror::Error;

use crate::sample::rng::Rng;
use crate::synth::dataset::{DatasetError, HumanMl3dDataset};

/// Frames per second of the HumanML3D layout.
pub const FPS: f32 = 20.0;
/// Shortest clip the transformers train on (spec §7.2: 40 ≤ len < 200).
pub const MIN_FRAMES: usize = 40;

#[derive(Debug, Error)]
pub enum DataError {
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error("{0}")]
    Invalid(String),
    #[error("i/o on {path}: {message}")]
    Io { path: String, message: String },
}

/// One training item: a whole motion, or a timed sub-clip with its own caption.
#[derive(Debug, Clone)]
pub struct Clip {
    /// Motion id in the dataset.
    pub id: String,
    /// Normalised features `[frames, dim]`, row-major.
    pub features: Vec<f32>,
    pub frames: usize,
    /// Indices into [`MotionSet::texts`].
    pub captions: Vec<usize>,
    /// Index into [`MotionSet::labels`] (`labels.jsonl`'s family; `None` without labels).
    pub label: Option<usize>,
}

/// The clips of one split.
#[derive(Debug, Clone)]
pub struct MotionSet {
    pub dim: usize,
    pub clips: Vec<Clip>,
    /// Every distinct caption, in first-seen order.
    pub texts: Vec<String>,
    /// Action labels (family names) in sorted order.
    pub labels: Vec<String>,
}

/// A family per motion id (and per part, for sub-clips) from the corpus's `labels.jsonl`.
#[derive(Debug, Default, Clone)]
pub struct Labels {
    by_id: HashMap<String, MotionLabel>,
}

/// A motion's family and its parts as `(family, start, end)` frames.
type MotionLabel = (String, Vec<(String, usize, usize)>);

impl Labels {
    /// Reads `<root>/labels.jsonl`; an absent file gives no labels (real HumanML3D).
    pub fn open(root: &Path) -> Result<Self, DataError> {
        let path = root.join("labels.jsonl");
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(Self::default());
        };
        let mut by_id = HashMap::new();
        for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line)
                .map_err(|e| DataError::Invalid(format!("{}:{}: {e}", path.display(), n + 1)))?;
            let id = v["id"].as_str().unwrap_or_default().to_string();
            let family = v["family"].as_str().unwrap_or_default().to_string();
            let parts = v["parts"]
                .as_array()
                .map(|parts| {
                    parts
                        .iter()
                        .map(|p| {
                            (
                                p["family"].as_str().unwrap_or_default().to_string(),
                                p["start"].as_u64().unwrap_or(0) as usize,
                                p["end"].as_u64().unwrap_or(0) as usize,
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            by_id.insert(id, (family, parts));
        }
        Ok(Self { by_id })
    }

    /// The family of motion `id`, or of its part overlapping `[start, end)` the most.
    pub fn family(&self, id: &str, range: Option<(usize, usize)>) -> Option<&str> {
        let (family, parts) = self.by_id.get(id)?;
        match range {
            None => Some(family),
            Some((a, b)) => parts
                .iter()
                .max_by_key(|(_, s, e)| (*e).min(b).saturating_sub((*s).max(a)))
                .map(|(f, _, _)| f.as_str()),
        }
    }

    /// Every family name, sorted, without the composite "sequence".
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .by_id
            .values()
            .flat_map(|(f, parts)| std::iter::once(f.clone()).chain(parts.iter().map(|p| p.0.clone())))
            .filter(|f| !f.is_empty() && f != "sequence")
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

impl MotionSet {
    /// Loads `split` (`train`, `val`, `test`), normalised with `mean`/`std`. Whole motions need
    /// at least `min_frames`; timed sub-clip captions of ≥ `min_frames` become clips of their
    /// own when `subclips` is set (spec §7.2).
    pub fn load(
        ds: &HumanMl3dDataset,
        split: &str,
        mean: &[f32],
        std: &[f32],
        min_frames: usize,
        subclips: bool,
        max_clips: Option<usize>,
    ) -> Result<Self, DataError> {
        let dim = ds.dim;
        if mean.len() != dim || std.len() != dim {
            return Err(DataError::Invalid(format!(
                "mean/std have {}/{} values, the dataset {dim}",
                mean.len(),
                std.len()
            )));
        }
        let labels = Labels::open(ds.root())?;
        let label_names = labels.names();
        let label_index = |name: Option<&str>| name.and_then(|n| label_names.iter().position(|l| l == n));
        let mut texts: Vec<String> = Vec::new();
        let mut text_index: HashMap<String, usize> = HashMap::new();
        let mut intern = |t: &str| -> usize {
            if let Some(&i) = text_index.get(t) {
                return i;
            }
            texts.push(t.to_string());
            text_index.insert(t.to_string(), texts.len() - 1);
            texts.len() - 1
        };
        let mut clips = Vec::new();
        let ids = ds.split_ids(split)?;
        let ids = match max_clips {
            Some(n) => &ids[..n.min(ids.len())],
            None => &ids[..],
        };
        for id in ids {
            let (raw, frames) = ds.features(id)?;
            let norm: Vec<f32> = raw
                .chunks_exact(dim)
                .flat_map(|row| row.iter().zip(mean).zip(std).map(|((x, m), s)| (x - m) / s))
                .collect();
            let captions = ds.captions(id)?;
            let whole: Vec<usize> = captions
                .iter()
                .filter(|c| c.is_whole())
                .map(|c| intern(&c.text))
                .collect();
            if frames >= min_frames && !whole.is_empty() {
                clips.push(Clip {
                    id: id.clone(),
                    features: norm.clone(),
                    frames,
                    captions: whole,
                    label: label_index(labels.family(id, None)),
                });
            }
            if !subclips {
                continue;
            }
            for c in captions.iter().filter(|c| !c.is_whole()) {
                let Some((a, b)) = c.frame_range(FPS) else {
                    continue;
                };
                let b = b.min(frames);
                if b <= a || b - a < min_frames {
                    continue;
                }
                clips.push(Clip {
                    id: id.clone(),
                    features: norm[a * dim..b * dim].to_vec(),
                    frames: b - a,
                    captions: vec![intern(&c.text)],
                    label: label_index(labels.family(id, Some((a, b)))),
                });
            }
        }
        if clips.is_empty() {
            return Err(DataError::Invalid(format!(
                "split '{split}' of {} has no clip of ≥ {min_frames} frames",
                ds.root().display()
            )));
        }
        Ok(Self {
            dim,
            clips,
            texts,
            labels: label_names,
        })
    }

    /// Total frames.
    pub fn frames(&self) -> usize {
        self.clips.iter().map(|c| c.frames).sum()
    }

    /// `batch` random windows of `window` frames, `[B, window, dim]` row-major; clips are
    /// chosen in proportion to their number of window starts.
    pub fn sample_windows(&self, rng: &mut Rng, batch: usize, window: usize) -> Vec<f32> {
        let starts: Vec<usize> = self
            .clips
            .iter()
            .map(|c| (c.frames + 1).saturating_sub(window))
            .collect();
        let total: usize = starts.iter().sum();
        let mut out = Vec::with_capacity(batch * window * self.dim);
        for _ in 0..batch {
            let mut k = rng.below(total.max(1));
            let mut ci = 0;
            while ci + 1 < starts.len() && k >= starts[ci] {
                k -= starts[ci];
                ci += 1;
            }
            let c = &self.clips[ci];
            out.extend_from_slice(&c.features[k * self.dim..(k + window) * self.dim]);
        }
        out
    }

    /// A text-motion batch (spec §7.2): a random caption per item, the length crop to a multiple
    /// of `unit` (one unit shorter with probability 1/3), a random offset, zero padding to
    /// `max_frames`.
    pub fn sample_items(
        &self,
        rng: &mut Rng,
        batch: usize,
        unit: usize,
        max_frames: usize,
    ) -> TextMotionBatch {
        let mut motion = vec![0f32; batch * max_frames * self.dim];
        let mut lengths = Vec::with_capacity(batch);
        let mut texts = Vec::with_capacity(batch);
        let mut clips = Vec::with_capacity(batch);
        for b in 0..batch {
            let ci = rng.below(self.clips.len());
            let c = &self.clips[ci];
            let len = c.frames.min(max_frames);
            let units = len / unit;
            let m = if units > 1 && rng.below(3) == 0 {
                (units - 1) * unit
            } else {
                units * unit
            };
            let start = rng.below(c.frames - m + 1);
            let dst = &mut motion[b * max_frames * self.dim..][..m * self.dim];
            dst.copy_from_slice(&c.features[start * self.dim..(start + m) * self.dim]);
            lengths.push(m);
            texts.push(c.captions[rng.below(c.captions.len())]);
            clips.push(ci);
        }
        TextMotionBatch {
            motion,
            lengths,
            texts,
            clips,
            max_frames,
        }
    }
}

/// Captions, motions and lengths of one batch.
#[derive(Debug, Clone)]
pub struct TextMotionBatch {
    /// `[B, max_frames, dim]`, zero past each length.
    pub motion: Vec<f32>,
    /// Frames per item (multiples of the unit length).
    pub lengths: Vec<usize>,
    /// Caption indices into [`MotionSet::texts`].
    pub texts: Vec<usize>,
    /// Clip indices.
    pub clips: Vec<usize>,
    pub max_frames: usize,
}
