//! The synthetic body: a per-frame pose description ([`Frame`]) and its resolution to the 22
//! HumanML3D joint positions by forward kinematics (pelvis, spine, neck, collars) and analytic
//! two-bone IK (legs toward planted ankle targets, arms toward wrist targets).
//!
//! Every bone is placed as `parent + unit_direction · length` with the HumanML3D target bone
//! lengths ([`HML_BONE_LENGTHS`]), so bone lengths are exact up to float rounding. The pelvis
//! height is limited with a smooth minimum so both legs can always reach their ankle targets:
//! planted feet therefore stay exactly where they were planted.

use super::math::{Q, V3, deg, heading_dir, smin, smooth, v3};
use crate::motion::skeleton::HML_BONE_LENGTHS;

/// Side index of the body's left (+X).
pub const LEFT: usize = 0;
/// Side index of the body's right (−X).
pub const RIGHT: usize = 1;

/// `+1` for the left side, `−1` for the right side.
pub fn sgn(side: usize) -> f64 {
    if side == LEFT { 1.0 } else { -1.0 }
}

/// Bone length of joint `j` (parent → j), metres.
pub fn bone(j: usize) -> f64 {
    HML_BONE_LENGTHS[j] as f64
}

/// Height of the toe joint ("foot", 10/11) above the floor when the foot is flat.
pub const TOE_Y: f64 = 0.0;
/// Downward pitch of the ankle → toe bone of a flat foot.
pub const FOOT_SLOPE: f64 = 0.436_332_312_998_582_4; // 25°
/// Ankle, knee and hip joints of each side.
const ANKLE: [usize; 2] = [7, 8];
const KNEE: [usize; 2] = [4, 5];
const HIP: [usize; 2] = [1, 2];
const TOE: [usize; 2] = [10, 11];
const COLLAR: [usize; 2] = [13, 14];
const SHOULDER: [usize; 2] = [16, 17];
const ELBOW: [usize; 2] = [18, 19];
const WRIST: [usize; 2] = [20, 21];
/// Largest hip–ankle distance used, as a fraction of thigh + shin (keeps the knee off the
/// singular fully straight configuration).
const MAX_REACH: f64 = 0.996;

/// Pelvis height of a relaxed upright stance.
pub const STAND_Y: f64 = 0.975;

/// Ankle height of a flat foot on the floor.
pub fn ankle_y(side: usize) -> f64 {
    TOE_Y + bone(TOE[side]) * FOOT_SLOPE.sin()
}

/// Rest direction of each bone in the body frame (my own anatomical rest pose; only the
/// pelvis, spine, neck/head and collar bones are placed by FK from these).
fn rest_dir(j: usize) -> V3 {
    let d = match j {
        1 => v3(0.55, -0.82, -0.12),
        2 => v3(-0.55, -0.82, -0.12),
        3 => v3(0.0, 0.96, -0.28),
        6 => v3(0.0, 0.985, 0.17),
        9 => v3(0.0, 1.0, 0.06),
        12 => v3(0.0, 0.985, -0.16),
        13 => v3(0.55, 0.82, -0.12),
        14 => v3(-0.55, 0.82, -0.12),
        15 => v3(0.0, 0.8, 0.6),
        16 => v3(0.95, 0.28, -0.1),
        17 => v3(-0.95, 0.28, -0.1),
        _ => v3(0.0, -1.0, 0.0),
    };
    d.norm()
}

/// Rest offset (direction · length) of joint `j` from its parent.
pub fn rest_offset(j: usize) -> V3 {
    rest_dir(j) * bone(j)
}

/// The shoulder joint relative to spine3 in the chest frame (no shrug).
pub fn shoulder_in_chest(side: usize) -> V3 {
    rest_offset(COLLAR[side]) + rest_offset(SHOULDER[side])
}

/// Foot control: where the ankle is, which way the foot points, and its pitch
/// (`> 0` toe up, `< 0` heel up) relative to a flat foot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Foot {
    pub ankle: V3,
    pub yaw: f64,
    pub pitch: f64,
}

impl Foot {
    /// Unit direction ankle → toe.
    pub fn toe_dir(&self) -> V3 {
        let e = -FOOT_SLOPE + self.pitch;
        let h = heading_dir(self.yaw);
        v3(h.x * e.cos(), e.sin(), h.z * e.cos())
    }

