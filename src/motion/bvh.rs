//! Joints → BVH (spec §9.2, the reference `visualization/joints2bvh.py`), the BVH writer, and a
//! small BVH parser.
//!
//! Fitting: the 22 HumanML3D joints are re-ordered onto a fixed 22-joint template skeleton
//! (names and offsets from the reference's `visualization/data/template.bvh`), optional foot
//! clean-up edits the IK targets (`remove_fs`), and an iterative direction-matching IK
//! (`BasicInverseKinematics`) turns the targets into local rotations. The root translation is
//! the input root; bone lengths are the template's, so the fitted positions differ from the
//! input by a few centimetres.
//!
//! The fitting runs in `f64` like the reference's numpy code.

use std::fmt;

use super::error::MotionError;
use super::joints::JointPositions;
use super::quat::{
    Quat, Vec3, add3, axis_rotation, cross, dot, euler_zyx_from_quat, from_angle_axis, norm, qexp, qidentity,
    qinv, qlog, qmul, qrot, scale3, sub3,
};

/// Template joint names, in BVH (depth-first) order.
pub const BVH_JOINT_NAMES: [&str; 22] = [
    "Hips",
    "LeftUpLeg",
    "LeftLeg",
    "LeftFoot",
    "LeftToe",
    "RightUpLeg",
    "RightLeg",
    "RightFoot",
    "RightToe",
    "Spine",
    "Spine1",
    "Spine2",
    "Neck",
    "Head",
    "LeftShoulder",
    "LeftArm",
    "LeftForeArm",
    "LeftHand",
    "RightShoulder",
    "RightArm",
    "RightForeArm",
    "RightHand",
];

/// Template parents (BVH order, `-1` for the root).
pub const BVH_PARENTS: [i32; 22] = [
    -1, 0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11, 12, 11, 14, 15, 16, 11, 18, 19, 20,
];

/// Template OFFSETs in metres (BVH order), the values of the reference's
/// `visualization/data/template.bvh`. The root's OFFSET is written to the file but not used
/// for positions: the root position channel holds the absolute root position.
pub const BVH_TEMPLATE_OFFSETS: [[f64; 3]; 22] = [
    [-0.001795, -0.223333, 0.028219],
    [0.069520, -0.091406, -0.006815],
    [0.034277, -0.375199, -0.004496],
    [-0.013596, -0.397961, -0.043693],
    [0.026358, -0.055791, 0.119288],
    [-0.067670, -0.090522, -0.004320],
    [-0.038290, -0.382569, -0.008850],
    [0.015774, -0.398415, -0.042312],
    [-0.025372, -0.048144, 0.123348],
    [-0.002533, 0.108963, -0.026696],
    [0.005487, 0.135180, 0.001092],
    [0.001457, 0.052922, 0.025425],
    [-0.002778, 0.213870, -0.042857],
    [0.005152, 0.064970, 0.051349],
    [0.078845, 0.121749, -0.034090],
    [0.090977, 0.030469, -0.008868],
    [0.259612, -0.012772, -0.027456],
    [0.249234, 0.008986, -0.001171],
    [-0.081759, 0.118833, -0.038615],
    [-0.096012, 0.032551, -0.009143],
    [-0.253742, -0.013329, -0.021401],
    [-0.255298, 0.007772, -0.005559],
];

/// BVH joint `k` takes HumanML3D (SMPL) joint `RE_ORDER[k]`.
pub const RE_ORDER: [usize; 22] = [
    0, 1, 4, 7, 10, 2, 5, 8, 11, 3, 6, 9, 12, 15, 13, 16, 18, 20, 14, 17, 19, 21,
];

/// HumanML3D joint `i` is BVH joint `RE_ORDER_INV[i]`.
pub const RE_ORDER_INV: [usize; 22] = [
    0, 1, 5, 9, 2, 6, 10, 3, 7, 11, 4, 8, 12, 14, 18, 13, 15, 19, 16, 20, 17, 21,
];

/// Frame time written to the BVH (20 fps).
pub const BVH_FRAME_TIME: f64 = 1.0 / 20.0;

/// Foot joints of the template (BVH order): left ankle, left toe, right ankle, right toe.
const FOOT_JOINTS: [usize; 4] = [3, 4, 7, 8];
/// `remove_fs` squared-displacement thresholds for (ankle, toe).
const FOOT_VEL_THRESHOLD: [f64; 2] = [0.05, 0.2];
/// `remove_fs` height thresholds for (ankle, toe), metres.
const FOOT_HEIGHT_THRESHOLD: [f64; 2] = [0.06, 0.03];
/// `remove_fs` blending window (frames) around contact runs.
const FOOT_INTERP_LENGTH: usize = 5;

