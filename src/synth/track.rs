//! Building blocks shared by the generators: foot tracks (planted phases with heel-strike and
//! toe-off roll, arcing swings between plants), paths (lines and arcs), and monotone
//! piecewise-cubic interpolation of keyframed scalars.

use std::f64::consts::PI;

use super::body::{Foot, ankle_y, bone, sgn, stance_foot};
use super::math::{V3, heading_dir, lerp, minjerk, smooth, v3};

/// One planted phase of a foot. Times are seconds; `ankle` is the flat-foot ankle position.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plant {
    /// Touch-down time (`-inf`-like for a foot planted from the start).
    pub land: f64,
    /// Lift-off time (`+inf`-like for a foot that stays).
    pub lift: f64,
    /// Ankle position of the flat foot.
    pub ankle: V3,
    /// Foot yaw.
    pub yaw: f64,
    /// Pitch at touch-down: `> 0` heel strike (toe up, pivot at the ankle), `< 0` landing on
    /// the ball of the foot (pivot at the toe).
    pub heel: f64,
    /// Pitch reached at lift-off (`≤ 0`, heel raised around the toe).
    pub toeoff: f64,
    /// Constant stance pitch (`< 0` stands on the toes).
    pub tip: f64,
    /// Apex height of the swing that arrives at this plant.
    pub swing_h: f64,
    /// Swing shape: `true` for a ballistic parabola (jumps), `false` for a stepping arc.
    pub ballistic: bool,
}

impl Plant {
    /// A flat plant with walking defaults.
    pub fn new(land: f64, lift: f64, ankle: V3, yaw: f64) -> Plant {
        Plant {
            land,
            lift,
            ankle,
            yaw,
            heel: 0.0,
            toeoff: 0.0,
            tip: 0.0,
            swing_h: 0.08,
            ballistic: false,
        }
    }
}

/// Far-past / far-future sentinel times.
pub const NEVER: f64 = 1.0e9;

/// The plants of one foot, in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct FootTrack {
    pub side: usize,
    pub plants: Vec<Plant>,
}

impl FootTrack {
    /// A foot planted in a standing stance for the whole clip.
    pub fn standing(side: usize, center: V3, yaw: f64, w: f64) -> FootTrack {
        let f = stance_foot(side, center, yaw, w);
        FootTrack {
            side,
            plants: vec![Plant::new(-NEVER, NEVER, f.ankle, f.yaw)],
        }
    }

    /// Adds a step: the foot lifts at `lift` (ending the last plant there) and lands at
    /// `land` on `plant` (whose `land` field is overwritten).
    pub fn step(&mut self, lift: f64, land: f64, mut plant: Plant) {
        if let Some(last) = self.plants.last_mut() {
            last.lift = lift;
        }
        plant.land = land;
        if plant.lift <= land {
            plant.lift = NEVER;
        }
        self.plants.push(plant);
    }

    /// The last plant (the foot's current resting place).
    pub fn last(&self) -> Plant {
        self.plants[self.plants.len() - 1]
    }

    fn stance(&self, p: &Plant, t: f64) -> Foot {
        let dur = p.lift - p.land;
        let t_hs = (0.35 * dur).min(0.15);
        let t_to = (0.45 * dur).min(0.22);
        let mut pitch = p.tip;
        if p.land > -NEVER * 0.5 && t < p.land + t_hs {
            pitch += p.heel * (1.0 - smooth((t - p.land) / t_hs));
        }
        if p.lift < NEVER * 0.5 && t > p.lift - t_to {
            pitch += p.toeoff * smooth((t - (p.lift - t_to)) / t_to);
        }
        if pitch >= 0.0 {
            Foot {
                ankle: p.ankle,
                yaw: p.yaw,
                pitch,
            }
        } else {
            let flat = Foot {
                ankle: p.ankle,
                yaw: p.yaw,
                pitch: 0.0,
            };
            Foot::from_toe(self.side, flat.toe(self.side), p.yaw, pitch)
        }
    }