    /// A foot whose toe sits at `toe` (e.g. a heel raised around a planted toe).
    pub fn from_toe(side: usize, toe: V3, yaw: f64, pitch: f64) -> Foot {
        let mut f = Foot {
            ankle: V3::ZERO,
            yaw,
            pitch,
        };
        f.ankle = toe - f.toe_dir() * bone(TOE[side]);
        f
    }

    /// Toe position of this foot on `side`.
    pub fn toe(&self, side: usize) -> V3 {
        self.ankle + self.toe_dir() * bone(TOE[side])
    }
}

/// Arm control: a wrist target relative to spine3 in the chest frame, an elbow pole direction
/// (chest frame), an optional world-space wrist target blended in with `world_w`, and a
/// shoulder shrug angle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arm {
    pub target: V3,
    pub pole: V3,
    pub world: V3,
    pub world_w: f64,
    pub shrug: f64,
}

impl Arm {
    /// The arm posed by angles: shoulder `flex` (forward raise), `abd` (sideways raise) and
    /// `elbow` flexion, all radians; the forearm bends toward `bend` (chest frame).
    pub fn angles(side: usize, flex: f64, abd: f64, elbow: f64, bend: V3) -> Arm {
        let s = sgn(side);
        let u = (Q::rx(-flex) * Q::rz(s * abd)).rot(v3(0.0, -1.0, 0.0));
        let mut b = bend - u * bend.dot(u);
        if b.len() < 1e-6 {
            b = v3(0.0, 1.0, 0.0) - u * u.y;
            if b.len() < 1e-6 {
                b = v3(0.0, 0.0, 1.0);
            }
        }
        let b = b.norm();
        let f = u * elbow.cos() + b * elbow.sin();
        let target = shoulder_in_chest(side) + u * bone(ELBOW[side]) + f * bone(WRIST[side]);
        let shrug = (0.25 * (u.y + 0.2)).max(0.0);
        Arm {
            target,
            pole: -b,
            world: V3::ZERO,
            world_w: 0.0,
            shrug,
        }
    }

    /// Relaxed arm hanging at the side.
    pub fn rest(side: usize) -> Arm {
        Arm::angles(side, deg(4.0), deg(2.5), deg(14.0), v3(0.0, 0.0, 1.0))
    }

    /// An arm reaching for a wrist position `target` given relative to spine3 (chest frame),
    /// with the elbow pointing toward `pole`.
    pub fn reach(target: V3, pole: V3) -> Arm {
        Arm {
            target,
            pole,
            world: V3::ZERO,
            world_w: 0.0,
            shrug: 0.0,
        }
    }

    /// Blend of two arm controls.
    pub fn lerp(&self, o: &Arm, t: f64) -> Arm {
        Arm {
            target: self.target.lerp(o.target, t),
            pole: self.pole.lerp(o.pole, t),
            world: self.world.lerp(o.world, t),
            world_w: self.world_w + (o.world_w - self.world_w) * t,
            shrug: self.shrug + (o.shrug - self.shrug) * t,
        }
    }
}

/// One frame of the pose description.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    /// Desired pelvis position (world); its height is lowered if a leg could not reach.
    pub root: V3,
    /// Body heading (yaw); 0 faces +Z.
    pub yaw: f64,
    /// Pelvis (pitch, roll, yaw) relative to the heading.
    pub pelvis: V3,
    /// Whole-spine (pitch, roll, yaw), spread over spine1..spine3.
    pub spine: V3,
    /// Neck/head (pitch, roll, yaw).
    pub head: V3,
    /// Arms (left, right).
    pub arms: [Arm; 2],
    /// Feet (left, right), world space.
    pub feet: [Foot; 2],
    /// Knees turned outward by this angle (radians).
    pub knee_out: f64,
}

/// A flat foot in a standing stance around `center` (xz) at heading `yaw`, half-width `w`.
pub fn stance_foot(side: usize, center: V3, yaw: f64, w: f64) -> Foot {
    let s = sgn(side);
    let p = center.flat() + super::math::left_dir(yaw) * (s * w) - heading_dir(yaw) * 0.03;
    Foot {
        ankle: v3(p.x, ankle_y(side), p.z),
        yaw: yaw + s * deg(6.0),
        pitch: 0.0,
    }
}

