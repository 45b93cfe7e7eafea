//! Locomotion: footstep planning along a path, root trajectory through the mid-stance points,
//! pelvis bob and sway, arm swing opposite to the legs (with a short lag for follow-through),
//! pelvis/chest counter-rotation and a forward lean that grows with speed.
//!
//! Each step `k` lands at `t_k = t_start + T_swing + k / cadence`; the foot is planted at the
//! point of the path the pelvis passes over at that step's mid-stance, offset sideways by half
//! the stance width. The root follows a monotone spline through those mid-stance points, so
//! planted feet never slide and the stride length follows speed / cadence.

use super::body::{Arm, Frame, LEFT, RIGHT, STAND_Y, sgn};
use super::math::{V3, deg, heading_dir, left_dir, v3};
use super::track::{Curve, FootTrack, NEVER, Path, Plant, plant_pos};

/// Gait style parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Gait {
    /// Path of the body centre (starts at the origin).
    pub path: Path,
    /// Body heading relative to the path tangent (0 forward, π backward, ±π/2 sideways).
    pub heading_offset: f64,
    /// Extra turn of the heading spread over the steps (turning in place), radians.
    pub turn: f64,
    /// Target speed along the path, m/s (sets the stride with the cadence).
    pub speed: f64,
    /// Steps per second.
    pub cadence: f64,
    /// Fraction of a gait cycle a foot is planted (> 0.5 walking, < 0.5 running).
    pub duty: f64,
    /// Half the lateral distance between the feet.
    pub width: f64,
    /// Swing apex height (ankle lift).
    pub swing_h: f64,
    /// Heel-strike pitch (> 0) or ball-of-foot landing (< 0).
    pub heel: f64,
    /// Toe-off pitch (≤ 0).
    pub toeoff: f64,
    /// Stance pitch (< 0 walks on the toes).
    pub tip: f64,
    /// Pelvis bob amplitude.
    pub bob: f64,
    /// Pelvis lowered by this much while moving (crouched gaits, running).
    pub crouch: f64,
    /// Forward lean of the trunk while moving, radians.
    pub lean: f64,
    /// Arm swing amplitude (shoulder flexion), radians.
    pub arm_amp: f64,
    /// Elbow flexion while moving, radians.
    pub elbow: f64,
    /// Idle seconds before the first step and after the last.
    pub pre: f64,
    pub post: f64,
    /// Foot that steps first.
    pub first: usize,
    /// Arms held out (balance) instead of swinging: shoulder abduction, radians.
    pub arms_out: f64,
    /// Running (flight phase): the pelvis is lowest at mid-stance instead of highest.
    pub running: bool,
    /// At least this many steps (stepping in place has a zero-length path).
    pub min_steps: usize,
    /// Largest heading change per step when turning, radians.
    pub turn_step_max: f64,
}

impl Gait {
    /// Walking defaults along `path`.
    pub fn walk(path: Path, speed: f64) -> Gait {
        let cadence = 1.45 + 0.35 * speed;
        Gait {
            path,
            heading_offset: 0.0,
            turn: 0.0,
            speed,
            cadence,
            duty: 0.61,
            width: 0.095,
            swing_h: 0.07 + 0.03 * speed,
            heel: deg(14.0),
            toeoff: -deg(28.0),
            tip: 0.0,
            bob: 0.018 + 0.01 * speed,
            crouch: 0.01 + 0.01 * speed,
            lean: deg(2.0 + 2.0 * speed),
            arm_amp: deg(12.0 + 12.0 * speed),
            elbow: deg(16.0),
            pre: 0.4,
            post: 0.4,
            first: LEFT,
            arms_out: 0.0,
            running: false,
            min_steps: 2,
            turn_step_max: deg(40.0),
        }
    }

    /// Running defaults (`speed` in m/s, 2–7).
    pub fn run(path: Path, speed: f64) -> Gait {
        let cadence = 2.45 + 0.13 * speed;
        Gait {
            path,
            heading_offset: 0.0,
            turn: 0.0,
            speed,
            cadence,
            duty: (0.44 - 0.03 * speed).max(0.26),
            width: 0.07,
            swing_h: 0.1 + 0.05 * speed,
            heel: -deg(18.0),
            toeoff: -deg(34.0),
            tip: 0.0,
            bob: 0.035 + 0.004 * speed,
            crouch: 0.06 + 0.006 * speed,
            lean: deg(5.0 + 2.0 * speed),
            arm_amp: deg(25.0 + 4.0 * speed),
            elbow: deg(82.0),
            pre: 0.3,
            post: 0.35,
            first: LEFT,
            arms_out: 0.0,
            running: true,
            min_steps: 2,
            turn_step_max: deg(40.0),
        }
    }
}

