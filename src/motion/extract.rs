//! Joints → features (spec §1.8, the reference `utils/motion_process.py: process_file`).
//!
//! Steps: retarget to the target skeleton, put on the floor, move frame 0's root to the xz
//! origin, turn frame 0 to face +Z, detect foot contacts, run the smoothed-heading IK, and
//! assemble `(T−1) × dim` feature rows.
//!
//! Precision follows the reference: quaternion products, rotations and `qbetween` run in
//! float32 (the reference routes them through torch float32), while the forward-kinematics
//! sums of the retarget, the floor/origin shifts, the facing direction and the Gaussian
//! smoothing run in float64 (numpy float64 there).

use super::error::MotionError;
use super::joints::JointPositions;
use super::layout::FeatureLayout;
use super::quat::{
    Quat, Vec3, add3, cross, normalize, qbetween, qidentity, qinv, qmul, qrot, quat_to_cont6d, sub3,
};
use super::skeleton::Skeleton;

/// Standard deviation (frames) of the Gaussian that smooths the IK heading.
const HEADING_SIGMA: f64 = 20.0;
/// scipy's default `truncate`: the kernel radius is `int(4·σ + 0.5)` = 80 (161 taps).
const GAUSSIAN_TRUNCATE: f64 = 4.0;

const UP: Vec3<f64> = [0.0, 1.0, 0.0];
const FORWARD: Vec3 = [0.0, 0.0, 1.0];

/// Features of a joint sequence: `(frames − 1) × layout.dim` floats, row-major.
///
/// `joints` are global positions in metres, Y up, at `layout.fps`, with the skeleton's joint
/// order. The motion is first brought into the canonical frame ([`canonicalize_joints`]);
/// the last frame only contributes velocities, hence one row fewer than frames.
pub fn joints_to_features(
    joints: &JointPositions,
    layout: &FeatureLayout,
    skeleton: &Skeleton,
) -> Result<Vec<f32>, MotionError> {
    check_inputs(joints, Some(layout), skeleton)?;
    let g = canonical(joints, skeleton)?;
    features_from_canonical(&g, joints.frames, layout, skeleton)
}

/// Steps 1–4 of the extraction: the joints retargeted to the skeleton's bone lengths, on the
/// floor, with frame 0's root at the xz origin and frame 0 facing +Z. These are the global
/// positions the features describe; [`recover_from_ric`](super::recover_from_ric) of the
/// features reproduces them (minus the last frame).
pub fn canonicalize_joints(
    joints: &JointPositions,
    skeleton: &Skeleton,
) -> Result<JointPositions, MotionError> {
    check_inputs(joints, None, skeleton)?;
    let g = canonical(joints, skeleton)?;
    JointPositions::new(
        joints.frames,
        joints.joints,
        g.iter().flatten().copied().collect(),
    )
}

fn check_inputs(
    joints: &JointPositions,
    layout: Option<&FeatureLayout>,
    skeleton: &Skeleton,
) -> Result<(), MotionError> {
    if let Some(layout) = layout
        && (layout.joints != skeleton.joints()
            || layout.dim != 4 + (layout.joints - 1) * 9 + layout.joints * 3 + 4)
    {
        return Err(MotionError::LayoutMismatch {
            layout: layout.name.to_string(),
            skeleton: skeleton.name.clone(),
        });
    }
    if joints.joints != skeleton.joints() {
        return Err(MotionError::WrongJointCount {
            expected: skeleton.joints(),
            got: joints.joints,
        });
    }
    if joints.frames < 2 {
        return Err(MotionError::TooFewFrames {
            needed: 2,
            got: joints.frames,
        });
    }
    if !skeleton.has_bone_lengths() {
        return Err(MotionError::MissingBoneLengths {
            skeleton: skeleton.name.clone(),
        });
    }
    joints.validate()
}

/// Frame-major joint positions: `p[t * joints + j]`.
type Frames<T> = Vec<Vec3<T>>;

fn to_f32(v: Vec3<f64>) -> Vec3 {
    [v[0] as f32, v[1] as f32, v[2] as f32]
}