/// Options of [`joints_to_bvh`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BvhOptions {
    /// Pin feet during detected contacts and put them on the floor (`remove_fs`) before the IK.
    pub foot_ik: bool,
    /// IK iterations (`gen_t2m.py` uses 100).
    pub iterations: usize,
}

impl Default for BvhOptions {
    /// `foot_ik: true, iterations: 100`, the first of `gen_t2m.py`'s two conversions.
    fn default() -> Self {
        Self {
            foot_ik: true,
            iterations: 100,
        }
    }
}

/// A fitted BVH animation on the template skeleton.
#[derive(Debug, Clone, PartialEq)]
pub struct Bvh {
    /// Number of frames.
    pub frames: usize,
    /// Seconds per frame.
    pub frame_time: f64,
    /// Joint names (BVH order).
    pub names: Vec<String>,
    /// Parents (BVH order, `-1` for the root).
    pub parents: Vec<i32>,
    /// Joint offsets (metres) written to the hierarchy.
    pub offsets: Vec<Vec3<f64>>,
    /// Root position per frame (the position channels).
    pub root_positions: Vec<Vec3<f64>>,
    /// Local rotation quaternions `[w, x, y, z]`, `frames × joints`, row-major.
    pub rotations: Vec<Quat<f64>>,
}

impl Bvh {
    /// Number of joints.
    pub fn joints(&self) -> usize {
        self.parents.len()
    }

    /// Global joint positions by forward kinematics, BVH joint order, `frames × joints`.
    pub fn global_positions(&self) -> Vec<Vec3<f64>> {
        let nj = self.joints();
        let mut out = Vec::with_capacity(self.frames * nj);
        for t in 0..self.frames {
            let (pos, _) = fk(
                &self.parents,
                &self.offsets,
                self.root_positions[t],
                &self.rotations[t * nj..(t + 1) * nj],
            );
            out.extend(pos);
        }
        out
    }

    /// The fitted global positions in HumanML3D (SMPL) joint order, as `gen_t2m.py` saves them
    /// (template bone lengths, not the input's).
    pub fn fk_positions(&self) -> JointPositions {
        let nj = self.joints();
        let glob = self.global_positions();
        let mut out = JointPositions::zeros(self.frames, nj);
        for t in 0..self.frames {
            for (smpl, &k) in RE_ORDER_INV.iter().enumerate().take(nj) {
                let p = glob[t * nj + k];
                out.set(t, smpl, [p[0] as f32, p[1] as f32, p[2] as f32]);
            }
        }
        out
    }

    /// Euler angles in degrees, in channel order `[Z, Y, X]`, of `R = Rz·Ry·Rx`.
    pub fn euler_zyx_degrees(&self, frame: usize, joint: usize) -> Vec3<f64> {
        let e = euler_zyx_from_quat(self.rotations[frame * self.joints() + joint]);
        [e[2].to_degrees(), e[1].to_degrees(), e[0].to_degrees()]
    }

    fn write_joint(&self, out: &mut String, j: usize, depth: usize) {
        let tabs = "\t".repeat(depth);
        let o = self.offsets[j];
        out.push_str(&format!("{tabs}JOINT {}\n{tabs}{{\n", self.names[j]));
        out.push_str(&format!("{tabs}\tOFFSET {:.6} {:.6} {:.6}\n", o[0], o[1], o[2]));
        out.push_str(&format!("{tabs}\tCHANNELS 3 Zrotation Yrotation Xrotation\n"));
        let children: Vec<usize> = (0..self.joints())
            .filter(|&c| self.parents[c] == j as i32)
            .collect();
        for &c in &children {
            self.write_joint(out, c, depth + 1);
        }
        if children.is_empty() {
            out.push_str(&format!(
                "{tabs}\tEnd Site\n{tabs}\t{{\n{tabs}\t\tOFFSET {:.6} {:.6} {:.6}\n{tabs}\t}}\n",
                0.0, 0.0, 0.0
            ));
        }
        out.push_str(&format!("{tabs}}}\n"));
    }
}

