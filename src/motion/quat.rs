//! Quaternion and rotation helpers (spec §1.5), generic over `f32` and `f64`.
//!
//! Conventions, as in the reference `common/quaternion.py`:
//! * quaternions are `[w, x, y, z]` (scalar first) and act on column vectors;
//! * [`qmul`] is the Hamilton product `q ⊗ r`, [`qinv`] the conjugate (unit quaternions);
//! * [`qrot`] is an active rotation `v' = v + 2·(w·(u×v) + u×(u×v))`.
//!
//! The feature pipeline runs these in `f32` because the reference runs them through torch
//! float32; the BVH fitting uses `f64` like the reference's numpy code. The arithmetic is
//! written in the reference's operation order so that `f32` results agree to the last bits.

use std::ops::{Add, Div, Mul, Neg, Sub};

/// A quaternion `[w, x, y, z]`.
pub type Quat<T = f32> = [T; 4];
/// A 3-vector `[x, y, z]`.
pub type Vec3<T = f32> = [T; 3];
/// A 3×3 matrix, row-major: `m[row][col]`.
pub type Mat3<T = f32> = [[T; 3]; 3];

/// The float operations the rotation code needs; implemented for `f32` and `f64`.
pub trait Real:
    Copy
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + std::fmt::Debug
{
    const ZERO: Self;
    const ONE: Self;
    const TWO: Self;
    fn sqrt(self) -> Self;
    fn sin(self) -> Self;
    fn cos(self) -> Self;
    fn asin(self) -> Self;
    fn acos(self) -> Self;
    fn atan2(self, other: Self) -> Self;
    fn abs(self) -> Self;
    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
}

macro_rules! impl_real {
    ($t:ty) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const TWO: Self = 2.0;
            #[inline]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline]
            fn sin(self) -> Self {
                <$t>::sin(self)
            }
            #[inline]
            fn cos(self) -> Self {
                <$t>::cos(self)
            }
            #[inline]
            fn asin(self) -> Self {
                <$t>::asin(self)
            }
            #[inline]
            fn acos(self) -> Self {
                <$t>::acos(self)
            }
            #[inline]
            fn atan2(self, other: Self) -> Self {
                <$t>::atan2(self, other)
            }
            #[inline]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline]
            fn to_f64(self) -> f64 {
                self as f64
            }
        }
    };
}
impl_real!(f32);
impl_real!(f64);

/// The identity rotation.
#[inline]
pub fn qidentity<T: Real>() -> Quat<T> {
    [T::ONE, T::ZERO, T::ZERO, T::ZERO]
}