fn to_f64(v: Vec3) -> Vec3<f64> {
    [v[0] as f64, v[1] as f64, v[2] as f64]
}

/// Steps 1–4 (spec §1.8): returns the canonical global positions `G` in float32.
fn canonical(joints: &JointPositions, skel: &Skeleton) -> Result<Frames<f32>, MotionError> {
    let (nf, nj) = (joints.frames, joints.joints);
    let src: Frames<f32> = joints.data.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect();

    // 1. Uniform skeleton.
    let mut p = uniform_skeleton(&src, nf, nj, skel)?;

    // 2. Put on the floor: subtract the lowest y over all frames and joints.
    let floor = p.iter().map(|v| v[1]).fold(f64::INFINITY, f64::min);
    for v in &mut p {
        v[1] -= floor;
    }

    // 3. Frame 0's root to the xz origin. The facing uses frame 0 before this shift.
    let init: Vec<Vec3<f64>> = p[..nj].to_vec();
    let (ox, oz) = (init[0][0], init[0][2]);
    for v in &mut p {
        v[0] -= ox;
        v[2] -= oz;
    }

    // 4. Face +Z: across = (r_hip − l_hip) + (r_sdr − l_sdr) of frame 0.
    let [r_hip, l_hip, sdr_r, sdr_l] = skel.face_joints;
    let across = add3(sub3(init[r_hip], init[l_hip]), sub3(init[sdr_r], init[sdr_l]));
    let forward = facing_from_across(across).ok_or(MotionError::DegenerateFacing { frame: 0 })?;
    let q0 = qbetween(to_f32(forward), FORWARD);
    Ok(p.iter().map(|&v| qrot(q0, to_f32(v))).collect())
}

/// `normalize(cross(+Y, normalize(across)))` in float64; `None` when degenerate.
fn facing_from_across(across: Vec3<f64>) -> Option<Vec3<f64>> {
    let a = normalize(across);
    let f = normalize(cross(UP, a));
    f.iter().all(|x| x.is_finite()).then_some(f)
}

/// Step 1 (`uniform_skeleton`): scale the root trajectory by the lower-leg ratio, then rebuild
/// every bone with its world direction and the target length (IK without smoothing, FK with the
/// target offsets). Returns float64 positions like the reference's `forward_kinematics_np`.
fn uniform_skeleton(src: &[Vec3], nf: usize, nj: usize, skel: &Skeleton) -> Result<Frames<f64>, MotionError> {
    let parents = &skel.parents;
    let tgt = skel.target_offsets();
    // Source offsets from frame 0: raw direction · measured length (float32).
    let max_abs = |v: Vec3| v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let src_off = |i: usize| -> Vec3 {
        let par = parents[i].max(0) as usize;
        let d = sub3(src[i], src[par]);
        let len = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
        let r = skel.raw_offsets[i];
        [r[0] * len, r[1] * len, r[2] * len]
    };
    let [l1, l2] = skel.lower_leg;
    let src_leg = max_abs(src_off(l1)) + max_abs(src_off(l2));
    let tgt_leg = max_abs(tgt[l1]) + max_abs(tgt[l2]);
    if src_leg <= 0.0 {
        return Err(MotionError::DegenerateBone { frame: 0, joint: l1 });
    }
    let scale = tgt_leg / src_leg;

    let quats = inverse_kinematics(src, nf, nj, skel, false)?;

    let mut out = vec![[0.0f64; 3]; nf * nj];
    for t in 0..nf {
        let q = &quats[t * nj..(t + 1) * nj];
        let r = src[t * nj];
        out[t * nj] = to_f64([r[0] * scale, r[1] * scale, r[2] * scale]);
        for chain in &skel.chains {
            let mut rot = q[0];
            for w in chain.windows(2) {
                let (a, b) = (w[0], w[1]);
                rot = qmul(rot, q[b]);
                let off = to_f64(qrot(rot, tgt[b]));
                out[t * nj + b] = add3(off, out[t * nj + a]);
            }
        }
    }
    Ok(out)
}