impl fmt::Display for Bvh {
    /// BVH text in the layout of the reference writer (`BVH_mod.save(order='zyx')`): tabs,
    /// `%f` numbers, `End Site` with a zero offset on every leaf, root channels
    /// `Xposition Yposition Zposition Zrotation Yrotation Xrotation`, rotations as Z Y X
    /// degrees.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        let o = self.offsets[0];
        s.push_str(&format!("HIERARCHY\nROOT {}\n{{\n", self.names[0]));
        s.push_str(&format!("\tOFFSET {:.6} {:.6} {:.6}\n", o[0], o[1], o[2]));
        s.push_str("\tCHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation \n");
        for c in 0..self.joints() {
            if self.parents[c] == 0 {
                self.write_joint(&mut s, c, 1);
            }
        }
        s.push_str("}\nMOTION\n");
        s.push_str(&format!("Frames: {}\n", self.frames));
        s.push_str(&format!("Frame Time: {:.6}\n", self.frame_time));
        f.write_str(&s)?;
        let nj = self.joints();
        let mut line = String::with_capacity(nj * 36 + 16);
        for t in 0..self.frames {
            line.clear();
            let r = self.root_positions[t];
            line.push_str(&format!("{:.6} {:.6} {:.6} ", r[0], r[1], r[2]));
            for j in 0..nj {
                let e = self.euler_zyx_degrees(t, j);
                line.push_str(&format!("{:.6} {:.6} {:.6} ", e[0], e[1], e[2]));
            }
            line.push('\n');
            f.write_str(&line)?;
        }
        Ok(())
    }
}

/// Forward kinematics: `G[j] = G[parent]·L[j]`, `p[j] = p[parent] + G[parent]·offset[j]`;
/// the root is at `root` with rotation `L[0]`. Parents must precede children.
fn fk(
    parents: &[i32],
    offsets: &[Vec3<f64>],
    root: Vec3<f64>,
    local: &[Quat<f64>],
) -> (Vec<Vec3<f64>>, Vec<Quat<f64>>) {
    let n = parents.len();
    let mut pos = vec![[0.0; 3]; n];
    let mut rot = vec![qidentity::<f64>(); n];
    fk_from(parents, offsets, root, local, &mut pos, &mut rot, 0);
    (pos, rot)
}

/// [`fk`] in place for joints `from..`; joints before `from` must already be up to date.
/// Because parents precede children, changing `local[j]` only affects joints `j..`.
fn fk_from(
    parents: &[i32],
    offsets: &[Vec3<f64>],
    root: Vec3<f64>,
    local: &[Quat<f64>],
    pos: &mut [Vec3<f64>],
    rot: &mut [Quat<f64>],
    from: usize,
) {
    for j in from..parents.len() {
        if parents[j] < 0 {
            pos[j] = root;
            rot[j] = local[j];
        } else {
            let p = parents[j] as usize;
            pos[j] = add3(pos[p], qrot(rot[p], offsets[j]));
            rot[j] = qmul(rot[p], local[j]);
        }
    }
}

/// Fits the template skeleton to HumanML3D joint positions (22 joints, SMPL order) and returns
/// the BVH animation (`Joint2BVHConvertor.convert`).
///
/// With `opts.foot_ik`, the IK targets are first cleaned by `remove_fs` (feet pinned and put
/// on the floor during contacts); the stored root translation is the unmodified input root.
pub fn joints_to_bvh(joints: &JointPositions, opts: &BvhOptions) -> Result<Bvh, MotionError> {
    if joints.joints != 22 {
        return Err(MotionError::WrongJointCount {
            expected: 22,
            got: joints.joints,
        });
    }
    if joints.frames == 0 {
        return Err(MotionError::TooFewFrames { needed: 1, got: 0 });
    }
    joints.validate()?;
    let nf = joints.frames;
    let nj = 22;

    // Targets in BVH joint order.
    let mut targets: Vec<Vec3<f64>> = Vec::with_capacity(nf * nj);
    for t in 0..nf {
        for &smpl in &RE_ORDER {
            let p = joints.get(t, smpl);
            targets.push([p[0] as f64, p[1] as f64, p[2] as f64]);
        }
    }
    let root_positions: Vec<Vec3<f64>> = (0..nf).map(|t| targets[t * nj]).collect();
    if opts.foot_ik {
        remove_foot_sliding(&mut targets, nf, nj);
    }

    let offsets = BVH_TEMPLATE_OFFSETS.to_vec();
    let mut rotations = vec![qidentity::<f64>(); nf * nj];
    for t in 0..nf {
        basic_ik(
            &BVH_PARENTS,
            &offsets,
            root_positions[t],
            &targets[t * nj..(t + 1) * nj],
            &mut rotations[t * nj..(t + 1) * nj],
            opts.iterations,
        );
    }
    Ok(Bvh {
        frames: nf,
        frame_time: BVH_FRAME_TIME,
        names: BVH_JOINT_NAMES.iter().map(|s| s.to_string()).collect(),
        parents: BVH_PARENTS.to_vec(),
        offsets,
        root_positions,
        rotations,
    })
}