/// Cross product `a × b` (component order of `torch.cross`).
#[inline]
pub fn cross<T: Real>(a: Vec3<T>, b: Vec3<T>) -> Vec3<T> {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

/// Dot product.
#[inline]
pub fn dot<T: Real>(a: Vec3<T>, b: Vec3<T>) -> T {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// Euclidean length.
#[inline]
pub fn norm<T: Real>(a: Vec3<T>) -> T {
    dot(a, a).sqrt()
}

/// `a / |a|` (no guard: a zero vector gives NaN, as in the reference).
#[inline]
pub fn normalize<T: Real>(a: Vec3<T>) -> Vec3<T> {
    let n = norm(a);
    [a[0] / n, a[1] / n, a[2] / n]
}

/// `a - b`.
#[inline]
pub fn sub3<T: Real>(a: Vec3<T>, b: Vec3<T>) -> Vec3<T> {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

/// `a + b`.
#[inline]
pub fn add3<T: Real>(a: Vec3<T>, b: Vec3<T>) -> Vec3<T> {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

/// `a · s`.
#[inline]
pub fn scale3<T: Real>(a: Vec3<T>, s: T) -> Vec3<T> {
    [a[0] * s, a[1] * s, a[2] * s]
}

/// Hamilton product `q ⊗ r`.
///
/// The terms are summed in the order of the reference (`terms = r ⊗ᵀ q`), so `f32` results are
/// bit-compatible with torch.
#[inline]
pub fn qmul<T: Real>(q: Quat<T>, r: Quat<T>) -> Quat<T> {
    [
        r[0] * q[0] - r[1] * q[1] - r[2] * q[2] - r[3] * q[3],
        r[0] * q[1] + r[1] * q[0] - r[2] * q[3] + r[3] * q[2],
        r[0] * q[2] + r[1] * q[3] + r[2] * q[0] - r[3] * q[1],
        r[0] * q[3] - r[1] * q[2] + r[2] * q[1] + r[3] * q[0],
    ]
}

/// Conjugate (the inverse of a unit quaternion).
#[inline]
pub fn qinv<T: Real>(q: Quat<T>) -> Quat<T> {
    [q[0], -q[1], -q[2], -q[3]]
}

/// `q / |q|`.
#[inline]
pub fn qnormalize<T: Real>(q: Quat<T>) -> Quat<T> {
    let n = (q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]).sqrt();
    [q[0] / n, q[1] / n, q[2] / n, q[3] / n]
}

/// Rotate `v` by `q` (active rotation): `v + 2·(w·(u×v) + u×(u×v))`.
#[inline]
pub fn qrot<T: Real>(q: Quat<T>, v: Vec3<T>) -> Vec3<T> {
    let u = [q[1], q[2], q[3]];
    let uv = cross(u, v);
    let uuv = cross(u, uv);
    [
        v[0] + T::TWO * (q[0] * uv[0] + uuv[0]),
        v[1] + T::TWO * (q[0] * uv[1] + uuv[1]),
        v[2] + T::TWO * (q[0] * uv[2] + uuv[2]),
    ]
}

/// The rotation taking direction `v0` to direction `v1`:
/// `normalize([sqrt(|v0|²|v1|²) + v0·v1, v0 × v1])`. NaN for antiparallel inputs.
#[inline]
pub fn qbetween<T: Real>(v0: Vec3<T>, v1: Vec3<T>) -> Quat<T> {
    let c = cross(v0, v1);
    let w = (dot(v0, v0) * dot(v1, v1)).sqrt() + dot(v0, v1);
    qnormalize([w, c[0], c[1], c[2]])
}

/// Rotation matrix of `q` (the standard formula with `two_s = 2/|q|²`), row-major.
pub fn quat_to_matrix<T: Real>(q: Quat<T>) -> Mat3<T> {
    let [r, i, j, k] = q;
    let two_s = T::TWO / (r * r + i * i + j * j + k * k);
    [
        [
            T::ONE - two_s * (j * j + k * k),
            two_s * (i * j - k * r),
            two_s * (i * k + j * r),
        ],
        [
            two_s * (i * j + k * r),
            T::ONE - two_s * (i * i + k * k),
            two_s * (j * k - i * r),
        ],
        [
            two_s * (i * k - j * r),
            two_s * (j * k + i * r),
            T::ONE - two_s * (i * i + j * j),
        ],
    ]
}

/// Unit quaternion of a rotation matrix (Shepperd's method; `w ≥ 0` where it is the largest
/// component).
pub fn matrix_to_quat<T: Real>(m: Mat3<T>) -> Quat<T> {
    let quarter = T::from_f64(0.25);
    let trace = m[0][0] + m[1][1] + m[2][2];
    let q = if trace > T::ZERO {
        let s = (trace + T::ONE).sqrt() * T::TWO;
        [
            quarter * s,
            (m[2][1] - m[1][2]) / s,
            (m[0][2] - m[2][0]) / s,
            (m[1][0] - m[0][1]) / s,
        ]
    } else if m[0][0] > m[1][1] && m[0][0] > m[2][2] {
        let s = (T::ONE + m[0][0] - m[1][1] - m[2][2]).sqrt() * T::TWO;
        [
            (m[2][1] - m[1][2]) / s,
            quarter * s,
            (m[0][1] + m[1][0]) / s,
            (m[0][2] + m[2][0]) / s,
        ]
    } else if m[1][1] > m[2][2] {
        let s = (T::ONE + m[1][1] - m[0][0] - m[2][2]).sqrt() * T::TWO;
        [
            (m[0][2] - m[2][0]) / s,
            (m[0][1] + m[1][0]) / s,
            quarter * s,
            (m[1][2] + m[2][1]) / s,
        ]
    } else {
        let s = (T::ONE + m[2][2] - m[0][0] - m[1][1]).sqrt() * T::TWO;
        [
            (m[1][0] - m[0][1]) / s,
            (m[0][2] + m[2][0]) / s,
            (m[1][2] + m[2][1]) / s,
            quarter * s,
        ]
    };
    qnormalize(q)
}

/// Continuous 6-D representation of a matrix: column 0 then column 1,
/// `[M00, M10, M20, M01, M11, M21]`.
#[inline]
pub fn matrix_to_cont6d<T: Real>(m: Mat3<T>) -> [T; 6] {
    [m[0][0], m[1][0], m[2][0], m[0][1], m[1][1], m[2][1]]
}

/// Continuous 6-D representation of a quaternion (via [`quat_to_matrix`]).
#[inline]
pub fn quat_to_cont6d<T: Real>(q: Quat<T>) -> [T; 6] {
    matrix_to_cont6d(quat_to_matrix(q))
}

/// 6-D back to a matrix: `x = normalize(a[0:3])`, `z = normalize(x × a[3:6])`, `y = z × x`,
/// `M = [x | y | z]` as columns.
pub fn cont6d_to_matrix<T: Real>(c: [T; 6]) -> Mat3<T> {
    let x = normalize([c[0], c[1], c[2]]);
    let z = normalize(cross(x, [c[3], c[4], c[5]]));
    let y = cross(z, x);
    [[x[0], y[0], z[0]], [x[1], y[1], z[1]], [x[2], y[2], z[2]]]
}

/// Matrix-vector product `m · v`.
#[inline]
pub fn mat_vec<T: Real>(m: Mat3<T>, v: Vec3<T>) -> Vec3<T> {
    [
        m[0][0] * v[0] + m[0][1] * v[1] + m[0][2] * v[2],
        m[1][0] * v[0] + m[1][1] * v[1] + m[1][2] * v[2],
        m[2][0] * v[0] + m[2][1] * v[1] + m[2][2] * v[2],
    ]
}

/// Rotation of `angle` radians about `axis`. The axis is normalised as `axis / (|axis| + 1e-10)`
/// (the reference `Quaternions.from_angle_axis`), so a zero axis gives a pure `cos` quaternion.
#[inline]
pub fn from_angle_axis<T: Real>(angle: T, axis: Vec3<T>) -> Quat<T> {
    let n = norm(axis) + T::from_f64(1e-10);
    let half = angle / T::TWO;
    let s = half.sin();
    [half.cos(), axis[0] / n * s, axis[1] / n * s, axis[2] / n * s]
}

/// Euler angles `[x, y, z]` (radians) of `R = Rz·Ry·Rx`, from the normalised quaternion:
/// `x = atan2(2(wx+yz), 1−2(x²+y²))`, `y = asin(clip(2(wy−zx), −1, 1))`,
/// `z = atan2(2(wz+xy), 1−2(y²+z²))` (reference `Quaternions.euler('xyz')`).
/// A BVH with channels `Zrotation Yrotation Xrotation` stores these as `z y x`.
pub fn euler_zyx_from_quat<T: Real>(q: Quat<T>) -> Vec3<T> {
    let [w, x, y, z] = qnormalize(q);
    let mut s = T::TWO * (w * y - z * x);
    if s > T::ONE {
        s = T::ONE;
    }
    if s < -T::ONE {
        s = -T::ONE;
    }
    [
        (T::TWO * (w * x + y * z)).atan2(T::ONE - T::TWO * (x * x + y * y)),
        s.asin(),
        (T::TWO * (w * z + x * y)).atan2(T::ONE - T::TWO * (y * y + z * z)),
    ]
}

/// Rotation about one coordinate axis (`0` = X, `1` = Y, `2` = Z) by `angle` radians.
#[inline]
pub fn axis_rotation<T: Real>(axis: usize, angle: T) -> Quat<T> {
    let half = angle / T::TWO;
    let (s, c) = (half.sin(), half.cos());
    match axis {
        0 => [c, s, T::ZERO, T::ZERO],
        1 => [c, T::ZERO, s, T::ZERO],
        _ => [c, T::ZERO, T::ZERO, s],
    }
}

/// Quaternion of intrinsic Euler angles applied in channel order: for channels
/// `(a0, a1, a2)` with angles `(e0, e1, e2)` the result is `R(a0,e0) ⊗ R(a1,e1) ⊗ R(a2,e2)`
/// (the BVH convention; for `Z Y X` this is `Rz·Ry·Rx`).
pub fn quat_from_euler<T: Real>(axes: [usize; 3], angles: Vec3<T>) -> Quat<T> {
    qmul(
        axis_rotation(axes[0], angles[0]),
        qmul(
            axis_rotation(axes[1], angles[1]),
            axis_rotation(axes[2], angles[2]),
        ),
    )
}

/// Quaternion logarithm as in the reference `Quaternions.log`: normalise, flip to `w ≥ 0`,
/// then `imag · atan2(|imag|, w) / (|imag| + 1e-10)` (half-angle times axis).
pub fn qlog<T: Real>(q: Quat<T>) -> Vec3<T> {
    let mut n = qnormalize(q);
    if n[0] < T::ZERO {
        n = [-n[0], -n[1], -n[2], -n[3]];
    }
    let im = [n[1], n[2], n[3]];
    let len = norm(im);
    let f = len.atan2(n[0]) / (len + T::from_f64(1e-10));
    scale3(im, f)
}

/// Quaternion exponential as in the reference `Quaternions.exp`: `|w|` (0 replaced by 0.001),
/// `(cos|w|, w·sin|w|/|w|)`, normalised.
pub fn qexp<T: Real>(w: Vec3<T>) -> Quat<T> {
    let mut t = norm(w);
    if t == T::ZERO {
        t = T::from_f64(0.001);
    }
    let ls = t.sin() / t;
    qnormalize([t.cos(), w[0] * ls, w[1] * ls, w[2] * ls])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
    }

    #[test]
    fn qrot_matches_matrix() {
        let q = qnormalize([0.9f64, 0.2, -0.3, 0.25]);
        let v = [0.3, -1.2, 2.0];
        let m = quat_to_matrix(q);
        assert!(close(&qrot(q, v), &mat_vec(m, v), 1e-12));
        // Inverse undoes the rotation.
        assert!(close(&qrot(qinv(q), qrot(q, v)), &v, 1e-12));
    }

    #[test]
    fn qbetween_takes_v0_to_v1() {
        let v0 = [1.0f64, 0.0, 0.0];
        let v1 = normalize([0.3, 0.5, -0.8]);
        let q = qbetween(v0, v1);
        assert!(close(&qrot(q, v0), &v1, 1e-12));
    }

    #[test]
    fn qmul_composes_rotations() {
        let a = qnormalize([0.7f64, 0.1, 0.5, -0.2]);
        let b = qnormalize([0.2f64, -0.6, 0.3, 0.4]);
        let v = [0.5, 0.25, -1.0];
        assert!(close(&qrot(qmul(a, b), v), &qrot(a, qrot(b, v)), 1e-12));
    }

    #[test]
    fn cont6d_round_trip() {
        let q = qnormalize([0.4f64, -0.3, 0.8, 0.1]);
        let m = quat_to_matrix(q);
        let back = cont6d_to_matrix(quat_to_cont6d(q));
        for r in 0..3 {
            assert!(close(&m[r], &back[r], 1e-12));
        }
        let q2 = matrix_to_quat(m);
        let s = if q2[0] * q[0] < 0.0 { -1.0 } else { 1.0 };
        assert!(close(&q2.map(|x| x * s), &q, 1e-12));
    }

    #[test]
    fn euler_zyx_round_trip() {
        let e = [0.3f64, -0.7, 1.9]; // x, y, z
        // R = Rz·Ry·Rx: channel order Z, Y, X.
        let q = quat_from_euler([2, 1, 0], [e[2], e[1], e[0]]);
        assert!(close(&euler_zyx_from_quat(q), &e, 1e-12));
    }

    #[test]
    fn log_exp_round_trip() {
        let q = qnormalize([0.8f64, 0.1, -0.5, 0.3]);
        let back = qexp(qlog(q));
        assert!(close(&back, &q, 1e-9));
        let r = from_angle_axis(1.2f64, [0.0, 2.0, 0.0]);
        assert!(close(&r, &axis_rotation(1, 1.2), 1e-9));
    }
}