/// `Skeleton.inverse_kinematics_np` (spec §1.8 step 6): per-joint local quaternions (float32),
/// frame-major, with the root heading in slot 0.
///
/// The heading uses the reference's quirky unpacking of the face joints, i.e.
/// `across = (p[l_hip] − p[r_hip]) + (p[r_sdr] − p[l_sdr])`; with `smooth` it is Gaussian
/// smoothed over time (σ = 20, nearest edges). Frame 0's heading is forced to identity, and
/// every chain starts from the root heading.
fn inverse_kinematics(
    p: &[Vec3],
    nf: usize,
    nj: usize,
    skel: &Skeleton,
    smooth: bool,
) -> Result<Vec<Quat>, MotionError> {
    // Quirk: the caller passes (r_hip, l_hip, sdr_r, sdr_l) but they are unpacked as
    // (l_hip, r_hip, sdr_r, sdr_l), flipping the sign of the hip vector.
    let [l_hip, r_hip, sdr_r, sdr_l] = skel.face_joints;
    let mut fwd: Vec<Vec3<f64>> = Vec::with_capacity(nf);
    for t in 0..nf {
        let f = |j: usize| p[t * nj + j];
        let across = add3(sub3(f(r_hip), f(l_hip)), sub3(f(sdr_r), f(sdr_l)));
        let across = normalize(across); // float32, like numpy on float32 joints
        let fw = cross(UP, to_f64(across)); // int × float32 → float64 in numpy
        if !fw.iter().all(|x| x.is_finite()) || fw == [0.0; 3] {
            return Err(MotionError::DegenerateFacing { frame: t });
        }
        fwd.push(fw);
    }
    if smooth {
        for axis in 0..3 {
            let col: Vec<f64> = fwd.iter().map(|v| v[axis]).collect();
            let sm = gaussian_filter1d_nearest(&col, HEADING_SIGMA, GAUSSIAN_TRUNCATE);
            for (v, s) in fwd.iter_mut().zip(sm) {
                v[axis] = s;
            }
        }
    }

    let mut quats = vec![qidentity::<f32>(); nf * nj];
    for t in 0..nf {
        let fw = normalize(fwd[t]);
        if !fw.iter().all(|x| x.is_finite()) {
            return Err(MotionError::DegenerateFacing { frame: t });
        }
        let root = if t == 0 {
            qidentity()
        } else {
            qbetween(to_f32(fw), FORWARD)
        };
        let q = &mut quats[t * nj..(t + 1) * nj];
        q[0] = root;
        for chain in &skel.chains {
            let mut r = root;
            for w in chain.windows(2) {
                let (a, b) = (w[0], w[1]);
                let d = sub3(p[t * nj + b], p[t * nj + a]);
                if d == [0.0; 3] {
                    return Err(MotionError::DegenerateBone { frame: t, joint: b });
                }
                let v = normalize(d);
                let rot_uv = qbetween(skel.raw_offsets[b], v);
                let local = qmul(qinv(r), rot_uv);
                q[b] = local;
                r = qmul(r, local);
            }
        }
    }
    Ok(quats)
}

/// scipy `gaussian_filter1d(x, sigma, mode='nearest', truncate)`: a normalised kernel of
/// `exp(−k²/(2σ²))`, `k = −r..=r` with `r = int(truncate·σ + 0.5)`; samples beyond the ends
/// repeat the edge value. Summed like scipy's symmetric-kernel loop (centre first, then the
/// outermost pair inwards).
pub fn gaussian_filter1d_nearest(x: &[f64], sigma: f64, truncate: f64) -> Vec<f64> {
    let n = x.len();
    if n == 0 {
        return Vec::new();
    }
    let radius = (truncate * sigma + 0.5) as usize;
    let c = -0.5 / (sigma * sigma);
    let mut w: Vec<f64> = (0..=radius).map(|k| (c * (k * k) as f64).exp()).collect();
    let total: f64 = w[0] + 2.0 * w[1..].iter().sum::<f64>();
    for v in &mut w {
        *v /= total;
    }
    let at = |i: isize| x[i.clamp(0, n as isize - 1) as usize];
    (0..n as isize)
        .map(|i| {
            let mut acc = at(i) * w[0];
            for k in (1..=radius).rev() {
                acc += (at(i - k as isize) + at(i + k as isize)) * w[k];
            }
            acc
        })
        .collect()
}