/// `BasicInverseKinematics` for one frame (frames are independent).
///
/// Each iteration visits the joints in index order, skipping leaves. For a visited joint `j`
/// it recomputes FK, and for each child `c` takes the rotation (in `j`'s frame) that turns the
/// current direction `P_c − P_j` onto the target direction `T_c − P_j`; several children are
/// averaged in log space. The local rotation of `j` is post-multiplied by the result.
fn basic_ik(
    parents: &[i32],
    offsets: &[Vec3<f64>],
    root: Vec3<f64>,
    targets: &[Vec3<f64>],
    local: &mut [Quat<f64>],
    iterations: usize,
) {
    let n = parents.len();
    let children: Vec<Vec<usize>> = (0..n)
        .map(|j| (0..n).filter(|&c| parents[c] == j as i32).collect())
        .collect();
    let unit = |v: Vec3<f64>| scale3(v, 1.0 / (norm(v) + 1e-10));
    // The reference recomputes the whole FK before every joint; updating only the joints
    // after the last changed one gives the same numbers.
    let (mut pos, mut rot) = fk(parents, offsets, root, local);
    let mut dirty = n;
    for _ in 0..iterations {
        for j in 0..n {
            if children[j].is_empty() {
                continue;
            }
            if dirty < n {
                fk_from(parents, offsets, root, local, &mut pos, &mut rot, dirty);
                dirty = n;
            }
            let to_local = qinv(rot[j]);
            let step = |c: usize| -> Quat<f64> {
                let jd = unit(sub3(pos[c], pos[j]));
                let dd = unit(sub3(targets[c], pos[j]));
                let angle = dot(jd, dd).clamp(-1.0, 1.0).acos();
                let axis = qrot(to_local, cross(jd, dd));
                from_angle_axis(angle, axis)
            };
            let q = if children[j].len() == 1 {
                step(children[j][0])
            } else {
                let mut mean = [0.0f64; 3];
                for &c in &children[j] {
                    mean = add3(mean, qlog(step(c)));
                }
                qexp(scale3(mean, 1.0 / children[j].len() as f64))
            };
            local[j] = qmul(local[j], q);
            dirty = dirty.min(j);
        }
    }
}