    /// The foot at time `t`.
    pub fn eval(&self, t: f64) -> Foot {
        let n = self.plants.len();
        for i in 0..n {
            let p = &self.plants[i];
            if t <= p.lift {
                if t >= p.land || i == 0 {
                    return self.stance(p, t.max(p.land));
                }
                // Swing from plant i-1 to plant i.
                let a = &self.plants[i - 1];
                let f0 = self.stance(a, a.lift);
                let f1 = self.stance(p, p.land);
                let s = ((t - a.lift) / (p.land - a.lift)).clamp(0.0, 1.0);
                return swing(&f0, &f1, s, p.swing_h, p.ballistic);
            }
        }
        let p = &self.plants[n - 1];
        self.stance(p, p.lift)
    }

    /// Whether the foot is planted (not swinging) at `t`.
    pub fn planted(&self, t: f64) -> bool {
        self.plants.iter().any(|p| t >= p.land && t <= p.lift)
    }
}

fn swing(f0: &Foot, f1: &Foot, s: f64, h: f64, ballistic: bool) -> Foot {
    let hs = minjerk(s);
    let (vy, arc) = if ballistic {
        (s, 4.0 * s * (1.0 - s))
    } else {
        // Apex a little before the middle of the swing.
        (smooth(s), (PI * s.powf(0.85)).sin())
    };
    let p = v3(
        lerp(f0.ankle.x, f1.ankle.x, hs),
        lerp(f0.ankle.y, f1.ankle.y, vy) + h * arc,
        lerp(f0.ankle.z, f1.ankle.z, hs),
    );
    Foot {
        ankle: p,
        yaw: lerp(f0.yaw, f1.yaw, hs),
        pitch: lerp(f0.pitch, f1.pitch, smooth(s)) + if ballistic { -0.2 * arc } else { 0.0 },
    }
}

/// A flat-foot ankle position for `side` around a body `center` at heading `yaw`.
pub fn plant_pos(side: usize, center: V3, yaw: f64, w: f64, back: f64) -> V3 {
    let p = center.flat() + super::math::left_dir(yaw) * (sgn(side) * w) - heading_dir(yaw) * back;
    v3(p.x, ankle_y(side), p.z)
}

/// Toe height of a foot (for ground checks in tests).
pub fn toe_height(side: usize, f: &Foot) -> f64 {
    f.ankle.y + f.toe_dir().y * bone(if side == 0 { 10 } else { 11 })
}

/// A path segment: straight line or circular arc (`angle > 0` turns left / counterclockwise).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Seg {
    Line(f64),
    Arc { radius: f64, angle: f64 },
}

impl Seg {
    fn len(&self) -> f64 {
        match *self {
            Seg::Line(l) => l,
            Seg::Arc { radius, angle } => radius * angle.abs(),
        }
    }
}

/// A planar path from the origin, starting with tangent yaw `yaw0`.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    pub yaw0: f64,
    pub segs: Vec<Seg>,
}

impl Path {
    /// Total arc length.
    pub fn length(&self) -> f64 {
        self.segs.iter().map(Seg::len).sum()
    }

    /// Position and tangent yaw at arc length `s` (clamped to the path).
    pub fn eval(&self, s: f64) -> (V3, f64) {
        let mut pos = V3::ZERO;
        let mut yaw = self.yaw0;
        let mut rem = s.max(0.0);
        for seg in &self.segs {
            let l = seg.len();
            let u = rem.min(l);
            match *seg {
                Seg::Line(_) => pos += heading_dir(yaw) * u,
                Seg::Arc { radius, angle } => {
                    let sign = angle.signum();
                    let dth = sign * u / radius;
                    // Centre of the turn is to the left (sign > 0) or right of the heading.
                    let c = pos + super::math::left_dir(yaw) * (sign * radius);
                    let r0 = pos - c;
                    pos = c + super::math::Q::ry(dth).rot(r0);
                    yaw += dth;
                }
            }
            rem -= u;
            if rem <= 0.0 {
                break;
            }
        }
        (pos, yaw)
    }
}

/// Monotone piecewise-cubic (Fritsch–Carlson) interpolation through `(t, v)` knots with zero
/// slope at both ends; constant outside the knot range.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    t: Vec<f64>,
    v: Vec<f64>,
    m: Vec<f64>,
}

