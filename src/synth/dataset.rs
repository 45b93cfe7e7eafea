//! A loader for directories in the HumanML3D layout (the real dataset or a synthetic corpus).
//!
//! ```text
//! <root>/new_joint_vecs/<id>.npy   (T-1, 263) features          (required)
//! <root>/new_joints/<id>.npy       (T, 22, 3) joints            (optional)
//! <root>/texts/<id>.txt            caption#word/POS ...#from#to  (required)
//! <root>/{train,val,test,all,train_val}.txt                      (split id lists)
//! <root>/Mean.npy, Std.npy         (263,) statistics
//! ```
//!
//! Captions follow HumanML3D's `Text2MotionDataset`: `from`/`to` are seconds; when both are
//! 0 (or NaN) the caption describes the whole clip, otherwise the sub-clip
//! `motion[int(from·fps) .. int(to·fps)]`.

use std::fs;
use std::path::{Path, PathBuf};

use crate::io::npy::{NpyArray, NpyError};
use crate::motion::joints::JointPositions;

/// Errors of the dataset loader.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// A required file or directory does not exist.
    #[error("missing {what}: {path}")]
    Missing { what: &'static str, path: String },
    /// Reading failed.
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// An `.npy` file could not be parsed.
    #[error("corrupt .npy file {path}: {source}")]
    Npy {
        path: String,
        #[source]
        source: NpyError,
    },
    /// An array has the wrong shape.
    #[error("unexpected shape {shape:?} in {path} (expected {expected})")]
    Shape {
        path: String,
        shape: Vec<usize>,
        expected: String,
    },
    /// A caption line is malformed.
    #[error("malformed caption line {line} in {path}: {msg}")]
    Caption { path: String, line: usize, msg: String },
    /// An id contains characters that cannot name a file.
    #[error("invalid motion id '{0}'")]
    BadId(String),
}

/// One caption line.
#[derive(Debug, Clone, PartialEq)]
pub struct Caption {
    /// The sentence.
    pub text: String,
    /// `(word, POS)` tokens.
    pub tokens: Vec<(String, String)>,
    /// Sub-clip start, seconds (0 for the whole clip).
    pub from: f32,
    /// Sub-clip end, seconds (0 for the whole clip).
    pub to: f32,
}

impl Caption {
    /// Whether the caption describes the whole clip.
    pub fn is_whole(&self) -> bool {
        self.from == 0.0 && self.to == 0.0
    }

    /// Frame range `[int(from·fps), int(to·fps))` of a sub-clip caption, `None` for the whole clip.
    pub fn frame_range(&self, fps: f32) -> Option<(usize, usize)> {
        if self.is_whole() {
            None
        } else {
            Some(((self.from * fps) as usize, (self.to * fps) as usize))
        }
    }
}

/// Parses one `caption#tokens#from#to` line (`from`/`to` NaN are read as 0).
pub fn parse_caption_line(line: &str) -> Result<Caption, String> {
    let f: Vec<&str> = line.trim_end_matches(['\n', '\r']).split('#').collect();
    if f.len() < 4 {
        return Err(format!("expected 4 '#'-separated fields, found {}", f.len()));
    }
    let text = f[0].trim().to_string();
    if text.is_empty() {
        return Err("empty caption".into());
    }
    let tokens = f[1]
        .split_whitespace()
        .map(|t| match t.rfind('/') {
            Some(i) => (t[..i].to_string(), t[i + 1..].to_string()),
            None => (t.to_string(), String::new()),
        })
        .collect();
    let num = |s: &str, what: &str| -> Result<f32, String> {
        let v: f32 = s.trim().parse().map_err(|_| format!("bad {what} time '{s}'"))?;
        Ok(if v.is_nan() { 0.0 } else { v })
    };
    let from = num(f[2], "from")?;
    let to = num(f[3], "to")?;
    if !(from.is_finite() && to.is_finite()) || from < 0.0 || (to != 0.0 && to < from) {
        return Err(format!("invalid time range {from}..{to}"));
    }
    Ok(Caption {
        text,
        tokens,
        from,
        to,
    })
}

/// A HumanML3D-layout directory.
#[derive(Debug, Clone, PartialEq)]
pub struct HumanMl3dDataset {
    root: PathBuf,
    /// Feature dimension (263 for HumanML3D).
    pub dim: usize,
}

fn read(path: &Path) -> Result<Vec<u8>, DatasetError> {
    if !path.exists() {
        return Err(DatasetError::Missing {
            what: "file",
            path: path.display().to_string(),
        });
    }
    fs::read(path).map_err(|e| DatasetError::Io {
        path: path.display().to_string(),
        source: e,
    })
}

fn read_npy(path: &Path) -> Result<NpyArray, DatasetError> {
    let b = read(path)?;
    NpyArray::from_bytes(&b).map_err(|e| DatasetError::Npy {
        path: path.display().to_string(),
        source: e,
    })
}

fn f32s(a: &NpyArray, path: &Path) -> Result<Vec<f32>, DatasetError> {
    a.to_f32().map_err(|e| DatasetError::Npy {
        path: path.display().to_string(),
        source: e,
    })
}