/// `remove_fs(glb, None, fid_l=(3,4), fid_r=(7,8), interp_length=5, force_on_floor=True)`:
/// edits the IK targets (BVH order, `frames × joints`) in place.
///
/// 1. Contacts per foot joint: squared displacement to the next frame below
///    `[0.05, 0.2]` and height below `[0.06, 0.03]` (ankle, toe); the last frame copies the one
///    before.
/// 2. Floor = mean of the sorted per-frame lowest foot heights over sorted indices
///    `[⌊T/4⌋, ⌊T/2⌋)` (0 if above 0.5 m, or if that range is empty), subtracted from all y.
/// 3. Each contact run is replaced by its mean with y = 0; non-contact frames within 5 frames
///    of a run are blended towards it with `α(x) = 2x³ − 3x² + 1`.
fn remove_foot_sliding(glb: &mut [Vec3<f64>], nf: usize, nj: usize) {
    let at = |g: &[Vec3<f64>], t: usize, j: usize| g[t * nj + j];

    // 1. Contacts (computed before the floor shift, like the reference).
    let contact: Vec<Vec<bool>> = FOOT_JOINTS
        .iter()
        .enumerate()
        .map(|(i, &fj)| {
            let k = i % 2; // ankle or toe thresholds
            let mut c: Vec<bool> = (0..nf.saturating_sub(1))
                .map(|t| {
                    let d = sub3(at(glb, t + 1, fj), at(glb, t, fj));
                    let vel = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
                    vel < FOOT_VEL_THRESHOLD[k] && at(glb, t, fj)[1] < FOOT_HEIGHT_THRESHOLD[k]
                })
                .collect();
            // The last frame copies the one before (no contact at all for a 1-frame clip).
            c.push(c.last().copied().unwrap_or(false));
            c
        })
        .collect();

    // 2. Floor height.
    let mut heights: Vec<f64> = (0..nf)
        .map(|t| {
            FOOT_JOINTS
                .iter()
                .map(|&fj| at(glb, t, fj)[1])
                .fold(f64::INFINITY, f64::min)
        })
        .collect();
    heights.sort_by(f64::total_cmp);
    let (lo, hi) = ((0.25 * nf as f64) as usize, (0.5 * nf as f64) as usize);
    let mut floor = if hi > lo {
        heights[lo..hi].iter().sum::<f64>() / (hi - lo) as f64
    } else {
        0.0
    };
    if floor > 0.5 {
        floor = 0.0; // e.g. swimming: no floor contact
    }
    for p in glb.iter_mut() {
        p[1] -= floor;
    }

    // 3. Pin contact runs, then blend the frames next to them.
    let alpha = |x: f64| 2.0 * x * x * x - 3.0 * x * x + 1.0;
    let lerp = |a: f64, l: Vec3<f64>, r: Vec3<f64>| add3(scale3(l, 1.0 - a), scale3(r, a));
    let il = FOOT_INTERP_LENGTH;
    for (i, &fj) in FOOT_JOINTS.iter().enumerate() {
        let fixed = &contact[i];
        let mut s = 0;
        while s < nf {
            while s < nf && !fixed[s] {
                s += 1;
            }
            if s >= nf {
                break;
            }
            let mut t = s;
            let mut avg = at(glb, t, fj);
            while t + 1 < nf && fixed[t + 1] {
                t += 1;
                avg = add3(avg, at(glb, t, fj));
            }
            let mut avg = scale3(avg, 1.0 / (t - s + 1) as f64);
            avg[1] = 0.0;
            for f in s..=t {
                glb[f * nj + fj] = avg;
            }
            s = t + 1;
        }

        for s in 0..nf {
            if fixed[s] {
                continue;
            }
            let l = (1..=il)
                .take_while(|&k| k <= s)
                .map(|k| s - k)
                .find(|&f| fixed[f]);
            let r = (1..=il)
                .map(|k| s + k)
                .take_while(|&f| f < nf)
                .find(|&f| fixed[f]);
            let cur = at(glb, s, fj);
            let new = match (l, r) {
                (None, None) => continue,
                (Some(l), None) => lerp(alpha((s - l + 1) as f64 / (il + 1) as f64), cur, at(glb, l, fj)),
                (None, Some(r)) => lerp(alpha((r - s + 1) as f64 / (il + 1) as f64), cur, at(glb, r, fj)),
                (Some(l), Some(r)) => {
                    let litp = lerp(alpha((s - l + 1) as f64 / (il + 1) as f64), cur, at(glb, l, fj));
                    let ritp = lerp(alpha((r - s + 1) as f64 / (il + 1) as f64), cur, at(glb, r, fj));
                    lerp(alpha((s - l + 1) as f64 / (r - l + 1) as f64), ritp, litp)
                }
            };
            glb[s * nj + fj] = new;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Parser

/// One BVH channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BvhChannel {
    Xposition,
    Yposition,
    Zposition,
    Xrotation,
    Yrotation,
    Zrotation,
}

impl BvhChannel {
    fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "xposition" => Self::Xposition,
            "yposition" => Self::Yposition,
            "zposition" => Self::Zposition,
            "xrotation" => Self::Xrotation,
            "yrotation" => Self::Yrotation,
            "zrotation" => Self::Zrotation,
            _ => return None,
        })
    }

    /// Axis index (0 = X, 1 = Y, 2 = Z).
    pub fn axis(self) -> usize {
        match self {
            Self::Xposition | Self::Xrotation => 0,
            Self::Yposition | Self::Yrotation => 1,
            Self::Zposition | Self::Zrotation => 2,
        }
    }

    /// Whether this is a rotation channel.
    pub fn is_rotation(self) -> bool {
        matches!(self, Self::Xrotation | Self::Yrotation | Self::Zrotation)
    }
}

/// A parsed BVH file: hierarchy plus motion channels.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedBvh {
    /// Joint names in file (depth-first) order; End Sites are not joints.
    pub names: Vec<String>,
    /// Parents (`-1` for the root); a parent always precedes its children.
    pub parents: Vec<i32>,
    /// OFFSET of each joint.
    pub offsets: Vec<Vec3<f64>>,
    /// Channels of each joint, in file order.
    pub channels: Vec<Vec<BvhChannel>>,
    /// OFFSET of the End Site under each joint, if any.
    pub end_sites: Vec<Option<Vec3<f64>>>,
    /// Number of frames.
    pub frames: usize,
    /// Seconds per frame.
    pub frame_time: f64,
    /// Channel values, `frames × channel_count`, row-major; angles in degrees.
    pub motion: Vec<f64>,
}