impl Frame {
    /// Relaxed standing at `center` (xz) facing `yaw`.
    pub fn standing(center: V3, yaw: f64) -> Frame {
        Frame {
            root: v3(center.x, STAND_Y, center.z),
            yaw,
            pelvis: v3(deg(2.0), 0.0, 0.0),
            spine: v3(deg(1.0), 0.0, 0.0),
            head: v3(deg(3.0), 0.0, 0.0),
            arms: [Arm::rest(LEFT), Arm::rest(RIGHT)],
            feet: [
                stance_foot(LEFT, center, yaw, 0.1),
                stance_foot(RIGHT, center, yaw, 0.1),
            ],
            knee_out: 0.0,
        }
    }

    /// Blend of two frames (angles blended linearly, so keep yaws unwrapped).
    pub fn lerp(&self, o: &Frame, t: f64) -> Frame {
        let lf = |a: &Foot, b: &Foot| Foot {
            ankle: a.ankle.lerp(b.ankle, t),
            yaw: a.yaw + (b.yaw - a.yaw) * t,
            pitch: a.pitch + (b.pitch - a.pitch) * t,
        };
        Frame {
            root: self.root.lerp(o.root, t),
            yaw: self.yaw + (o.yaw - self.yaw) * t,
            pelvis: self.pelvis.lerp(o.pelvis, t),
            spine: self.spine.lerp(o.spine, t),
            head: self.head.lerp(o.head, t),
            arms: [self.arms[0].lerp(&o.arms[0], t), self.arms[1].lerp(&o.arms[1], t)],
            feet: [lf(&self.feet[0], &o.feet[0]), lf(&self.feet[1], &o.feet[1])],
            knee_out: self.knee_out + (o.knee_out - self.knee_out) * t,
        }
    }

    /// Rigidly moves the frame: rotate by `dyaw` about the vertical through the origin, then
    /// translate by `shift` (xz).
    pub fn transformed(&self, dyaw: f64, shift: V3) -> Frame {
        let r = Q::ry(dyaw);
        let mv = |p: V3| {
            let q = r.rot(p);
            v3(q.x + shift.x, q.y, q.z + shift.z)
        };
        let mut f = *self;
        f.root = mv(self.root);
        f.yaw += dyaw;
        for s in 0..2 {
            f.feet[s].ankle = mv(self.feet[s].ankle);
            f.feet[s].yaw += dyaw;
            f.arms[s].world = mv(self.arms[s].world);
        }
        f
    }
}

/// Analytic two-bone IK: from the fixed joint `a`, place the middle joint and the end joint so
/// the end reaches `target` (or as close as the chain allows), bending toward `pole`.
/// Returns (middle, end); `|middle − a| = l1` and `|end − middle| = l2` exactly.
pub fn two_bone(a: V3, target: V3, pole: V3, l1: f64, l2: f64, max_reach: f64) -> (V3, V3) {
    let d = target - a;
    let dist = d.len();
    let dir = if dist < 1e-9 {
        v3(0.0, -1.0, 0.0)
    } else {
        d * (1.0 / dist)
    };
    let lo = (l1 - l2).abs() + 1e-4;
    let hi = (l1 + l2) * max_reach;
    let dc = dist.clamp(lo, hi);
    let cos_a = ((l1 * l1 + dc * dc - l2 * l2) / (2.0 * l1 * dc)).clamp(-1.0, 1.0);
    let sin_a = (1.0 - cos_a * cos_a).max(0.0).sqrt();
    let mut b = pole - dir * pole.dot(dir);
    if b.len() < 1e-9 {
        b = v3(0.0, 0.0, 1.0) - dir * dir.z;
        if b.len() < 1e-9 {
            b = v3(1.0, 0.0, 0.0);
        }
    }
    let b = b.norm();
    let mid = a + (dir * cos_a + b * sin_a) * l1;
    let end_raw = a + dir * dc;
    let end = mid + (end_raw - mid).norm() * l2;
    (mid, end)
}