/// Steps 5–8 on the canonical positions `g` (frame-major, float32).
fn features_from_canonical(
    g: &[Vec3],
    nf: usize,
    layout: &FeatureLayout,
    skel: &Skeleton,
) -> Result<Vec<f32>, MotionError> {
    let nj = layout.joints;
    let at = |t: usize, j: usize| g[t * nj + j];

    // 5. Foot contacts: squared displacement below the threshold (no height test).
    let thr = layout.feet_threshold_f64();
    let contact = |t: usize, j: usize| -> f32 {
        let d = sub3(at(t + 1, j), at(t, j));
        let s = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
        if (s as f64) < thr { 1.0 } else { 0.0 }
    };

    // 6. IK with the smoothed heading; r_rot is the root slot.
    let quats = inverse_kinematics(g, nf, nj, skel, true)?;
    let r_rot = |t: usize| quats[t * nj];

    let ric = layout.ric_range();
    let rot = layout.rot_range();
    let vel = layout.vel_range();
    let con = layout.contact_range();
    let mut out = vec![0.0f32; (nf - 1) * layout.dim];
    for (t, row) in out.chunks_exact_mut(layout.dim).enumerate() {
        let (rr, rr_next) = (r_rot(t), r_rot(t + 1));
        // Root: half-angle yaw velocity and xz velocity in the next frame's heading.
        let r_vel = qmul(rr_next, qinv(rr));
        let root_vel = qrot(rr_next, sub3(at(t + 1, 0), at(t, 0)));
        row[FeatureLayout::ROOT_ROT_VEL] = r_vel[2].asin();
        row[1] = root_vel[0];
        row[2] = root_vel[2];

        // 7. RIC: root x/z removed, rotated by the heading of this frame (y stays absolute).
        let root = at(t, 0);
        for j in 0..nj {
            let mut v = at(t, j);
            v[0] -= root[0];
            v[2] -= root[2];
            let v = qrot(rr, v);
            if j == 0 {
                row[FeatureLayout::ROOT_Y] = v[1];
            } else {
                row[ric.start + (j - 1) * 3..ric.start + j * 3].copy_from_slice(&v);
            }
        }
        for j in 1..nj {
            let c6 = quat_to_cont6d(quats[t * nj + j]);
            row[rot.start + (j - 1) * 6..rot.start + j * 6].copy_from_slice(&c6);
        }
        for j in 0..nj {
            let v = qrot(rr, sub3(at(t + 1, j), at(t, j)));
            row[vel.start + j * 3..vel.start + (j + 1) * 3].copy_from_slice(&v);
        }
        let [la, lf] = skel.foot_left;
        let [ra, rf] = skel.foot_right;
        row[con.clone()].copy_from_slice(&[contact(t, la), contact(t, lf), contact(t, ra), contact(t, rf)]);
        if let Some(i) = row.iter().position(|v| !v.is_finite()) {
            return Err(MotionError::NonFiniteFeature { frame: t, index: i });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaussian_matches_scipy_shape() {
        // A constant signal stays constant; a step is smoothed symmetrically.
        let c = gaussian_filter1d_nearest(&[2.0; 10], 20.0, 4.0);
        assert!(c.iter().all(|v| (v - 2.0).abs() < 1e-12));
        let mut step = vec![0.0; 200];
        for v in &mut step[100..] {
            *v = 1.0;
        }
        let s = gaussian_filter1d_nearest(&step, 20.0, 4.0);
        assert!((s[99] + s[100] - 1.0).abs() < 1e-12);
        assert!(s[0] < 1e-6 && s[199] > 1.0 - 1e-6);
    }

    #[test]
    fn too_few_frames_is_an_error() {
        let j = JointPositions::zeros(1, 22);
        let r = joints_to_features(&j, &crate::motion::layout::HUMANML3D, &Skeleton::humanml3d());
        assert!(matches!(r, Err(MotionError::TooFewFrames { needed: 2, got: 1 })));
    }
}