impl ParsedBvh {
    /// Number of joints.
    pub fn joints(&self) -> usize {
        self.parents.len()
    }

    /// Total channels per frame.
    pub fn channel_count(&self) -> usize {
        self.channels.iter().map(Vec::len).sum()
    }

    /// Local translation and rotation of every joint at `frame`.
    ///
    /// Rotation channels compose in file order as intrinsic rotations
    /// (`Zrotation Yrotation Xrotation` gives `Rz·Ry·Rx`). Position channels **replace** the
    /// matching OFFSET component, which is how the reference loader reads the root (whose
    /// position channels hold absolute positions while its OFFSET is non-zero).
    pub fn local_transforms(&self, frame: usize) -> (Vec<Vec3<f64>>, Vec<Quat<f64>>) {
        let cc = self.channel_count();
        let row = &self.motion[frame * cc..(frame + 1) * cc];
        let mut k = 0;
        let mut trans = self.offsets.clone();
        let mut rots = vec![qidentity::<f64>(); self.joints()];
        for j in 0..self.joints() {
            for &ch in &self.channels[j] {
                let v = row[k];
                k += 1;
                if ch.is_rotation() {
                    rots[j] = qmul(rots[j], axis_rotation(ch.axis(), v.to_radians()));
                } else {
                    trans[j][ch.axis()] = v;
                }
            }
        }
        (trans, rots)
    }

    /// Global joint positions of every frame (file joint order), as [`JointPositions`].
    pub fn fk_positions(&self) -> JointPositions {
        let nj = self.joints();
        let mut out = JointPositions::zeros(self.frames, nj);
        for t in 0..self.frames {
            let (trans, rots) = self.local_transforms(t);
            let mut pos = vec![[0.0f64; 3]; nj];
            let mut glob = vec![qidentity::<f64>(); nj];
            for j in 0..nj {
                if self.parents[j] < 0 {
                    pos[j] = trans[j];
                    glob[j] = rots[j];
                } else {
                    let p = self.parents[j] as usize;
                    pos[j] = add3(pos[p], qrot(glob[p], trans[j]));
                    glob[j] = qmul(glob[p], rots[j]);
                }
                out.set(t, j, [pos[j][0] as f32, pos[j][1] as f32, pos[j][2] as f32]);
            }
        }
        out
    }
}

/// A whitespace token with its 1-based line number.
struct Tok<'a> {
    text: &'a str,
    line: usize,
}

fn bvh_err(line: usize, message: impl Into<String>) -> MotionError {
    MotionError::Bvh {
        line,
        message: message.into(),
    }
}

/// Deepest joint nesting accepted (guards the recursive descent against hostile input).
const MAX_BVH_DEPTH: usize = 256;

/// Recursive-descent reader of the HIERARCHY tokens.
struct HierarchyParser<'a> {
    toks: Vec<Tok<'a>>,
    i: usize,
    /// Line reported when the tokens run out.
    end_line: usize,
}