impl HumanMl3dDataset {
    /// Opens a directory (checks `new_joint_vecs/` and `texts/` exist); 263-d features.
    pub fn open(root: impl AsRef<Path>) -> Result<Self, DatasetError> {
        let root = root.as_ref().to_path_buf();
        for d in ["new_joint_vecs", "texts"] {
            let p = root.join(d);
            if !p.is_dir() {
                return Err(DatasetError::Missing {
                    what: "directory",
                    path: p.display().to_string(),
                });
            }
        }
        Ok(Self { root, dim: 263 })
    }

    /// The dataset directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn check_id<'a>(&self, id: &'a str) -> Result<&'a str, DatasetError> {
        if id.is_empty() || id.contains(['/', '\\']) || id.contains("..") {
            return Err(DatasetError::BadId(id.to_string()));
        }
        Ok(id)
    }

    /// Ids listed in `<split>.txt` (`"train"`, `"val"`, `"test"`, `"all"`, `"train_val"`…),
    /// in file order, blank lines skipped.
    pub fn split_ids(&self, split: &str) -> Result<Vec<String>, DatasetError> {
        let p = self.root.join(format!("{split}.txt"));
        let b = read(&p)?;
        let s = String::from_utf8(b).map_err(|_| DatasetError::Caption {
            path: p.display().to_string(),
            line: 0,
            msg: "not UTF-8".into(),
        })?;
        Ok(s.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect())
    }

    /// Features of `id`: the row-major values and the number of rows.
    pub fn features(&self, id: &str) -> Result<(Vec<f32>, usize), DatasetError> {
        let p = self
            .root
            .join("new_joint_vecs")
            .join(format!("{}.npy", self.check_id(id)?));
        let a = read_npy(&p)?;
        if a.shape.len() != 2 || a.shape[1] != self.dim || a.shape[0] == 0 {
            return Err(DatasetError::Shape {
                path: p.display().to_string(),
                shape: a.shape.clone(),
                expected: format!("(T, {})", self.dim),
            });
        }
        Ok((f32s(&a, &p)?, a.shape[0]))
    }

    /// Joint positions of `id` from `new_joints/` (`(T, J, 3)`).
    pub fn joints(&self, id: &str) -> Result<JointPositions, DatasetError> {
        let p = self
            .root
            .join("new_joints")
            .join(format!("{}.npy", self.check_id(id)?));
        let a = read_npy(&p)?;
        if a.shape.len() != 3 || a.shape[2] != 3 || a.shape[0] == 0 {
            return Err(DatasetError::Shape {
                path: p.display().to_string(),
                shape: a.shape.clone(),
                expected: "(T, J, 3)".into(),
            });
        }
        let data = f32s(&a, &p)?;
        JointPositions::new(a.shape[0], a.shape[1], data).map_err(|e| DatasetError::Shape {
            path: p.display().to_string(),
            shape: a.shape.clone(),
            expected: e.to_string(),
        })
    }

    /// Captions of `id`.
    pub fn captions(&self, id: &str) -> Result<Vec<Caption>, DatasetError> {
        let p = self
            .root
            .join("texts")
            .join(format!("{}.txt", self.check_id(id)?));
        let b = read(&p)?;
        let s = String::from_utf8(b).map_err(|_| DatasetError::Caption {
            path: p.display().to_string(),
            line: 0,
            msg: "not UTF-8".into(),
        })?;
        let mut out = Vec::new();
        for (i, line) in s.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            out.push(parse_caption_line(line).map_err(|msg| DatasetError::Caption {
                path: p.display().to_string(),
                line: i + 1,
                msg,
            })?);
        }
        if out.is_empty() {
            return Err(DatasetError::Caption {
                path: p.display().to_string(),
                line: 0,
                msg: "no captions".into(),
            });
        }
        Ok(out)
    }

    /// `Mean.npy` and `Std.npy`, each `(dim,)`.
    pub fn mean_std(&self) -> Result<(Vec<f32>, Vec<f32>), DatasetError> {
        let mut out = Vec::new();
        for name in ["Mean.npy", "Std.npy"] {
            let p = self.root.join(name);
            let a = read_npy(&p)?;
            if a.shape != [self.dim] {
                return Err(DatasetError::Shape {
                    path: p.display().to_string(),
                    shape: a.shape.clone(),
                    expected: format!("({},)", self.dim),
                });
            }
            out.push(f32s(&a, &p)?);
        }
        let std = out.pop().unwrap_or_default();
        let mean = out.pop().unwrap_or_default();
        Ok((mean, std))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caption_lines() {
        let c = parse_caption_line("a man walks.#a/DET man/NOUN walk/VERB#0.0#0.0").unwrap();
        assert!(c.is_whole());
        assert_eq!(c.tokens[2], ("walk".to_string(), "VERB".to_string()));
        let c = parse_caption_line("he waves#he/PRON wave/VERB#1.5#4.0").unwrap();
        assert_eq!(c.frame_range(20.0), Some((30, 80)));
        let c = parse_caption_line("x#x/OTHER#nan#nan").unwrap();
        assert!(c.is_whole());
        assert!(parse_caption_line("only#two").is_err());
        assert!(parse_caption_line("a#b#x#1").is_err());
    }
}
