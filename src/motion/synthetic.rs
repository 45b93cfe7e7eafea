//! A deterministic synthetic walk on the HumanML3D skeleton, for tests and demos.
//!
//! The motion is built by forward kinematics with the target bone lengths of
//! [`HML_BONE_LENGTHS`](super::skeleton::HML_BONE_LENGTHS), so every bone keeps its length
//! exactly (unlike network output). The rest-pose bone directions are those of the BVH
//! template (a T-pose with realistic hips, collars and head), so the pose resembles real SMPL
//! joints. The body walks forward at about 1.1 m/s while turning left slowly, swinging legs and
//! arms.

use super::bvh::{BVH_TEMPLATE_OFFSETS, RE_ORDER_INV};
use super::joints::JointPositions;
use super::quat::{Quat, Vec3, add3, axis_rotation, normalize, qidentity, qmul, qrot, scale3};
use super::skeleton::{HML_BONE_LENGTHS, HML_PARENTS};

/// Walk-cycle frequency (strides per second).
const STEP_HZ: f64 = 0.9;
/// Forward speed in metres per second.
const SPEED: f64 = 1.1;
/// Turning rate in radians per second (≈ 112° over a 196-frame clip at 20 fps).
const TURN_RATE: f64 = 0.2;

/// `frames` frames of a walk at `fps`, 22 HumanML3D joints, with exact target bone lengths.
pub fn walk(frames: usize, fps: f32) -> JointPositions {
    let dt = 1.0 / fps as f64;
    let mut out = JointPositions::zeros(frames, 22);
    let mut root_xz = [0.0f64, 0.0];
    for t in 0..frames {
        let time = t as f64 * dt;
        let phi = 2.0 * std::f64::consts::PI * STEP_HZ * time;
        let yaw = TURN_RATE * time;
        if t > 0 {
            root_xz[0] += SPEED * dt * yaw.sin();
            root_xz[1] += SPEED * dt * yaw.cos();
        }
        let local = pose(phi);
        let root_rot = qmul(axis_rotation(1, yaw), local[0]);
        let root = [root_xz[0], 0.95 + 0.02 * (2.0 * phi).cos(), root_xz[1]];
        let (pos, _) = forward_kinematics(root, root_rot, &local);
        for (j, p) in pos.iter().enumerate() {
            out.set(t, j, [p[0] as f32, p[1] as f32, p[2] as f32]);
        }
    }
    out
}

/// Local joint rotations at walk phase `phi`. Slot `j` rotates the bones leaving joint `j`.
fn pose(phi: f64) -> [Quat<f64>; 22] {
    let rx = |a: f64| axis_rotation(0, a);
    let ry = |a: f64| axis_rotation(1, a);
    let rz = |a: f64| axis_rotation(2, a);
    let s = phi.sin();
    let mut q = [qidentity::<f64>(); 22];
    q[0] = qmul(rz(0.04 * s), rx(0.05)); // pelvis sway and slight forward tilt
    q[1] = rx(0.45 * s); // left hip swing
    q[2] = rx(-0.45 * s); // right hip swing
    q[4] = rx(0.35 + 0.3 * (phi + 1.0).sin()); // knees stay bent (shank backwards)
    q[5] = rx(0.35 - 0.3 * (phi + 1.0).sin());
    q[7] = rx(-0.15 * s); // ankles
    q[8] = rx(0.15 * s);
    q[3] = ry(0.08 * s); // spine twist
    q[6] = rx(0.05);
    q[9] = ry(-0.05 * s);
    q[12] = rx(-0.1); // neck
    q[13] = rz(0.1); // collars
    q[14] = rz(-0.1);
    // Arms: lowered from the T-pose, then swung against the legs.
    q[16] = qmul(rx(-0.35 * s), rz(-1.3));
    q[17] = qmul(rx(0.35 * s), rz(1.3));
    q[18] = ry(-0.4 - 0.15 * s); // elbows bent forward
    q[19] = ry(0.4 - 0.15 * s);
    q
}

/// Rest offset of SMPL joint `j`: the template's direction for that bone, with the HumanML3D
/// target length.
fn rest_offset(j: usize) -> Vec3<f64> {
    let dir = normalize(BVH_TEMPLATE_OFFSETS[RE_ORDER_INV[j]]);
    scale3(dir, HML_BONE_LENGTHS[j] as f64)
}

/// FK with the rest offsets: `G[j] = G[parent] ⊗ L[j]`,
/// `p[j] = p[parent] + G[parent]·offset[j]`. Returns positions and global rotations.
fn forward_kinematics(
    root: Vec3<f64>,
    root_rot: Quat<f64>,
    local: &[Quat<f64>; 22],
) -> ([Vec3<f64>; 22], [Quat<f64>; 22]) {
    let mut pos = [[0.0f64; 3]; 22];
    let mut glob = [qidentity::<f64>(); 22];
    pos[0] = root;
    glob[0] = root_rot;
    for j in 1..22 {
        let p = HML_PARENTS[j] as usize;
        pos[j] = add3(pos[p], qrot(glob[p], rest_offset(j)));
        glob[j] = qmul(glob[p], local[j]);
    }
    (pos, glob)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_keeps_bone_lengths_and_moves_forward() {
        let w = walk(60, 20.0);
        for t in [0, 30, 59] {
            for j in 1..22 {
                let a = w.get(t, j);
                let b = w.get(t, HML_PARENTS[j] as usize);
                let d = ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt();
                assert!((d - HML_BONE_LENGTHS[j]).abs() < 1e-5, "joint {j}: {d}");
            }
        }
        assert!(w.get(59, 0)[2] > 2.5);
        // Left hip at +X in frame 0 (body faces +Z).
        assert!(w.get(0, 1)[0] > w.get(0, 2)[0]);
    }
}