impl<'a> HierarchyParser<'a> {
    fn next(&mut self) -> Result<&Tok<'a>, MotionError> {
        let t = self
            .toks
            .get(self.i)
            .ok_or_else(|| bvh_err(self.end_line, "unexpected end of HIERARCHY"))?;
        self.i += 1;
        Ok(t)
    }

    fn expect(&mut self, what: &str) -> Result<(), MotionError> {
        let t = self.next()?;
        if t.text == what {
            Ok(())
        } else {
            Err(bvh_err(t.line, format!("expected '{what}', found '{}'", t.text)))
        }
    }

    fn number(&mut self) -> Result<f64, MotionError> {
        let t = self.next()?;
        t.text
            .parse::<f64>()
            .map_err(|_| bvh_err(t.line, format!("expected a number, found '{}'", t.text)))
    }

    fn offset(&mut self) -> Result<Vec3<f64>, MotionError> {
        self.expect("OFFSET")?;
        Ok([self.number()?, self.number()?, self.number()?])
    }

    /// Parses `{ OFFSET .. CHANNELS .. (JOINT ..|End Site ..)* }` after a joint's name.
    fn joint(
        &mut self,
        name: String,
        parent: i32,
        depth: usize,
        bvh: &mut ParsedBvh,
    ) -> Result<(), MotionError> {
        let open_line = self.toks.get(self.i).map_or(self.end_line, |t| t.line);
        if depth > MAX_BVH_DEPTH {
            return Err(bvh_err(open_line, "joints nested too deeply"));
        }
        self.expect("{")?;
        let j = bvh.parents.len();
        bvh.names.push(name);
        bvh.parents.push(parent);
        let o = self.offset()?;
        bvh.offsets.push(o);
        self.expect("CHANNELS")?;
        let t = self.next()?;
        let (n_line, n) = (t.line, t.text.parse::<usize>());
        let n = n.map_err(|_| bvh_err(n_line, "expected a channel count"))?;
        if n > 9 {
            return Err(bvh_err(n_line, format!("{n} channels on one joint")));
        }
        let mut chans = Vec::with_capacity(n);
        for _ in 0..n {
            let t = self.next()?;
            let ch = BvhChannel::parse(t.text)
                .ok_or_else(|| bvh_err(t.line, format!("unknown channel '{}'", t.text)))?;
            chans.push(ch);
        }
        bvh.channels.push(chans);
        bvh.end_sites.push(None);
        loop {
            let t = self.next()?;
            let line = t.line;
            match t.text {
                "JOINT" => {
                    let name = self.next()?.text.to_string();
                    self.joint(name, j as i32, depth + 1, bvh)?;
                }
                "End" => {
                    self.expect("Site")?;
                    self.expect("{")?;
                    let o = self.offset()?;
                    self.expect("}")?;
                    bvh.end_sites[j] = Some(o);
                }
                "}" => return Ok(()),
                other => {
                    return Err(bvh_err(
                        line,
                        format!("expected JOINT, End Site or '}}', found '{other}'"),
                    ));
                }
            }
        }
    }
}

