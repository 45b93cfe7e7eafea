//! Small f64 vector / quaternion / easing helpers for the motion generators.
//!
//! Conventions match the rest of the crate: Y up, the body faces +Z, its left is +X.
//! A positive yaw (rotation about +Y) turns +Z toward +X, i.e. turns the body to its left
//! (counterclockwise seen from above).

use std::f64::consts::PI;
use std::ops::{Add, AddAssign, Mul, Neg, Sub};

/// A 3-vector of `f64`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct V3 {
    pub x: f64,
    pub y: f64,
    pub z: f64,
}

/// Shorthand constructor.
pub const fn v3(x: f64, y: f64, z: f64) -> V3 {
    V3 { x, y, z }
}

impl V3 {
    /// The zero vector.
    pub const ZERO: V3 = v3(0.0, 0.0, 0.0);
    /// +Y.
    pub const UP: V3 = v3(0.0, 1.0, 0.0);

    /// Dot product.
    pub fn dot(self, o: V3) -> f64 {
        self.x * o.x + self.y * o.y + self.z * o.z
    }
    /// Cross product.
    pub fn cross(self, o: V3) -> V3 {
        v3(
            self.y * o.z - self.z * o.y,
            self.z * o.x - self.x * o.z,
            self.x * o.y - self.y * o.x,
        )
    }
    /// Euclidean length.
    pub fn len(self) -> f64 {
        self.dot(self).sqrt()
    }
    /// Unit vector (the input itself when it is (near) zero).
    pub fn norm(self) -> V3 {
        let l = self.len();
        if l < 1e-12 { self } else { self * (1.0 / l) }
    }
    /// Horizontal (xz) part.
    pub fn flat(self) -> V3 {
        v3(self.x, 0.0, self.z)
    }
    /// Linear interpolation.
    pub fn lerp(self, o: V3, t: f64) -> V3 {
        self + (o - self) * t
    }
    /// As `[f32; 3]`.
    pub fn to_f32(self) -> [f32; 3] {
        [self.x as f32, self.y as f32, self.z as f32]
    }
}

impl Add for V3 {
    type Output = V3;
    fn add(self, o: V3) -> V3 {
        v3(self.x + o.x, self.y + o.y, self.z + o.z)
    }
}
impl AddAssign for V3 {
    fn add_assign(&mut self, o: V3) {
        *self = *self + o;
    }
}
impl Sub for V3 {
    type Output = V3;
    fn sub(self, o: V3) -> V3 {
        v3(self.x - o.x, self.y - o.y, self.z - o.z)
    }
}
impl Mul<f64> for V3 {
    type Output = V3;
    fn mul(self, s: f64) -> V3 {
        v3(self.x * s, self.y * s, self.z * s)
    }
}
impl Neg for V3 {
    type Output = V3;
    fn neg(self) -> V3 {
        v3(-self.x, -self.y, -self.z)
    }
}

/// A unit quaternion `(w, x, y, z)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Q {
    pub w: f64,
    pub x: f64,
    pub y: f64,
    pub z: f64,
}

impl Q {
    /// The identity rotation.
    pub const ID: Q = Q {
        w: 1.0,
        x: 0.0,
        y: 0.0,
        z: 0.0,
    };

    /// Rotation by `angle` (radians) about the unit `axis`.
    pub fn axis_angle(axis: V3, angle: f64) -> Q {
        let (s, c) = (angle * 0.5).sin_cos();
        Q {
            w: c,
            x: axis.x * s,
            y: axis.y * s,
            z: axis.z * s,
        }
    }
    /// Rotation about +X.
    pub fn rx(a: f64) -> Q {
        Q::axis_angle(v3(1.0, 0.0, 0.0), a)
    }
    /// Rotation about +Y (yaw).
    pub fn ry(a: f64) -> Q {
        Q::axis_angle(v3(0.0, 1.0, 0.0), a)
    }
    /// Rotation about +Z.
    pub fn rz(a: f64) -> Q {
        Q::axis_angle(v3(0.0, 0.0, 1.0), a)
    }
    /// Body-frame rotation from (pitch, roll, yaw) angles: yaw about Y, then a forward bend
    /// (`pitch > 0` leans +Y toward +Z), then a side bend (`roll > 0` leans +Y toward +X, the
    /// body's left).
    pub fn pry(a: V3) -> Q {
        Q::ry(a.z) * Q::rx(a.x) * Q::rz(-a.y)
    }
    /// Hamilton product.
    pub fn mul_q(self, r: Q) -> Q {
        Q {
            w: self.w * r.w - self.x * r.x - self.y * r.y - self.z * r.z,
            x: self.w * r.x + self.x * r.w + self.y * r.z - self.z * r.y,
            y: self.w * r.y - self.x * r.z + self.y * r.w + self.z * r.x,
            z: self.w * r.z + self.x * r.y - self.y * r.x + self.z * r.w,
        }
    }
    /// Rotates a vector.
    pub fn rot(self, v: V3) -> V3 {
        let u = v3(self.x, self.y, self.z);
        let t = u.cross(v) * 2.0;
        v + t * self.w + u.cross(t)
    }
    /// Inverse (conjugate) rotation.
    pub fn inv(self) -> Q {
        Q {
            w: self.w,
            x: -self.x,
            y: -self.y,
            z: -self.z,
        }
    }
}