/// Resolves a frame to the 22 joint positions (metres, world).
pub fn resolve(f: &Frame) -> [V3; 22] {
    let mut p = [V3::ZERO; 22];
    let g0 = Q::ry(f.yaw) * Q::pry(f.pelvis);
    // Pelvis height: the smooth minimum of the wish and what each leg can reach.
    let mut root_y = f.root.y;
    for s in 0..2 {
        let hip_off = g0.rot(rest_offset(HIP[s]));
        let hip = f.root + hip_off;
        let a = f.feet[s].ankle;
        let reach = (bone(KNEE[s]) + bone(ANKLE[s])) * MAX_REACH;
        let dh = (a - hip).flat().len();
        let top = if dh < reach {
            a.y + (reach * reach - dh * dh).sqrt()
        } else {
            a.y
        };
        // A foot well off the ground (swinging, kicking, in flight) does not hold the pelvis
        // down: its leg simply extends as far as it can. The constraint fades in smoothly as
        // the foot comes down.
        let lifted = smooth((a.y - ankle_y(s) - 0.06) / 0.14);
        root_y = smin(root_y, top - hip_off.y + lifted, 0.02);
    }
    let root = v3(f.root.x, root_y, f.root.z);
    p[0] = root;
    p[1] = root + g0.rot(rest_offset(1));
    p[2] = root + g0.rot(rest_offset(2));
    // Spine: spread the bend over the three spine joints.
    let w = [0.3, 0.35, 0.35];
    let l3 = Q::pry(f.spine * w[0]);
    let l6 = Q::pry(f.spine * w[1]);
    let l9 = Q::pry(f.spine * w[2]);
    p[3] = root + g0.rot(rest_offset(3));
    let g3 = g0 * l3;
    p[6] = p[3] + g3.rot(rest_offset(6));
    let g6 = g3 * l6;
    p[9] = p[6] + g6.rot(rest_offset(9));
    let g9 = g6 * l9;
    p[12] = p[9] + g9.rot(rest_offset(12));
    let g12 = g9 * Q::pry(f.head);
    p[15] = p[12] + g12.rot(rest_offset(15));
    for s in 0..2 {
        // Arm.
        let sh = f.arms[s].shrug.clamp(-0.3, 0.5) * sgn(s);
        p[COLLAR[s]] = p[9] + g9.rot(rest_offset(COLLAR[s]));
        let gc = g9 * Q::rz(sh);
        p[SHOULDER[s]] = p[COLLAR[s]] + gc.rot(rest_offset(SHOULDER[s]));
        let arm = &f.arms[s];
        let local = p[9] + g9.rot(arm.target);
        let wt = local.lerp(arm.world, arm.world_w.clamp(0.0, 1.0));
        let (e, wr) = two_bone(
            p[SHOULDER[s]],
            wt,
            g9.rot(arm.pole),
            bone(ELBOW[s]),
            bone(WRIST[s]),
            0.999,
        );
        p[ELBOW[s]] = e;
        p[WRIST[s]] = wr;
        // Leg.
        let foot = &f.feet[s];
        let fwd = heading_dir(foot.yaw);
        let out = super::math::left_dir(foot.yaw) * sgn(s);
        // The upward part only matters when the shin is far from vertical (sitting, kicks),
        // where it keeps the knee pointing up instead of flipping.
        let pole = fwd * f.knee_out.cos() + out * f.knee_out.sin() + V3::UP * 0.6;
        let (k, a) = two_bone(
            p[HIP[s]],
            foot.ankle,
            pole,
            bone(KNEE[s]),
            bone(ANKLE[s]),
            MAX_REACH + 0.002,
        );
        p[KNEE[s]] = k;
        p[ANKLE[s]] = a;
        p[TOE[s]] = a + foot.toe_dir() * bone(TOE[s]);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::motion::skeleton::HML_PARENTS;

    #[test]
    fn standing_pose_is_sane() {
        let f = Frame::standing(V3::ZERO, 0.0);
        let p = resolve(&f);
        for j in 1..22 {
            let l = (p[j] - p[HML_PARENTS[j] as usize]).len();
            assert!((l - bone(j)).abs() < 1e-9, "joint {j}: {l} vs {}", bone(j));
        }
        // Left is +X, head above pelvis, toes in front of the ankles and on the floor.
        assert!(p[1].x > 0.0 && p[2].x < 0.0 && p[16].x > 0.0);
        assert!(p[15].y > 1.5 && p[15].y < 1.75, "head {}", p[15].y);
        assert!(p[10].z > p[7].z && p[10].y.abs() < 1e-9);
        // Legs reach their targets.
        assert!((p[7] - f.feet[0].ankle).len() < 1e-9);
        assert!(p[20].y > 0.6 && p[20].y < 0.95, "wrist {}", p[20].y);
    }
}
