//! Joint position sequences and their `.npy` / JSON encodings.

use serde::{Deserialize, Serialize};

use super::error::MotionError;
use super::layout::FeatureLayout;
use super::skeleton::Skeleton;
use crate::io::npy::{NpyArray, write_f32};

/// A motion as global joint positions: `frames × joints × 3` floats, row-major
/// (`data[(frame·joints + joint)·3 + axis]`), metres, Y up.
#[derive(Debug, Clone, PartialEq)]
pub struct JointPositions {
    /// Number of frames `F`.
    pub frames: usize,
    /// Number of joints `J`.
    pub joints: usize,
    /// `F·J·3` values, row-major.
    pub data: Vec<f32>,
}

/// The JSON document written by [`JointPositions::to_json`]:
///
/// ```json
/// {"fps":20.0,"frames":F,"joints":22,
///  "joint_names":["pelvis",...],"parents":[-1,0,...],
///  "positions":[[[x,y,z], ...22 joints], ...F frames]}
/// ```
///
/// `positions[f][j]` is joint `j` at frame `f` in metres, Y up; `parents[j]` is `-1` for the
/// root. Readers ([`JointPositions::from_json`]) need only `positions`; the other keys are
/// checked for consistency when present.
#[derive(Debug, Serialize, Deserialize)]
pub struct JointsJson {
    /// Frame rate.
    #[serde(default)]
    pub fps: Option<f32>,
    /// Number of frames.
    #[serde(default)]
    pub frames: Option<usize>,
    /// Number of joints.
    #[serde(default)]
    pub joints: Option<usize>,
    /// Joint names in index order.
    #[serde(default)]
    pub joint_names: Vec<String>,
    /// Parent of each joint (`-1` for the root).
    #[serde(default)]
    pub parents: Vec<i32>,
    /// `positions[frame][joint] = [x, y, z]`.
    pub positions: Vec<Vec<[f32; 3]>>,
}

impl JointPositions {
    /// Wraps `data` (`frames·joints·3` values), checking its length.
    pub fn new(frames: usize, joints: usize, data: Vec<f32>) -> Result<Self, MotionError> {
        let expected = frames * joints * 3;
        if data.len() != expected {
            return Err(MotionError::WrongLength {
                expected,
                got: data.len(),
            });
        }
        Ok(Self { frames, joints, data })
    }

    /// All-zero positions.
    pub fn zeros(frames: usize, joints: usize) -> Self {
        Self {
            frames,
            joints,
            data: vec![0.0; frames * joints * 3],
        }
    }

    /// Position of `joint` at `frame`. Panics if either index is out of range.
    #[inline]
    pub fn get(&self, frame: usize, joint: usize) -> [f32; 3] {
        let i = (frame * self.joints + joint) * 3;
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }

    /// Sets the position of `joint` at `frame`. Panics if either index is out of range.
    #[inline]
    pub fn set(&mut self, frame: usize, joint: usize, p: [f32; 3]) {
        let i = (frame * self.joints + joint) * 3;
        self.data[i..i + 3].copy_from_slice(&p);
    }

    /// Checks the buffer length and that every value is finite.
    pub fn validate(&self) -> Result<(), MotionError> {
        let expected = self.frames * self.joints * 3;
        if self.data.len() != expected {
            return Err(MotionError::WrongLength {
                expected,
                got: self.data.len(),
            });
        }
        if let Some(i) = self.data.iter().position(|v| !v.is_finite()) {
            return Err(MotionError::NonFinite {
                frame: i / 3 / self.joints,
                joint: i / 3 % self.joints,
            });
        }
        Ok(())
    }

    /// `.npy` bytes: float32, shape `(F, J, 3)`.
    pub fn to_npy_bytes(&self) -> Result<Vec<u8>, MotionError> {
        Ok(write_f32(&[self.frames, self.joints, 3], &self.data)?)
    }

    /// Reads a float32 or float64 `.npy` array of shape `(F, J, 3)`.
    pub fn from_npy_bytes(bytes: &[u8]) -> Result<Self, MotionError> {
        let arr = NpyArray::from_bytes(bytes)?;
        match arr.shape.as_slice() {
            &[frames, joints, 3] => Self::new(frames, joints, arr.to_f32()?),
            other => Err(MotionError::Json(format!(
                "expected a (frames, joints, 3) array, got shape {other:?}"
            ))),
        }
    }