impl Mul for Q {
    type Output = Q;
    fn mul(self, r: Q) -> Q {
        self.mul_q(r)
    }
}

/// Forward direction (xz) of a yaw angle.
pub fn heading_dir(yaw: f64) -> V3 {
    v3(yaw.sin(), 0.0, yaw.cos())
}

/// The body's left direction (xz) at a yaw angle.
pub fn left_dir(yaw: f64) -> V3 {
    v3(yaw.cos(), 0.0, -yaw.sin())
}

/// Clamps to `[0, 1]`.
pub fn sat(t: f64) -> f64 {
    t.clamp(0.0, 1.0)
}

/// Cubic smoothstep on `[0, 1]` (clamped).
pub fn smooth(t: f64) -> f64 {
    let t = sat(t);
    t * t * (3.0 - 2.0 * t)
}

/// Quintic minimum-jerk ease on `[0, 1]` (clamped): zero velocity and acceleration at both ends.
pub fn minjerk(t: f64) -> f64 {
    let t = sat(t);
    t * t * t * (10.0 - 15.0 * t + 6.0 * t * t)
}

/// A smooth 0→1→0 window: rises over `[a, a+ramp]`, holds, falls over `[b-ramp, b]`.
pub fn window(t: f64, a: f64, b: f64, ramp: f64) -> f64 {
    let ramp = ramp.max(1e-6);
    minjerk((t - a) / ramp).min(minjerk((b - t) / ramp))
}

/// Progress of `t` through `[a, b]`, clamped to `[0, 1]`.
pub fn progress(t: f64, a: f64, b: f64) -> f64 {
    if b <= a {
        if t >= b { 1.0 } else { 0.0 }
    } else {
        sat((t - a) / (b - a))
    }
}

/// `sin²(π s)` bump on `[0, 1]` (0 at the ends, 1 in the middle, zero slope at the ends).
pub fn bump(s: f64) -> f64 {
    if !(0.0..=1.0).contains(&s) {
        return 0.0;
    }
    let v = (PI * s).sin();
    v * v
}

/// Smooth minimum: equal to `min(a, b)` when they differ by more than `k`, never above it.
pub fn smin(a: f64, b: f64, k: f64) -> f64 {
    let h = (k - (a - b).abs()).max(0.0) / k;
    a.min(b) - h * h * k * 0.25
}

/// Degrees to radians.
pub fn deg(d: f64) -> f64 {
    d * PI / 180.0
}

/// Wraps an angle to `(-π, π]`.
pub fn wrap(a: f64) -> f64 {
    let mut a = a % (2.0 * PI);
    if a > PI {
        a -= 2.0 * PI;
    } else if a <= -PI {
        a += 2.0 * PI;
    }
    a
}

/// Linear interpolation of scalars.
pub fn lerp(a: f64, b: f64, t: f64) -> f64 {
    a + (b - a) * t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conventions() {
        // Positive yaw turns +Z toward +X (the body's left).
        let f = Q::ry(deg(90.0)).rot(v3(0.0, 0.0, 1.0));
        assert!((f - v3(1.0, 0.0, 0.0)).len() < 1e-12);
        assert!((heading_dir(deg(90.0)) - f).len() < 1e-12);
        // Positive pitch leans +Y forward, positive roll leans +Y to the left (+X).
        let p = Q::pry(v3(deg(90.0), 0.0, 0.0)).rot(V3::UP);
        assert!((p - v3(0.0, 0.0, 1.0)).len() < 1e-12);
        let r = Q::pry(v3(0.0, deg(90.0), 0.0)).rot(V3::UP);
        assert!((r - v3(1.0, 0.0, 0.0)).len() < 1e-12);
        assert!((left_dir(0.3) - Q::ry(0.3).rot(v3(1.0, 0.0, 0.0))).len() < 1e-12);
        assert!(smin(1.0, 2.0, 0.1) == 1.0 && smin(1.0, 1.0, 0.1) < 1.0);
        assert!((wrap(3.0 * PI) - PI).abs() < 1e-12);
    }
}