/// Generates the frames of a gait at 20 fps, returning them with the root path length.
pub fn generate(g: &Gait) -> Vec<Frame> {
    let fps = 20.0;
    let total_s = g.path.length();
    let t_step = 1.0 / g.cadence;
    let t_sw = ((1.0 - g.duty) * 2.0 * t_step).max(0.2);
    let stance = 2.0 * t_step - t_sw;
    // Step plan: relative step lengths ramp up and down; the last step closes the feet.
    let l_des = (g.speed / g.cadence).max(0.05);
    let turn_per_step_max = g.turn_step_max;
    let mut n_moving = g.min_steps.max(2);
    let weights = |n: usize| -> Vec<f64> {
        (0..n)
            .map(|k| {
                let a = 0.45 + 0.3 * k as f64;
                let b = 0.55 + 0.3 * (n - 1 - k) as f64;
                a.min(b).min(1.0)
            })
            .collect()
    };
    loop {
        let w: f64 = weights(n_moving).iter().sum();
        let ok_len = total_s / w <= l_des * 1.08;
        let ok_turn = g.turn.abs() / w <= turn_per_step_max;
        if (ok_len && ok_turn) || n_moving > 60 {
            break;
        }
        n_moving += 1;
    }
    let w = weights(n_moving);
    let wsum: f64 = w.iter().sum();
    let mut centers = Vec::with_capacity(n_moving + 1);
    let mut turns = Vec::with_capacity(n_moving + 1);
    let mut acc = 0.0;
    for wk in &w {
        acc += wk;
        centers.push(total_s * acc / wsum);
        turns.push(g.turn * acc / wsum);
    }
    // Closing step.
    centers.push(total_s);
    turns.push(g.turn);
    let n = centers.len();
    let t_start = g.pre;
    let land = |k: usize| t_start + t_sw + k as f64 * t_step;
    let mid = |k: usize| land(k) + 0.5 * stance;
    let t_end = land(n - 1) + 0.5 * stance + g.post;
    // Root progress and extra turn.
    let mut sk = vec![(t_start - 0.1, 0.0)];
    let mut tk = vec![(t_start - 0.1, 0.0)];
    for k in 0..n - 1 {
        sk.push((mid(k), centers[k]));
        tk.push((mid(k), turns[k]));
    }
    tk.push((mid(n - 1), g.turn));
    let s_of = Curve::new(&sk);
    let turn_of = Curve::new(&tk);
    let body_yaw = |s: f64, extra: f64| g.path.eval(s).1 + g.heading_offset + extra;
    // Foot tracks.
    let y0 = body_yaw(0.0, 0.0);
    let mut tracks = [
        FootTrack::standing(LEFT, V3::ZERO, y0, 0.1),
        FootTrack::standing(RIGHT, V3::ZERO, y0, 0.1),
    ];
    for tr in tracks.iter_mut() {
        tr.plants[0].toeoff = g.toeoff;
        tr.plants[0].tip = 0.0;
    }
    for k in 0..n {
        let side = (g.first + k) % 2;
        let (c, _) = g.path.eval(centers[k]);
        let yaw = body_yaw(centers[k], turns[k]);
        let closing = k + 2 >= n;
        let width = if closing { 0.1 } else { g.width };
        let back = if g.heading_offset.cos() < -0.5 {
            -0.03
        } else {
            0.03
        };
        let mut p = Plant::new(
            0.0,
            NEVER,
            plant_pos(side, c, yaw, width, back),
            yaw + sgn(side) * deg(6.0),
        );
        p.heel = if closing { g.heel * 0.3 } else { g.heel };
        p.toeoff = g.toeoff;
        p.tip = if closing { 0.0 } else { g.tip };
        p.swing_h = if closing { g.swing_h * 0.6 } else { g.swing_h };
        let lift = land(k) - t_sw;
        tracks[side].step(lift, land(k), p);
        if k + 2 < n {
            // Lift-off of this plant: when this foot's next step begins.
            let next_lift = land(k + 2) - t_sw;
            if let Some(last) = tracks[side].plants.last_mut() {
                last.lift = next_lift;
            }
        }
    }
    for tr in tracks.iter_mut() {
        if let Some(last) = tr.plants.last_mut() {
            last.lift = NEVER;
            last.toeoff = 0.0;
        }
    }
    // Phase (steps) as a function of time for bob and sway.
    let phase_of = |t: f64| (t - mid(0)) / t_step;
    let frames_n = ((t_end * fps).round() as usize).max(2);
    let mut frames = Vec::with_capacity(frames_n);
    let mut fwd_hist: Vec<[f64; 2]> = Vec::with_capacity(frames_n);
    for i in 0..frames_n {
        let t = i as f64 / fps;
        let s = s_of.at(t);
        let extra = turn_of.at(t);
        let (c, _) = g.path.eval(s);
        let yaw = body_yaw(s, extra);
        // Activity envelope: 1 while stepping, easing to 0 at rest.
        let env = super::math::window(t, t_start - 0.15, land(n - 1) + 0.3 * stance, 0.45);
        let ph = phase_of(t);
        let sway = 0.022 * sgn(g.first) * (std::f64::consts::PI * ph).cos() * env;
        let cyc = 0.5 * (1.0 - (2.0 * std::f64::consts::PI * ph).cos());
        let bob = if g.running { g.bob * cyc } else { -g.bob * cyc };
        let root_y = STAND_Y - (g.crouch - bob) * env;
        let root = c + left_dir(yaw) * sway;
        let mut f = Frame::standing(V3::ZERO, yaw);
        f.root = v3(root.x, root_y, root.z);
        f.feet = [tracks[0].eval(t), tracks[1].eval(t)];
        f.pelvis.x += g.lean * 0.4 * env;
        f.spine.x += g.lean * 0.6 * env;
        f.head.x -= g.lean * 0.5 * env;
        frames.push(f);
        let h = heading_dir(yaw);
        fwd_hist.push([(f.feet[0].ankle - root).dot(h), (f.feet[1].ankle - root).dot(h)]);
    }
    // Upper body from the legs, with a two-frame lag for follow-through.
    let norm = (l_des * 0.6).max(0.12);
    let sideways = g.heading_offset.sin().abs() > 0.7;
    for i in 0..frames.len() {
        let lag = i.saturating_sub(2);
        let [fl, fr] = fwd_hist[lag];
        let d = ((fr - fl) / norm).tanh();
        let t = i as f64 / fps;
        let env = super::math::window(t, t_start - 0.15, land(n - 1) + 0.3 * stance, 0.45);
        let f = &mut frames[i];
        let amp = if sideways { g.arm_amp * 0.25 } else { g.arm_amp };
        for side in [LEFT, RIGHT] {
            let swing = amp * d * sgn(side);
            let fwd_part = swing.max(0.0) / amp.max(1e-6);
            let flex = swing + deg(3.0);
            let elbow = deg(14.0) + (g.elbow - deg(14.0) + deg(14.0) * fwd_part) * env;
            let abd = deg(2.5) + g.arms_out + deg(2.0) * env;
            let target = Arm::angles(
                side,
                flex * env + deg(4.0) * (1.0 - env),
                abd,
                elbow,
                v3(0.0, 0.0, 1.0),
            );
            f.arms[side] = target;
        }
        let [fl0, fr0] = fwd_hist[i];
        let dl = ((fl0 - fr0) / norm).tanh();
        f.pelvis.z -= deg(6.0) * dl * env;
        f.spine.z += deg(9.0) * dl * env;
        f.head.z -= deg(3.0) * dl * env;
        f.pelvis.y += deg(2.5) * d * env;
    }
    frames
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::body::resolve;
    use crate::synth::track::Seg;

    #[test]
    fn walk_moves_forward_without_sliding() {
        let g = Gait::walk(
            Path {
                yaw0: 0.0,
                segs: vec![Seg::Line(3.0)],
            },
            1.2,
        );
        let fr = generate(&g);
        let last = resolve(&fr[fr.len() - 1]);
        assert!((last[0].z - 3.0).abs() < 0.1, "ends at {:?}", last[0]);
        assert!(fr.len() > 40 && fr.len() < 200, "{} frames", fr.len());
    }
}