impl Curve {
    /// Builds the curve; knots must have strictly increasing times (equal times are nudged).
    pub fn new(knots: &[(f64, f64)]) -> Curve {
        let mut t: Vec<f64> = Vec::with_capacity(knots.len());
        let mut v = Vec::with_capacity(knots.len());
        for &(a, b) in knots {
            let a = match t.last() {
                Some(&p) if a <= p => p + 1e-6,
                _ => a,
            };
            t.push(a);
            v.push(b);
        }
        let n = t.len();
        let mut m = vec![0.0; n];
        if n >= 3 {
            let d: Vec<f64> = (0..n - 1)
                .map(|i| (v[i + 1] - v[i]) / (t[i + 1] - t[i]))
                .collect();
            for i in 1..n - 1 {
                if d[i - 1] * d[i] <= 0.0 {
                    m[i] = 0.0;
                } else {
                    // Weighted harmonic mean keeps the interpolant monotone.
                    let (h0, h1) = (t[i] - t[i - 1], t[i + 1] - t[i]);
                    let (w1, w2) = (2.0 * h1 + h0, h1 + 2.0 * h0);
                    m[i] = (w1 + w2) / (w1 / d[i - 1] + w2 / d[i]);
                }
            }
        }
        Curve { t, v, m }
    }

    /// Value at `x`.
    pub fn at(&self, x: f64) -> f64 {
        let n = self.t.len();
        if n == 0 {
            return 0.0;
        }
        if x <= self.t[0] {
            return self.v[0];
        }
        if x >= self.t[n - 1] {
            return self.v[n - 1];
        }
        let i = match self.t.partition_point(|&k| k <= x) {
            0 => 0,
            k => k - 1,
        };
        let h = self.t[i + 1] - self.t[i];
        let s = (x - self.t[i]) / h;
        let (s2, s3) = (s * s, s * s * s);
        let h00 = 2.0 * s3 - 3.0 * s2 + 1.0;
        let h10 = s3 - 2.0 * s2 + s;
        let h01 = -2.0 * s3 + 3.0 * s2;
        let h11 = s3 - s2;
        h00 * self.v[i] + h10 * h * self.m[i] + h01 * self.v[i + 1] + h11 * h * self.m[i + 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::math::deg;

    #[test]
    fn path_and_curve() {
        let p = Path {
            yaw0: 0.0,
            segs: vec![
                Seg::Line(1.0),
                Seg::Arc {
                    radius: 1.0,
                    angle: deg(90.0),
                },
            ],
        };
        let (q, y) = p.eval(1.0 + PI / 2.0);
        // A left turn from +Z ends heading +X, one radius to the left.
        assert!((q - v3(1.0, 0.0, 2.0)).len() < 1e-9, "{q:?}");
        assert!((y - PI / 2.0).abs() < 1e-9);
        let c = Curve::new(&[(0.0, 0.0), (1.0, 1.0), (2.0, 1.0), (3.0, 3.0)]);
        assert!((c.at(1.5) - 1.0).abs() < 1e-12);
        assert!(c.at(0.5) > 0.0 && c.at(0.5) < 1.0);
        let mut last = -1.0;
        for i in 0..300 {
            let v = c.at(i as f64 * 0.01);
            assert!(v >= last - 1e-12);
            last = v;
        }
    }

    #[test]
    fn foot_track_is_continuous() {
        let mut tr = FootTrack::standing(0, V3::ZERO, 0.0, 0.1);
        let mut p = Plant::new(0.0, NEVER, plant_pos(0, v3(0.0, 0.0, 0.5), 0.0, 0.1, 0.0), 0.0);
        p.heel = 0.2;
        tr.plants[0].toeoff = -0.3;
        tr.step(0.5, 1.0, p);
        let mut prev = tr.eval(0.0);
        for i in 1..200 {
            let f = tr.eval(i as f64 * 0.01);
            assert!((f.ankle - prev.ankle).len() < 0.03, "jump at {i}");
            assert!(toe_height(0, &f) > -1e-9);
            prev = f;
        }
    }
}