    /// JSON text (see [`JointsJson`]). The frame rate, names and parents are those of
    /// HumanML3D for 22 joints and KIT for 21; other joint counts get generic names,
    /// parents `-1` and 20 fps.
    pub fn to_json(&self) -> String {
        match self.joints {
            22 => self.to_json_with(&crate::motion::layout::HUMANML3D, &Skeleton::humanml3d()),
            21 => self.to_json_with(&crate::motion::layout::KIT, &Skeleton::kit()),
            _ => {
                let names: Vec<String> = (0..self.joints).map(|j| format!("joint_{j}")).collect();
                self.json_doc(20.0, names, vec![-1; self.joints])
            }
        }
    }

    /// JSON text with the frame rate of `layout` and the names/parents of `skeleton`.
    pub fn to_json_with(&self, layout: &FeatureLayout, skeleton: &Skeleton) -> String {
        self.json_doc(layout.fps, skeleton.joint_names.clone(), skeleton.parents.clone())
    }

    fn json_doc(&self, fps: f32, joint_names: Vec<String>, parents: Vec<i32>) -> String {
        let positions = (0..self.frames)
            .map(|f| (0..self.joints).map(|j| self.get(f, j)).collect())
            .collect();
        let doc = JointsJson {
            fps: Some(fps),
            frames: Some(self.frames),
            joints: Some(self.joints),
            joint_names,
            parents,
            positions,
        };
        // Serialising plain numbers, strings and arrays cannot fail; NaN would become null.
        serde_json::to_string(&doc).unwrap_or_default()
    }

    /// Parses the JSON written by [`JointPositions::to_json`] (only `positions` is required).
    pub fn from_json(text: &str) -> Result<Self, MotionError> {
        let doc: JointsJson = serde_json::from_str(text).map_err(|e| MotionError::Json(e.to_string()))?;
        let frames = doc.positions.len();
        let joints = doc.positions.first().map_or(0, |f| f.len());
        if let Some(f) = doc.frames
            && f != frames
        {
            return Err(MotionError::Json(format!(
                "\"frames\" is {f} but \"positions\" has {frames} frames"
            )));
        }
        if let Some(j) = doc.joints
            && j != joints
        {
            return Err(MotionError::Json(format!(
                "\"joints\" is {j} but \"positions\" has {joints} joints per frame"
            )));
        }
        let mut data = Vec::with_capacity(frames * joints * 3);
        for (f, frame) in doc.positions.iter().enumerate() {
            if frame.len() != joints {
                return Err(MotionError::Json(format!(
                    "frame {f} has {} joints, frame 0 has {joints}",
                    frame.len()
                )));
            }
            for p in frame {
                data.extend_from_slice(p);
            }
        }
        Self::new(frames, joints, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_npy_round_trip() {
        let mut j = JointPositions::zeros(3, 22);
        j.set(1, 5, [0.5, -1.25, 3.0]);
        let text = j.to_json();
        assert!(text.contains("\"joint_names\":[\"pelvis\""));
        let back = JointPositions::from_json(&text).unwrap();
        assert_eq!(back, j);
        let npy = j.to_npy_bytes().unwrap();
        assert_eq!(JointPositions::from_npy_bytes(&npy).unwrap(), j);
    }

    #[test]
    fn errors_are_typed() {
        assert!(matches!(
            JointPositions::new(2, 22, vec![0.0; 10]),
            Err(MotionError::WrongLength {
                expected: 132,
                got: 10
            })
        ));
        assert!(JointPositions::from_json("{\"positions\": [[[0,0,0]], []]}").is_err());
        assert!(JointPositions::from_json("not json").is_err());
        let mut j = JointPositions::zeros(2, 22);
        j.set(1, 3, [f32::NAN, 0.0, 0.0]);
        assert!(matches!(
            j.validate(),
            Err(MotionError::NonFinite { frame: 1, joint: 3 })
        ));
    }
}