/// Parses BVH text (one `ROOT`; any channel order; one frame per line). Errors name the
/// 1-based line.
pub fn parse_bvh(text: &str) -> Result<ParsedBvh, MotionError> {
    let lines: Vec<&str> = text.lines().collect();
    // The hierarchy ends at the MOTION line.
    let motion_line = lines
        .iter()
        .position(|l| l.trim() == "MOTION")
        .ok_or_else(|| bvh_err(lines.len().max(1), "missing MOTION section"))?;
    let toks: Vec<Tok> = lines[..motion_line]
        .iter()
        .enumerate()
        .flat_map(|(i, l)| l.split_whitespace().map(move |text| Tok { text, line: i + 1 }))
        .collect();

    let mut bvh = ParsedBvh {
        names: Vec::new(),
        parents: Vec::new(),
        offsets: Vec::new(),
        channels: Vec::new(),
        end_sites: Vec::new(),
        frames: 0,
        frame_time: 0.0,
        motion: Vec::new(),
    };
    let mut p = HierarchyParser {
        toks,
        i: 0,
        end_line: motion_line + 1,
    };
    p.expect("HIERARCHY")?;
    p.expect("ROOT")?;
    let name = p.next()?.text.to_string();
    p.joint(name, -1, 0, &mut bvh)?;
    if let Some(t) = p.toks.get(p.i) {
        return Err(bvh_err(
            t.line,
            format!(
                "unexpected '{}' after the ROOT block (only one ROOT is supported)",
                t.text
            ),
        ));
    }

    // MOTION: "Frames: n", "Frame Time: f", then one line of channel values per frame.
    let mut l = motion_line + 1;
    let mut header = |key: &str| -> Result<(usize, String), MotionError> {
        while l < lines.len() && lines[l].trim().is_empty() {
            l += 1;
        }
        let line_no = l + 1;
        let text = lines
            .get(l)
            .ok_or_else(|| bvh_err(line_no, format!("missing '{key}'")))?;
        let rest = text
            .trim()
            .strip_prefix(key)
            .ok_or_else(|| bvh_err(line_no, format!("expected '{key}'")))?;
        l += 1;
        Ok((line_no, rest.trim().to_string()))
    };
    let (ln, v) = header("Frames:")?;
    bvh.frames = v
        .parse()
        .map_err(|_| bvh_err(ln, format!("bad frame count '{v}'")))?;
    let (ln, v) = header("Frame Time:")?;
    bvh.frame_time = v
        .parse()
        .map_err(|_| bvh_err(ln, format!("bad frame time '{v}'")))?;
    let cc = bvh.channel_count();
    bvh.motion.reserve(bvh.frames * cc);
    let mut got = 0;
    for (k, text) in lines.iter().enumerate().skip(l) {
        if text.trim().is_empty() {
            continue;
        }
        if got == bvh.frames {
            return Err(bvh_err(
                k + 1,
                format!("more frame lines than 'Frames: {}'", bvh.frames),
            ));
        }
        let before = bvh.motion.len();
        for tok in text.split_whitespace() {
            let v: f64 = tok
                .parse()
                .map_err(|_| bvh_err(k + 1, format!("expected a number, found '{tok}'")))?;
            bvh.motion.push(v);
        }
        let n = bvh.motion.len() - before;
        if n != cc {
            return Err(bvh_err(
                k + 1,
                format!("frame has {n} values, the hierarchy has {cc} channels"),
            ));
        }
        got += 1;
    }
    if got != bvh.frames {
        return Err(bvh_err(
            lines.len(),
            format!("'Frames: {}' but {got} frame lines", bvh.frames),
        ));
    }
    Ok(bvh)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn re_order_tables_are_inverse() {
        for (k, &smpl) in RE_ORDER.iter().enumerate() {
            assert_eq!(RE_ORDER_INV[smpl], k);
        }
    }

    #[test]
    fn ik_reaches_template_pose() {
        // Targets produced by the template itself with known rotations are reachable.
        let mut local = vec![qidentity::<f64>(); 22];
        local[1] = axis_rotation(0, 0.4);
        local[2] = axis_rotation(0, 0.6);
        local[15] = axis_rotation(2, 0.5);
        let root = [0.1, 0.9, -0.2];
        let (targets, _) = fk(&BVH_PARENTS, &BVH_TEMPLATE_OFFSETS, root, &local);
        let mut fitted = vec![qidentity::<f64>(); 22];
        basic_ik(
            &BVH_PARENTS,
            &BVH_TEMPLATE_OFFSETS,
            root,
            &targets,
            &mut fitted,
            100,
        );
        let (pos, _) = fk(&BVH_PARENTS, &BVH_TEMPLATE_OFFSETS, root, &fitted);
        for (p, q) in pos.iter().zip(&targets) {
            assert!(norm(sub3(*p, *q)) < 1e-4, "{p:?} vs {q:?}");
        }
    }

    #[test]
    fn remove_fs_pins_contacts_and_blends_neighbours() {
        let (nf, nj) = (20, 22);
        let mut glb = vec![[0.0f64, 0.5, 0.0]; nf * nj];
        for t in 0..nf {
            // Left ankle: standing at (0.1, 0.02, 0.3) for frames 0..=9, then lifting fast. The
            // contact of frame t looks at t → t+1, so the run is 0..=8; frames 9..=12 blend
            // (frame 13 is 5 frames away, where α = 0).
            let y = if t <= 9 { 0.02 } else { 0.02 + 0.3 * (t - 9) as f64 };
            glb[t * nj + 3] = [0.1, y, 0.3];
        }
        let orig = glb.clone();
        remove_foot_sliding(&mut glb, nf, nj);
        for t in 0..nf {
            let (p, o) = (glb[t * nj + 3], orig[t * nj + 3]);
            match t {
                0..=8 => {
                    // Mean of the run (rounding only), on the floor.
                    assert!((p[0] - 0.1).abs() < 1e-12 && (p[2] - 0.3).abs() < 1e-12);
                    assert_eq!(p[1], 0.0, "frame {t} pinned on the floor");
                }
                9 => assert!(p[1].abs() < 1e-12, "frame 9 is still at floor height"),
                10..=12 => assert!(p[1] < o[1] - 0.02 - 1e-6, "frame {t} blended towards the floor"),
                _ => assert!((p[1] - (o[1] - 0.02)).abs() < 1e-12, "frame {t} untouched"),
            }
            // Every target moves down by the floor height (0.02).
            assert!((glb[t * nj + 5][1] - 0.48).abs() < 1e-12);
        }
    }

    #[test]
    fn parse_errors_name_the_line() {
        let bad = "HIERARCHY\nROOT Hips\n{\n\tOFFSET 0 0 zero\n";
        match parse_bvh(bad) {
            // No MOTION section: reported at the last line.
            Err(MotionError::Bvh { line, message }) => {
                assert_eq!(line, 4);
                assert!(message.contains("MOTION"));
            }
            other => panic!("{other:?}"),
        }
        let bad = "HIERARCHY\nROOT Hips\n{\n\tOFFSET 0 0 x\n}\nMOTION\nFrames: 0\nFrame Time: 0.05\n";
        match parse_bvh(bad) {
            Err(MotionError::Bvh { line, message }) => {
                assert_eq!(line, 4);
                assert!(message.contains("'x'"));
            }
            other => panic!("{other:?}"),
        }
    }
}
