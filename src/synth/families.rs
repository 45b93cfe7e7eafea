//! The motion families: each draws its parameters from the motion's PRNG stream and produces a
//! [`Part`]: a pose sequence at 20 fps that starts at the origin facing +Z and starts and ends
//! in a relaxed standing pose (so parts can be chained into compositions).

use std::collections::BTreeMap;
use std::f64::consts::PI;

use serde::Serialize;

use super::body::{Arm, Foot, Frame, LEFT, RIGHT, STAND_Y, sgn, shoulder_in_chest};
use super::gait::{self, Gait};
use super::math::{V3, bump, deg, heading_dir, lerp, minjerk, progress, smooth, v3, window};
use super::rng::Rng;
use super::track::{FootTrack, NEVER, Path, Plant, Seg, plant_pos};

/// Frames per second of every generated motion.
pub const FPS: f64 = 20.0;

/// A parameter value recorded in `labels.jsonl` and used by the captions.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum PVal {
    Int(i64),
    Num(f64),
    Str(&'static str),
}

/// Parameters by name (sorted, so their JSON is deterministic).
pub type Params = BTreeMap<&'static str, PVal>;

/// One generated action: its family, parameters and frames.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub family: &'static str,
    pub params: Params,
    pub frames: Vec<Frame>,
}

impl Part {
    /// Integer parameter (0 when absent).
    pub fn int(&self, k: &str) -> i64 {
        match self.params.get(k) {
            Some(PVal::Int(v)) => *v,
            Some(PVal::Num(v)) => *v as i64,
            _ => 0,
        }
    }
    /// Numeric parameter (0 when absent).
    pub fn num(&self, k: &str) -> f64 {
        match self.params.get(k) {
            Some(PVal::Int(v)) => *v as f64,
            Some(PVal::Num(v)) => *v,
            _ => 0.0,
        }
    }
    /// String parameter ("" when absent).
    pub fn str(&self, k: &str) -> &'static str {
        match self.params.get(k) {
            Some(PVal::Str(v)) => v,
            _ => "",
        }
    }
}

/// A family: its name, whether it is locomotion (foot-skate bound applies), and generator.
pub struct Family {
    pub name: &'static str,
    pub locomotion: bool,
    /// Draws parameters and generates, using at most about `budget` seconds.
    pub generate: fn(&mut Rng, f64) -> Part,
}

macro_rules! fam {
    ($n:expr, $l:expr, $g:expr) => {
        Family {
            name: $n,
            locomotion: $l,
            generate: $g,
        }
    };
}

/// All single-action families.
pub static FAMILIES: &[Family] = &[
    fam!("walk", true, walk),
    fam!("walk_backward", true, walk_backward),
    fam!("walk_sideways", true, walk_sideways),
    fam!("walk_curve", true, walk_curve),
    fam!("walk_circle", true, walk_circle),
    fam!("walk_turn", true, walk_turn),
    fam!("jog", true, jog),
    fam!("run", true, run),
    fam!("sprint", true, sprint),
    fam!("march", true, march),
    fam!("tiptoe", true, tiptoe),
    fam!("sneak", true, sneak),
    fam!("jump", false, jump_in_place),
    fam!("jump_forward", false, jump_forward),
    fam!("hop", false, hop),
    fam!("jumping_jacks", false, jumping_jacks),
    fam!("squat", false, squat),
    fam!("crouch", false, crouch),
    fam!("sit_floor", false, sit_floor),
    fam!("wave", false, wave),
    fam!("clap", false, clap),
    fam!("punch", false, punch),
    fam!("kick", false, kick),
    fam!("raise_arms", false, raise_arms),
    fam!("arm_circles", false, arm_circles),
    fam!("bow", false, bow),
    fam!("turn", true, turn_in_place),
    fam!("spin", true, spin),
    fam!("look_around", false, look_around),
    fam!("side_bend", false, side_bend),
    fam!("balance", false, balance),
    fam!("throw", false, throw),
    fam!("pick_up", false, pick_up),
    fam!("dance", false, dance),
    fam!("stand", false, stand),
];

/// Looks a family up by name.
pub fn family(name: &str) -> Option<&'static Family> {
    FAMILIES.iter().find(|f| f.name == name)
}

fn frames_for(dur: f64) -> usize {
    (dur * FPS).round().max(2.0) as usize
}

/// Builds `dur` seconds of frames from a standing base, letting `f` shape each frame.
fn build(dur: f64, mut f: impl FnMut(f64, &mut Frame)) -> Vec<Frame> {
    (0..frames_for(dur))
        .map(|i| {
            let t = i as f64 / FPS;
            let mut fr = Frame::standing(V3::ZERO, 0.0);
            f(t, &mut fr);
            fr
        })
        .collect()
}

/// Subtle idle life: breathing and a slow weight shift (amplitude scales with `a`).
fn idle_life(fr: &mut Frame, t: f64, phase: f64, a: f64) {
    let b = (2.0 * PI * (t * 0.25 + phase)).sin();
    let w = (2.0 * PI * (t * 0.13 + phase * 0.7)).sin();
    fr.spine.x += deg(1.0) * b * a;
    fr.root.x += 0.01 * w * a;
    fr.pelvis.y -= deg(1.5) * w * a;
    fr.spine.y += deg(1.2) * w * a;
    fr.head.z += deg(3.0) * (2.0 * PI * (t * 0.09 + phase)).sin() * a;
}

/// Sets the pelvis over the feet: weighted average of the ankles plus a forward offset.
fn root_over_feet(fr: &mut Frame, w_left: f64) {
    let c = fr.feet[0].ankle.flat() * w_left + fr.feet[1].ankle.flat() * (1.0 - w_left);
    let c = c + heading_dir(fr.yaw) * 0.03;
    fr.root.x = c.x;
    fr.root.z = c.z;
}

fn side_name(side: usize) -> &'static str {
    if side == LEFT { "left" } else { "right" }
}

fn pick_side(rng: &mut Rng) -> usize {
    if rng.chance(0.5) { LEFT } else { RIGHT }
}

fn speed_word(v: f64, slow: f64, fast: f64) -> &'static str {
    if v < slow {
        "slow"
    } else if v > fast {
        "fast"
    } else {
        "normal"
    }
}

fn part(family: &'static str, params: Vec<(&'static str, PVal)>, frames: Vec<Frame>) -> Part {
    Part {
        family,
        params: params.into_iter().collect(),
        frames,
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

// ---------------------------------------------------------------- locomotion

fn line(len: f64) -> Path {
    Path {
        yaw0: 0.0,
        segs: vec![Seg::Line(len)],
    }
}

/// Shrinks a gait's path until it fits the budget.
fn fit_gait(mut g: Gait, budget: f64) -> Vec<Frame> {
    for _ in 0..12 {
        let fr = gait::generate(&g);
        if fr.len() as f64 <= budget * FPS {
            return fr;
        }
        for s in g.path.segs.iter_mut() {
            match s {
                Seg::Line(l) => *l *= 0.8,
                Seg::Arc { radius, .. } => *radius *= 0.85,
            }
        }
        g.turn *= 0.85;
        g.min_steps = (g.min_steps * 4 / 5).max(2);
    }
    gait::generate(&g)
}

fn walk(rng: &mut Rng, budget: f64) -> Part {
    let v = *rng.pick(&[0.75, 0.95, 1.2, 1.35, 1.6, 1.8]) + rng.range(-0.05, 0.05);
    let dur = rng.range(3.0, 7.5).min(budget - 1.2);
    let mut g = Gait::walk(line(v * dur), v);
    g.first = pick_side(rng);
    let frames = fit_gait(g, budget);
    let dist = frames.last().map(|f| f.root.z).unwrap_or(0.0);
    part(
        "walk",
        vec![
            ("speed", PVal::Str(speed_word(v, 0.9, 1.5))),
            ("distance", PVal::Num(round2(dist))),
        ],
        frames,
    )
}

fn walk_backward(rng: &mut Rng, budget: f64) -> Part {
    let v = rng.range(0.45, 0.85);
    let dur = rng.range(2.5, 6.0).min(budget - 1.2);
    let mut g = Gait::walk(
        Path {
            yaw0: PI,
            segs: vec![Seg::Line(v * dur)],
        },
        v,
    );
    g.heading_offset = -PI;
    g.cadence = 1.5 + 0.2 * v;
    g.heel = -deg(8.0);
    g.toeoff = -deg(12.0);
    g.lean = -deg(1.0);
    g.arm_amp = deg(10.0);
    g.first = pick_side(rng);
    let frames = fit_gait(g, budget);
    part(
        "walk_backward",
        vec![("speed", PVal::Str(speed_word(v, 0.55, 0.9)))],
        frames,
    )
}

fn walk_sideways(rng: &mut Rng, budget: f64) -> Part {
    let dir = pick_side(rng);
    let v = rng.range(0.25, 0.36);
    let dur = rng.range(2.5, 5.5).min(budget - 1.2);
    // Moving left (+X) is path yaw +90° with the body still facing +Z.
    let s = sgn(dir);
    let mut g = Gait::walk(
        Path {
            yaw0: s * PI / 2.0,
            segs: vec![Seg::Line(v * dur)],
        },
        v,
    );
    g.heading_offset = -s * PI / 2.0;
    g.cadence = 1.6;
    g.width = 0.14;
    g.heel = 0.0;
    g.toeoff = -deg(15.0);
    g.lean = 0.0;
    g.first = dir;
    g.swing_h = 0.06;
    let frames = fit_gait(g, budget);
    part(
        "walk_sideways",
        vec![("direction", PVal::Str(side_name(dir)))],
        frames,
    )
}

fn walk_curve(rng: &mut Rng, budget: f64) -> Part {
    let dir = pick_side(rng);
    let v = rng.range(0.9, 1.4);
    let r = rng.range(2.0, 4.5);
    let ang = deg(rng.range(60.0, 130.0));
    let pre = rng.range(0.0, 1.0);
    let mut g = Gait::walk(
        Path {
            yaw0: 0.0,
            segs: vec![
                Seg::Line(pre),
                Seg::Arc {
                    radius: r,
                    angle: sgn(dir) * ang,
                },
            ],
        },
        v,
    );
    g.first = pick_side(rng);
    let frames = fit_gait(g, budget);
    part(
        "walk_curve",
        vec![("direction", PVal::Str(side_name(dir)))],
        frames,
    )
}

fn walk_circle(rng: &mut Rng, budget: f64) -> Part {
    let dir = pick_side(rng);
    let v = rng.range(0.9, 1.25);
    let r = rng.range(0.9, 1.5);
    let mut g = Gait::walk(
        Path {
            yaw0: 0.0,
            segs: vec![Seg::Arc {
                radius: r,
                angle: sgn(dir) * 2.0 * PI,
            }],
        },
        v,
    );
    g.first = dir;
    g.pre = 0.3;
    g.post = 0.3;
    let frames = fit_gait(g, budget);
    part(
        "walk_circle",
        vec![
            (
                "direction",
                PVal::Str(if dir == LEFT {
                    "counterclockwise"
                } else {
                    "clockwise"
                }),
            ),
            ("side", PVal::Str(side_name(dir))),
        ],
        frames,
    )
}

fn walk_turn(rng: &mut Rng, budget: f64) -> Part {
    let dir = pick_side(rng);
    let angle = *rng.pick(&[45.0, 90.0, 90.0, 135.0, 180.0]);
    let v = rng.range(0.9, 1.3);
    let a = rng.range(1.2, 2.5);
    let b = rng.range(0.8, 2.0);
    let radius = if angle > 150.0 { 0.35 } else { 0.5 };
    let mut g = Gait::walk(
        Path {
            yaw0: 0.0,
            segs: vec![
                Seg::Line(a),
                Seg::Arc {
                    radius,
                    angle: sgn(dir) * deg(angle),
                },
                Seg::Line(b),
            ],
        },
        v,
    );
    g.first = pick_side(rng);
    let frames = fit_gait(g, budget);
    part(
        "walk_turn",
        vec![
            ("direction", PVal::Str(side_name(dir))),
            ("angle", PVal::Int(angle as i64)),
        ],
        frames,
    )
}

fn run_like(rng: &mut Rng, budget: f64, name: &'static str, v: f64) -> Part {
    let curve = rng.chance(0.25);
    let dir = pick_side(rng);
    let dur = rng.range(2.5, 5.0).min(budget - 1.5);
    let len = v * dur;
    let path = if curve {
        Path {
            yaw0: 0.0,
            segs: vec![
                Seg::Line(len * 0.3),
                Seg::Arc {
                    radius: (len * 0.7) / deg(80.0),
                    angle: sgn(dir) * deg(80.0),
                },
            ],
        }
    } else {
        line(len)
    };
    let mut g = Gait::run(path, v);
    g.first = pick_side(rng);
    let frames = fit_gait(g, budget);
    let mut params = vec![("path", PVal::Str(if curve { "curve" } else { "straight" }))];
    if curve {
        params.push(("direction", PVal::Str(side_name(dir))));
    }
    part(name, params, frames)
}

fn jog(rng: &mut Rng, budget: f64) -> Part {
    let v = rng.range(2.0, 2.8);
    run_like(rng, budget, "jog", v)
}

fn run(rng: &mut Rng, budget: f64) -> Part {
    let v = rng.range(3.2, 4.3);
    run_like(rng, budget, "run", v)
}

fn sprint(rng: &mut Rng, budget: f64) -> Part {
    let v = rng.range(4.8, 5.6);
    let mut p = run_like(rng, budget, "sprint", v);
    p.params.insert("path", PVal::Str("straight"));
    p
}

fn march(rng: &mut Rng, budget: f64) -> Part {
    let in_place = rng.chance(0.4);
    let v = if in_place { 0.0 } else { rng.range(0.45, 0.8) };
    let dur = rng.range(3.0, 6.0).min(budget - 1.2);
    let mut g = Gait::walk(line(v * dur), v.max(0.3));
    g.cadence = rng.range(1.6, 2.0);
    g.swing_h = rng.range(0.28, 0.38);
    g.heel = -deg(5.0);
    g.toeoff = -deg(20.0);
    g.arm_amp = deg(40.0);
    g.elbow = deg(85.0);
    g.bob = 0.01;
    g.lean = 0.0;
    g.duty = 0.58;
    g.first = pick_side(rng);
    if in_place {
        g.min_steps = (dur * g.cadence).round() as usize;
    }
    let frames = fit_gait(g, budget);
    part("march", vec![("in_place", PVal::Int(in_place as i64))], frames)
}

fn tiptoe(rng: &mut Rng, budget: f64) -> Part {
    let v = rng.range(0.4, 0.7);
    let dur = rng.range(3.0, 6.0).min(budget - 1.2);
    let mut g = Gait::walk(line(v * dur), v);
    g.cadence = 1.9;
    g.tip = -deg(32.0);
    g.heel = 0.0;
    g.toeoff = -deg(8.0);
    g.swing_h = 0.06;
    g.crouch = -0.06;
    g.arms_out = deg(14.0);
    g.arm_amp = deg(8.0);
    g.elbow = deg(45.0);
    g.first = pick_side(rng);
    let frames = fit_gait(g, budget);
    part("tiptoe", vec![], frames)
}

fn sneak(rng: &mut Rng, budget: f64) -> Part {
    let v = rng.range(0.45, 0.75);
    let dur = rng.range(3.0, 6.5).min(budget - 1.2);
    let mut g = Gait::walk(line(v * dur), v);
    g.cadence = 1.25;
    g.crouch = rng.range(0.12, 0.18);
    g.lean = deg(22.0);
    g.swing_h = 0.1;
    g.arm_amp = deg(10.0);
    g.elbow = deg(75.0);
    g.heel = deg(4.0);
    g.bob = 0.01;
    g.first = pick_side(rng);
    let mut frames = fit_gait(g, budget);
    let dur = frames.len() as f64 / FPS;
    for (i, f) in frames.iter_mut().enumerate() {
        // Head lowered and peering forward while sneaking.
        f.head.x -= deg(10.0) * window(i as f64 / FPS, 0.0, dur, 0.6);
    }
    part("sneak", vec![], frames)
}

fn turn_gait(rng: &mut Rng, budget: f64, angle: f64, dir: usize, spin: bool) -> Vec<Frame> {
    let mut g = Gait::walk(
        Path {
            yaw0: 0.0,
            segs: vec![],
        },
        0.3,
    );
    g.turn = sgn(dir) * deg(angle);
    g.first = dir;
    g.cadence = if spin { 2.6 } else { rng.range(1.5, 1.9) };
    g.turn_step_max = if spin { deg(75.0) } else { deg(45.0) };
    g.swing_h = 0.05;
    g.heel = 0.0;
    g.toeoff = -deg(15.0);
    g.width = 0.1;
    g.arm_amp = deg(6.0);
    if spin {
        g.arms_out = deg(30.0);
        g.elbow = deg(50.0);
        g.duty = 0.55;
    }
    fit_gait(g, budget)
}

fn turn_in_place(rng: &mut Rng, budget: f64) -> Part {
    let dir = pick_side(rng);
    let angle = *rng.pick(&[90.0, 90.0, 180.0, 180.0, 270.0]);
    let frames = turn_gait(rng, budget, angle, dir, false);
    part(
        "turn",
        vec![
            ("direction", PVal::Str(side_name(dir))),
            ("angle", PVal::Int(angle as i64)),
        ],
        frames,
    )
}

fn spin(rng: &mut Rng, budget: f64) -> Part {
    let dir = pick_side(rng);
    let turns = if rng.chance(0.25) { 2 } else { 1 };
    let frames = turn_gait(rng, budget, 360.0 * turns as f64, dir, true);
    part(
        "spin",
        vec![
            ("direction", PVal::Str(side_name(dir))),
            ("count", PVal::Int(turns)),
        ],
        frames,
    )
}

// ---------------------------------------------------------------- jumps

/// One jump's timing.
struct JumpPlan {
    crouch_start: f64,
    takeoff: f64,
    landing: f64,
    recover_end: f64,
}

/// Shared jump machinery: `n` jumps of flight height `h`, horizontal displacement per jump
/// `dx` (body frame, forward/left), feet half-width before/after per jump from `widths`.
#[allow(clippy::too_many_arguments)]
fn jumps(
    n: usize,
    h: f64,
    step: V3,
    widths: &dyn Fn(usize) -> f64,
    crouch_depth: f64,
    gap: f64,
    one_leg: Option<usize>,
    arms: bool,
) -> Vec<Frame> {
    let g = 9.81;
    let flight = 2.0 * (2.0 * h / g).sqrt();
    let crouch = 0.32 + crouch_depth;
    let mut plans = Vec::new();
    let mut t = 0.5;
    for _ in 0..n {
        let crouch_start = t;
        let takeoff = t + crouch;
        let landing = takeoff + flight;
        let recover_end = landing + 0.3 + crouch_depth;
        plans.push(JumpPlan {
            crouch_start,
            takeoff,
            landing,
            recover_end,
        });
        t = recover_end + gap - 0.2;
    }
    let end = plans.last().map(|p| p.recover_end).unwrap_or(0.5) + 0.5;
    let mut tracks = [
        FootTrack::standing(LEFT, V3::ZERO, 0.0, widths(0)),
        FootTrack::standing(RIGHT, V3::ZERO, 0.0, widths(0)),
    ];
    let lifted = one_leg.map(|s| 1 - s);
    let mut centers = vec![V3::ZERO];
    let mut c = V3::ZERO;
    for (k, p) in plans.iter().enumerate() {
        c += step;
        centers.push(c);
        for s in [LEFT, RIGHT] {
            if Some(s) == lifted {
                continue;
            }
            if let Some(last) = tracks[s].plants.last_mut() {
                last.toeoff = -deg(38.0);
            }
            let w = if one_leg.is_some() { 0.1 } else { widths(k + 1) };
            let mut pl = Plant::new(0.0, NEVER, plant_pos(s, c, 0.0, w, 0.03), sgn(s) * deg(6.0));
            pl.heel = -deg(22.0);
            pl.swing_h = h;
            pl.ballistic = true;
            tracks[s].step(p.takeoff, p.landing, pl);
        }
    }
    // Root height keyframes (the ballistic part is added separately).
    let mut knots = vec![(0.0, STAND_Y)];
    for p in &plans {
        let bottom = p.crouch_start + 0.7 * (p.takeoff - p.crouch_start);
        knots.push((p.crouch_start, STAND_Y));
        knots.push((bottom, STAND_Y - crouch_depth));
        knots.push((p.takeoff, STAND_Y + 0.04));
        knots.push((p.landing, STAND_Y + 0.03));
        knots.push((
            p.landing + 0.45 * (p.recover_end - p.landing),
            STAND_Y - crouch_depth * 0.8,
        ));
        knots.push((p.recover_end, STAND_Y));
    }
    // Overlapping jump plans (short gaps) must not produce out-of-order knots.
    let mut mono: Vec<(f64, f64)> = Vec::with_capacity(knots.len());
    for k in knots {
        if mono.last().is_none_or(|l| k.0 > l.0 + 0.02) {
            mono.push(k);
        }
    }
    let ycurve = super::track::Curve::new(&mono);
    build(end, |t, fr| {
        let mut ball = 0.0;
        let mut arm_phase = 0.0; // −1 back (crouch), +1 up (takeoff)
        let mut xz = V3::ZERO;
        for (k, p) in plans.iter().enumerate() {
            if t >= p.takeoff && t <= p.landing {
                let s = (t - p.takeoff) / (p.landing - p.takeoff);
                ball = h * 4.0 * s * (1.0 - s);
            }
            let back = window(t, p.crouch_start, p.takeoff - 0.05, 0.15);
            let up = window(t, p.takeoff - 0.12, p.landing + 0.05, 0.12);
            arm_phase += up - back * (1.0 - up);
            let s = progress(t, p.takeoff - 0.08, p.landing + 0.05);
            if t >= p.crouch_start - 1e-9 {
                xz = centers[k].lerp(centers[k + 1], smooth(s));
            }
        }
        fr.feet = [tracks[0].eval(t), tracks[1].eval(t)];
        // Trunk lean scales with how deep the crouch is (small hops stay upright).
        let dip = (STAND_Y - ycurve.at(t)).max(0.0) / crouch_depth.max(0.05) * (crouch_depth / 0.2).min(1.0);
        fr.root = v3(xz.x, ycurve.at(t) + ball, xz.z + 0.0);
        fr.pelvis.x += deg(18.0) * dip;
        fr.spine.x += deg(14.0) * dip;
        fr.head.x -= deg(12.0) * dip;
        fr.knee_out = deg(8.0) * dip;
        if let Some(ls) = lifted {
            // Stand on one leg: lifted foot behind, knee bent; pelvis over the stance foot.
            let st = 1 - ls;
            let lift_w = window(t, 0.1, end - 0.15, 0.35);
            let stance = fr.feet[st].ankle;
            let base = plant_pos(ls, xz, 0.0, 0.1, 0.03);
            let hip = v3(xz.x + sgn(ls) * 0.08, fr.root.y - 0.1, xz.z);
            let up = hip + v3(0.0, -0.55, -0.28);
            fr.feet[ls] = Foot {
                ankle: base.lerp(up, lift_w),
                yaw: sgn(ls) * deg(6.0),
                pitch: -deg(25.0) * lift_w,
            };
            let c = stance.flat().lerp(xz, 1.0 - lift_w) + v3(0.0, 0.0, 0.02);
            fr.root.x = c.x - sgn(st) * 0.01 * lift_w;
            fr.root.z = c.z;
            fr.pelvis.y += sgn(st) * deg(4.0) * lift_w;
            fr.spine.y -= sgn(st) * deg(6.0) * lift_w;
        }
        if arms {
            let a = arm_phase.clamp(-1.0, 1.0);
            let flex = if a >= 0.0 { deg(70.0) * a } else { deg(35.0) * a };
            for s in [LEFT, RIGHT] {
                fr.arms[s] = Arm::angles(
                    s,
                    flex + deg(4.0),
                    deg(10.0),
                    deg(20.0 + 25.0 * a.abs()),
                    v3(0.0, 0.0, 1.0),
                );
            }
        } else {
            for s in [LEFT, RIGHT] {
                fr.arms[s] = Arm::angles(s, deg(25.0), deg(35.0), deg(60.0), v3(0.0, 0.0, 1.0));
            }
        }
    })
}

fn jump_in_place(rng: &mut Rng, budget: f64) -> Part {
    let mut n = rng.int(1, 4) as usize;
    let h = rng.range(0.12, 0.32);
    let depth = rng.range(0.12, 0.22);
    let gap = rng.range(0.0, 0.4);
    let mut frames = Vec::new();
    while n >= 1 {
        frames = jumps(n, h, V3::ZERO, &|_| 0.1, depth, gap, None, true);
        if frames.len() as f64 <= budget * FPS || n == 1 {
            break;
        }
        n -= 1;
    }
    part(
        "jump",
        vec![("count", PVal::Int(n as i64)), ("height", PVal::Num(round2(h)))],
        frames,
    )
}

fn jump_forward(rng: &mut Rng, budget: f64) -> Part {
    let mut n = rng.int(1, 3) as usize;
    let d = rng.range(0.4, 1.0);
    let h = rng.range(0.15, 0.3);
    let mut frames = Vec::new();
    while n >= 1 {
        frames = jumps(n, h, v3(0.0, 0.0, d), &|_| 0.1, 0.2, 0.1, None, true);
        if frames.len() as f64 <= budget * FPS || n == 1 {
            break;
        }
        n -= 1;
    }
    part(
        "jump_forward",
        vec![("count", PVal::Int(n as i64)), ("distance", PVal::Num(round2(d)))],
        frames,
    )
}

fn hop(rng: &mut Rng, budget: f64) -> Part {
    let side = pick_side(rng);
    let mut n = rng.int(2, 5) as usize;
    let fwd = if rng.chance(0.35) {
        rng.range(0.15, 0.3)
    } else {
        0.0
    };
    let mut frames = Vec::new();
    while n >= 1 {
        frames = jumps(
            n,
            0.09,
            v3(0.0, 0.0, fwd),
            &|_| 0.1,
            0.08,
            -0.05,
            Some(side),
            false,
        );
        if frames.len() as f64 <= budget * FPS || n == 1 {
            break;
        }
        n -= 1;
    }
    part(
        "hop",
        vec![
            ("side", PVal::Str(side_name(side))),
            ("count", PVal::Int(n as i64)),
            ("forward", PVal::Int((fwd > 0.0) as i64)),
        ],
        frames,
    )
}

fn jumping_jacks(rng: &mut Rng, budget: f64) -> Part {
    let mut n = rng.int(2, 5) as usize;
    let mut frames = Vec::new();
    while n >= 1 {
        // Each jack is two small jumps: out (wide, arms up) and in (narrow, arms down).
        frames = jumps(
            2 * n,
            0.07,
            V3::ZERO,
            &|k| if k % 2 == 1 { 0.3 } else { 0.1 },
            0.06,
            -0.25,
            None,
            false,
        );
        if frames.len() as f64 <= budget * FPS || n == 1 {
            break;
        }
        n -= 1;
    }
    // Arms follow the feet (overhead when the feet are apart), smoothed over ±0.3 s so they
    // sweep through the whole jump instead of snapping during the short flight.
    let spread: Vec<f64> = frames
        .iter()
        .map(|f| (((f.feet[0].ankle.x - f.feet[1].ankle.x) - 0.2) / 0.4).clamp(0.0, 1.0))
        .collect();
    for (i, f) in frames.iter_mut().enumerate() {
        let (mut acc, mut wsum) = (0.0, 0.0);
        for d in -6i64..=6 {
            let k = (i as i64 + d).clamp(0, spread.len() as i64 - 1) as usize;
            let w = (-(d * d) as f64 / 18.0).exp();
            acc += spread[k] * w;
            wsum += w;
        }
        let a = smooth(acc / wsum);
        for s in [LEFT, RIGHT] {
            f.arms[s] = Arm::angles(
                s,
                deg(4.0),
                deg(10.0) + deg(155.0) * a,
                deg(12.0) + deg(15.0) * bump(a),
                v3(0.0, 0.0, 1.0),
            );
        }
    }
    part("jumping_jacks", vec![("count", PVal::Int(n as i64))], frames)
}

// ---------------------------------------------------------------- lower body

fn squat(rng: &mut Rng, budget: f64) -> Part {
    let mut n = rng.int(1, 4) as usize;
    let deep = rng.chance(0.5);
    let depth = if deep {
        rng.range(0.36, 0.44)
    } else {
        rng.range(0.2, 0.27)
    };
    let period = rng.range(1.8, 2.6);
    while n > 1 && 0.6 + n as f64 * period + 0.6 > budget {
        n -= 1;
    }
    let arms_fwd = rng.chance(0.6);
    let frames = build(0.6 + n as f64 * period + 0.6, |t, fr| {
        let mut d = 0.0;
        for k in 0..n {
            let a = 0.6 + k as f64 * period;
            d += window(t, a, a + period, period * 0.42);
        }
        fr.feet = [
            super::body::stance_foot(LEFT, V3::ZERO, 0.0, 0.15),
            super::body::stance_foot(RIGHT, V3::ZERO, 0.0, 0.15),
        ];
        fr.feet[0].yaw += deg(8.0);
        fr.feet[1].yaw -= deg(8.0);
        fr.root.y = STAND_Y - depth * d;
        fr.root.z = -0.12 * d;
        fr.pelvis.x += deg(30.0) * d;
        fr.spine.x += deg(8.0) * d;
        fr.head.x -= deg(20.0) * d;
        fr.knee_out = deg(12.0) * d;
        for s in [LEFT, RIGHT] {
            fr.arms[s] = if arms_fwd {
                Arm::angles(
                    s,
                    deg(4.0) + deg(80.0) * d,
                    deg(7.0),
                    deg(14.0),
                    v3(0.0, 1.0, 0.0),
                )
            } else {
                let hip = Arm::angles(s, deg(10.0), deg(30.0), deg(100.0), v3(-sgn(s), 0.2, 0.5));
                Arm::rest(s).lerp(
                    &hip,
                    smooth(t / 0.5).min(smooth((0.6 + n as f64 * period + 0.6 - t) / 0.5)),
                )
            };
        }
    });
    part(
        "squat",
        vec![
            ("count", PVal::Int(n as i64)),
            ("depth", PVal::Str(if deep { "deep" } else { "half" })),
        ],
        frames,
    )
}

fn crouch(rng: &mut Rng, budget: f64) -> Part {
    let hold = rng.range(1.0, 2.5).min(budget - 3.0).max(0.5);
    let down = rng.range(0.8, 1.2);
    let total = 0.5 + down + hold + down + 0.5;
    let frames = build(total, |t, fr| {
        let d = window(t, 0.5, total - 0.5, down);
        fr.feet = [
            super::body::stance_foot(LEFT, V3::ZERO, 0.0, 0.13),
            super::body::stance_foot(RIGHT, V3::ZERO, 0.0, 0.13),
        ];
        for s in 0..2 {
            fr.feet[s].yaw += sgn(s) * deg(8.0);
        }
        fr.root.y = STAND_Y - 0.5 * d;
        fr.root.z = -0.14 * d;
        fr.pelvis.x += deg(35.0) * d;
        fr.spine.x += deg(22.0) * d;
        fr.head.x -= deg(35.0) * d;
        fr.knee_out = deg(18.0) * d;
        for s in [LEFT, RIGHT] {
            let hug = Arm::angles(s, deg(55.0), deg(15.0), deg(70.0), v3(-sgn(s), 0.3, 0.5));
            fr.arms[s] = Arm::rest(s).lerp(&hug, d);
        }
    });
    part("crouch", vec![], frames)
}

fn sit_floor(rng: &mut Rng, budget: f64) -> Part {
    let hold = rng.range(0.8, 2.0).min(budget - 4.4).max(0.3);
    let down = rng.range(1.6, 2.0);
    let up = rng.range(1.6, 2.1);
    let total = 0.4 + down + hold + up + 0.4;
    let t1 = 0.4;
    let t2 = t1 + down;
    let t3 = t2 + hold;
    let t4 = t3 + up;
    let frames = build(total, |t, fr| {
        // s: 0 standing → 1 seated; the squat phase peaks on the way.
        let s = if t < t2 {
            minjerk(progress(t, t1, t2))
        } else {
            1.0 - minjerk(progress(t, t3, t4))
        };
        let mid = bump(
            if t < t2 {
                progress(t, t1, t2)
            } else {
                progress(t, t3, t4)
            } * 0.9,
        );
        fr.feet = [
            super::body::stance_foot(LEFT, V3::ZERO, 0.0, 0.12),
            super::body::stance_foot(RIGHT, V3::ZERO, 0.0, 0.12),
        ];
        fr.root.y = lerp(STAND_Y, 0.12, s);
        fr.root.z = -0.48 * smooth(s * 1.2 - 0.1);
        fr.pelvis.x += deg(40.0) * mid - deg(25.0) * s;
        fr.spine.x += deg(20.0) * mid + deg(35.0) * s;
        fr.head.x -= deg(15.0) * mid;
        fr.knee_out = deg(10.0) * s;
        // Hands reach for the floor behind the hips around touch-down, then rest on the knees.
        let reach = bump(if t < t2 {
            progress(t, t1 + 0.3 * down, t2 + 0.4 * hold)
        } else {
            progress(t, t3 - 0.4 * hold, t3 + 0.7 * up)
        });
        for side in [LEFT, RIGHT] {
            let knees = Arm::reach(v3(sgn(side) * 0.16, -0.25, 0.38), v3(sgn(side), -0.5, -0.3));
            let base = Arm::rest(side).lerp(&knees, smooth((s - 0.6) / 0.4));
            let mut a = base;
            a.world = v3(sgn(side) * 0.3, 0.06, -0.62);
            a.world_w = reach * 0.9;
            fr.arms[side] = a;
        }
    });
    part("sit_floor", vec![], frames)
}

// ---------------------------------------------------------------- arms

fn arm_env(t: f64, a: f64, b: f64, ramp: f64) -> f64 {
    window(t, a, b, ramp)
}

fn sides_of(which: &'static str) -> Vec<usize> {
    match which {
        "left" => vec![LEFT],
        "right" => vec![RIGHT],
        _ => vec![LEFT, RIGHT],
    }
}

fn which_arms(rng: &mut Rng) -> &'static str {
    rng.pick_str(&["left", "right", "left", "right", "both"])
}

fn wave(rng: &mut Rng, budget: f64) -> Part {
    let which = which_arms(rng);
    let mut n = rng.int(2, 5) as usize;
    let period = rng.range(0.45, 0.6);
    while n > 2 && 1.6 + n as f64 * period > budget {
        n -= 1;
    }
    let total = 0.4 + 0.5 + n as f64 * period + 0.5 + 0.3;
    let ws = 0.9;
    let we = ws + n as f64 * period;
    let frames = build(total, |t, fr| {
        let e = arm_env(t, 0.4, total - 0.3, 0.5);
        let osc = if t > ws && t < we {
            (2.0 * PI * (t - ws) / period).sin() * smooth((t - ws) / 0.15).min(smooth((we - t) / 0.15))
        } else {
            0.0
        };
        for s in sides_of(which) {
            let up = Arm::angles(
                s,
                deg(20.0),
                deg(80.0),
                deg(95.0) + deg(28.0) * osc,
                v3(0.0, 1.0, 0.0),
            );
            fr.arms[s] = Arm::rest(s).lerp(&up, e);
        }
        if which != "both" {
            let s = sides_of(which)[0];
            fr.head.z += sgn(s) * deg(6.0) * e;
            fr.spine.y -= sgn(s) * deg(3.0) * e;
        }
        idle_life(fr, t, 0.3, 0.5);
    });
    part(
        "wave",
        vec![("side", PVal::Str(which)), ("count", PVal::Int(n as i64))],
        frames,
    )
}

fn clap(rng: &mut Rng, budget: f64) -> Part {
    let mut n = rng.int(2, 6) as usize;
    let period = rng.range(0.35, 0.5);
    while n > 2 && 1.6 + n as f64 * period > budget {
        n -= 1;
    }
    let cs = 0.85;
    let ce = cs + n as f64 * period;
    let total = ce + 0.8;
    let frames = build(total, |t, fr| {
        let e = arm_env(t, 0.35, total - 0.25, 0.45);
        // Apart → together (contact at the end of each period) → apart.
        let ph = ((t - cs) / period).clamp(0.0, n as f64);
        let open = if t > cs - period * 0.5 && t < ce {
            0.5 - 0.5 * (2.0 * PI * ph).cos()
        } else {
            1.0
        };
        let open = 1.0 - (1.0 - open) * smooth((t - (cs - 0.3)) / 0.3);
        for s in [LEFT, RIGHT] {
            let x = sgn(s) * (0.035 + 0.17 * open);
            let together = Arm::reach(v3(x, 0.02, 0.36), v3(sgn(s), -0.7, -0.2));
            fr.arms[s] = Arm::rest(s).lerp(&together, e);
        }
        idle_life(fr, t, 0.6, 0.4);
    });
    part("clap", vec![("count", PVal::Int(n as i64))], frames)
}

fn guard(s: usize) -> Arm {
    Arm::reach(v3(sgn(s) * 0.13, 0.17, 0.24), v3(sgn(s), -1.0, -0.2))
}

fn punch(rng: &mut Rng, budget: f64) -> Part {
    let which = which_arms(rng);
    let mut n = rng.int(1, 5) as usize;
    let period = rng.range(0.45, 0.65);
    while n > 1 && 1.5 + n as f64 * period > budget {
        n -= 1;
    }
    let ps = 0.9;
    let total = ps + n as f64 * period + 0.8;
    let first = pick_side(rng);
    let frames = build(total, |t, fr| {
        let e = arm_env(t, 0.3, total - 0.2, 0.45);
        fr.feet = [
            super::body::stance_foot(LEFT, V3::ZERO, 0.0, 0.14),
            super::body::stance_foot(RIGHT, V3::ZERO, 0.0, 0.14),
        ];
        fr.feet[LEFT].ankle.z += 0.08;
        fr.feet[RIGHT].ankle.z -= 0.08;
        root_over_feet(fr, 0.5);
        fr.root.y -= 0.03 * e;
        let mut arms = [guard(LEFT), guard(RIGHT)];
        for k in 0..n {
            let s = match which {
                "left" => LEFT,
                "right" => RIGHT,
                _ => (first + k) % 2,
            };
            let a = ps + k as f64 * period;
            let ext = if t < a {
                0.0
            } else if t < a + 0.14 {
                smooth((t - a) / 0.14)
            } else {
                1.0 - smooth((t - a - 0.14) / (period * 0.6))
            };
            let hit = Arm::reach(v3(sgn(s) * 0.06, 0.2, 0.66), v3(sgn(s), -0.3, -1.0));
            arms[s] = arms[s].lerp(&hit, ext);
            fr.spine.z -= sgn(s) * deg(18.0) * ext;
            fr.pelvis.z -= sgn(s) * deg(8.0) * ext;
            fr.head.z += sgn(s) * deg(14.0) * ext;
        }
        for s in [LEFT, RIGHT] {
            fr.arms[s] = Arm::rest(s).lerp(&arms[s], e);
        }
        fr.spine.x += deg(6.0) * e;
    });
    let side = if which == "both" { "both" } else { which };
    part(
        "punch",
        vec![("side", PVal::Str(side)), ("count", PVal::Int(n as i64))],
        frames,
    )
}

fn kick(rng: &mut Rng, budget: f64) -> Part {
    let side = pick_side(rng);
    let mut n = if rng.chance(0.7) { 1 } else { 2 };
    let height = rng.range(0.35, 0.8);
    let period = 1.5;
    while n > 1 && 1.6 + n as f64 * period > budget {
        n -= 1;
    }
    let ks = 0.8;
    let total = ks + n as f64 * period + 0.6;
    let st = 1 - side;
    let frames = build(total, |t, fr| {
        let e = window(t, 0.3, total - 0.3, 0.4);
        // Weight on the stance foot.
        root_over_feet(
            fr,
            if st == LEFT {
                0.5 + 0.45 * e
            } else {
                0.5 - 0.45 * e
            },
        );
        let base = fr.feet[side];
        let hip = v3(sgn(side) * 0.08, STAND_Y - 0.08, 0.0);
        let mut lift = 0.0;
        let mut ext = 0.0;
        for k in 0..n {
            let a = ks + k as f64 * period;
            lift += window(t, a, a + period * 0.85, 0.3);
            ext += window(t, a + 0.3, a + 0.85, 0.16);
        }
        let chamber = hip + v3(0.0, -0.52, 0.25);
        let elev = -0.8 + 0.9 * height;
        let extended = hip + v3(0.0, elev, (0.8f64 * 0.8 - elev * elev).max(0.04).sqrt());
        let target = base.ankle.lerp(chamber.lerp(extended, ext), lift);
        fr.feet[side] = Foot {
            ankle: target,
            yaw: sgn(side) * deg(3.0),
            pitch: -deg(35.0) * lift,
        };
        fr.pelvis.x -= deg(8.0) * lift + deg(6.0) * ext;
        fr.spine.x -= deg(6.0) * ext;
        fr.pelvis.y += sgn(st) * deg(3.0) * e;
        for s in [LEFT, RIGHT] {
            let bal = Arm::angles(s, deg(30.0), deg(35.0), deg(70.0), v3(-sgn(s), 0.3, 0.5));
            fr.arms[s] = Arm::rest(s).lerp(&bal, e.max(lift));
        }
    });
    part(
        "kick",
        vec![("side", PVal::Str(side_name(side))), ("count", PVal::Int(n))],
        frames,
    )
}

fn raise_arms(rng: &mut Rng, budget: f64) -> Part {
    let which = which_arms(rng);
    let dir = rng.pick_str(&["forward", "sideways", "up"]);
    let hold = rng.range(0.6, 2.0).min(budget - 3.0).max(0.3);
    let rise = rng.range(0.7, 1.1);
    let total = 0.4 + rise + hold + rise + 0.4;
    let frames = build(total, |t, fr| {
        let e = window(t, 0.4, total - 0.4, rise);
        for s in sides_of(which) {
            // Interpolate through the angles so the hand travels on an arc, not a chord.
            let a = match dir {
                "forward" => Arm::angles(
                    s,
                    deg(4.0) + deg(84.0) * e,
                    deg(8.0),
                    deg(12.0),
                    v3(0.0, 1.0, 0.0),
                ),
                "sideways" => Arm::angles(
                    s,
                    deg(4.0),
                    deg(7.0) + deg(81.0) * e,
                    deg(12.0),
                    v3(0.0, 1.0, 0.0),
                ),
                _ => Arm::angles(
                    s,
                    deg(4.0) + deg(166.0) * e,
                    deg(10.0),
                    deg(12.0),
                    v3(0.0, 0.0, -1.0),
                ),
            };
            fr.arms[s] = a;
        }
        if dir == "up" {
            fr.head.x -= deg(10.0) * e;
        }
        idle_life(fr, t, 0.1, 0.4);
    });
    part(
        "raise_arms",
        vec![("side", PVal::Str(which)), ("direction", PVal::Str(dir))],
        frames,
    )
}

fn arm_circles(rng: &mut Rng, budget: f64) -> Part {
    let mut n = rng.int(2, 6) as usize;
    let forward = rng.chance(0.5);
    let big = rng.chance(0.4);
    let period = if big {
        rng.range(0.9, 1.2)
    } else {
        rng.range(0.55, 0.8)
    };
    while n > 2 && 1.8 + n as f64 * period > budget {
        n -= 1;
    }
    let cs = 1.0;
    let ce = cs + n as f64 * period;
    let total = ce + 0.9;
    let r = if big { deg(32.0) } else { deg(16.0) };
    let frames = build(total, |t, fr| {
        let e = window(t, 0.3, total - 0.3, 0.6);
        let th = 2.0 * PI * ((t - cs) / period).clamp(0.0, n as f64) * if forward { 1.0 } else { -1.0 };
        let amp = r * smooth((t - cs + 0.3) / 0.4).min(smooth((ce + 0.3 - t) / 0.4));
        for s in [LEFT, RIGHT] {
            let flex = amp * th.sin();
            let abd = deg(85.0) + amp * (1.0 - th.cos());
            let out = Arm::angles(s, flex, abd, deg(5.0), v3(0.0, 1.0, 0.0));
            let rest = Arm::angles(
                s,
                deg(4.0),
                deg(7.0) + deg(78.0) * e,
                deg(10.0),
                v3(0.0, 1.0, 0.0),
            );
            fr.arms[s] = rest.lerp(&out, smooth((e - 0.9) / 0.1));
        }
        idle_life(fr, t, 0.8, 0.3);
    });
    part(
        "arm_circles",
        vec![
            ("count", PVal::Int(n as i64)),
            (
                "direction",
                PVal::Str(if forward { "forward" } else { "backward" }),
            ),
            ("size", PVal::Str(if big { "big" } else { "small" })),
        ],
        frames,
    )
}

fn bow(rng: &mut Rng, budget: f64) -> Part {
    let deep = rng.chance(0.5);
    let angle = if deep {
        rng.range(55.0, 75.0)
    } else {
        rng.range(25.0, 40.0)
    };
    let hold = rng.range(0.4, 1.5).min(budget - 3.0).max(0.3);
    let go = rng.range(0.7, 1.0);
    let total = 0.5 + go + hold + go * 1.2 + 0.5;
    let hands_front = rng.chance(0.4);
    let frames = build(total, |t, fr| {
        let e = if t < 0.5 + go + hold {
            minjerk(progress(t, 0.5, 0.5 + go))
        } else {
            1.0 - minjerk(progress(t, 0.5 + go + hold, total - 0.5))
        };
        let a = deg(angle) * e;
        fr.pelvis.x += a * 0.55;
        fr.spine.x += a * 0.45;
        fr.head.x += deg(12.0) * e;
        fr.root.z -= 0.1 * (a.sin());
        for s in [LEFT, RIGHT] {
            fr.arms[s] = if hands_front {
                Arm::rest(s).lerp(
                    &Arm::reach(v3(sgn(s) * 0.03, -0.38, 0.18), v3(sgn(s), 0.0, -1.0)),
                    smooth(e * 3.0),
                )
            } else {
                Arm::angles(s, deg(4.0) - a * 0.5, deg(5.0), deg(8.0), v3(0.0, 0.0, 1.0))
            };
        }
    });
    part(
        "bow",
        vec![("depth", PVal::Str(if deep { "deep" } else { "slight" }))],
        frames,
    )
}

fn look_around(rng: &mut Rng, budget: f64) -> Part {
    let first = pick_side(rng);
    let n = if rng.chance(0.5) { 1 } else { 2 };
    let seg = rng.range(1.1, 1.5);
    let total = (0.5 + 2.0 * n as f64 * seg + 0.6).min(budget);
    let frames = build(total, |t, fr| {
        let ph = ((t - 0.5) / (2.0 * seg)).clamp(0.0, n as f64);
        let env = window(t, 0.4, total - 0.5, 0.6);
        let yaw = (2.0 * PI * ph).sin() * env * sgn(first);
        fr.head.z += deg(55.0) * yaw;
        fr.spine.z += deg(22.0) * yaw;
        fr.pelvis.z += deg(6.0) * yaw;
        fr.head.x += deg(5.0) * (4.0 * PI * ph).sin() * env;
        idle_life(fr, t, 0.2, 0.6);
    });
    part(
        "look_around",
        vec![
            ("direction", PVal::Str(side_name(first))),
            ("count", PVal::Int(n)),
        ],
        frames,
    )
}

fn side_bend(rng: &mut Rng, budget: f64) -> Part {
    let first = pick_side(rng);
    let mut n = rng.int(1, 3) as usize;
    let seg = rng.range(1.6, 2.2);
    while n > 1 && 1.0 + n as f64 * seg > budget {
        n -= 1;
    }
    let total = 0.5 + n as f64 * seg + 0.5;
    let frames = build(total, |t, fr| {
        fr.feet = [
            super::body::stance_foot(LEFT, V3::ZERO, 0.0, 0.16),
            super::body::stance_foot(RIGHT, V3::ZERO, 0.0, 0.16),
        ];
        let mut roll = 0.0;
        for k in 0..n {
            let a = 0.5 + k as f64 * seg;
            let s = if k % 2 == 0 { sgn(first) } else { -sgn(first) };
            roll += s * window(t, a, a + seg, seg * 0.4);
        }
        fr.spine.y += deg(32.0) * roll;
        fr.pelvis.y += deg(4.0) * roll;
        fr.root.x -= 0.05 * roll;
        for s in [LEFT, RIGHT] {
            // The arm on the far side of the bend goes overhead.
            let over = (-roll * sgn(s)).max(0.0);
            let up = Arm::angles(s, deg(10.0), deg(165.0), deg(25.0), v3(-sgn(s), 0.0, 0.0));
            let hip = Arm::angles(s, deg(4.0), deg(12.0), deg(10.0), v3(0.0, 0.0, 1.0));
            fr.arms[s] = hip.lerp(&up, smooth(over * 1.3));
        }
    });
    part(
        "side_bend",
        vec![
            ("direction", PVal::Str(side_name(first))),
            ("count", PVal::Int(n as i64)),
        ],
        frames,
    )
}

fn balance(rng: &mut Rng, budget: f64) -> Part {
    let side = pick_side(rng); // standing leg
    let lifted = 1 - side;
    let hold = rng.range(1.5, 3.5).min(budget - 2.4).max(0.5);
    let knee_front = rng.chance(0.6);
    let total = 0.5 + 0.7 + hold + 0.7 + 0.5;
    let frames = build(total, |t, fr| {
        let e = window(t, 0.5, total - 0.5, 0.7);
        root_over_feet(
            fr,
            if side == LEFT {
                0.5 + 0.5 * e
            } else {
                0.5 - 0.5 * e
            },
        );
        fr.root.x -= sgn(side) * 0.015 * e;
        let hip = v3(sgn(lifted) * 0.08, STAND_Y - 0.08, 0.0);
        let up = if knee_front {
            hip + v3(0.0, -0.5, 0.2)
        } else {
            hip + v3(0.0, -0.55, -0.3)
        };
        let base = fr.feet[lifted];
        fr.feet[lifted] = Foot {
            ankle: base.ankle.lerp(up, e),
            yaw: base.yaw,
            pitch: -deg(30.0) * e,
        };
        let wob = (2.0 * PI * t * 0.7).sin() * e;
        fr.pelvis.y += sgn(side) * deg(3.0) * e + deg(1.5) * wob;
        fr.spine.y -= deg(3.0) * wob;
        for s in [LEFT, RIGHT] {
            let out = Arm::angles(
                s,
                deg(8.0),
                deg(72.0) + deg(6.0) * wob * sgn(s),
                deg(15.0),
                v3(0.0, 1.0, 0.0),
            );
            fr.arms[s] = Arm::rest(s).lerp(&out, e);
        }
    });
    part("balance", vec![("side", PVal::Str(side_name(side)))], frames)
}

fn throw(rng: &mut Rng, _budget: f64) -> Part {
    let side = pick_side(rng); // throwing hand
    let st = 1 - side; // foot that steps forward
    let overhand = rng.chance(0.75);
    let t0 = 0.5;
    let wind = t0 + 0.7;
    let release = wind + 0.3;
    let follow = release + 0.5;
    let back = follow + 0.9;
    let total = back + 0.4;
    let mut tracks = [
        FootTrack::standing(LEFT, V3::ZERO, 0.0, 0.1),
        FootTrack::standing(RIGHT, V3::ZERO, 0.0, 0.1),
    ];
    let fwd = plant_pos(st, v3(0.0, 0.0, 0.35), 0.0, 0.12, 0.0);
    let mut p = Plant::new(0.0, NEVER, fwd, sgn(st) * deg(10.0));
    p.heel = deg(10.0);
    p.swing_h = 0.08;
    tracks[st].step(wind - 0.25, release - 0.05, p);
    let home = tracks[st].plants[0];
    let mut ph = home;
    ph.swing_h = 0.06;
    tracks[st].step(follow + 0.2, back - 0.05, ph);
    let frames = build(total, |t, fr| {
        fr.feet = [tracks[0].eval(t), tracks[1].eval(t)];
        let w_fwd =
            smooth(progress(t, wind - 0.2, release + 0.1)) * (1.0 - smooth(progress(t, follow, back)));
        root_over_feet(
            fr,
            if st == LEFT {
                0.5 * (1.0 + w_fwd) - 0.2 * (1.0 - w_fwd) * window(t, t0, release, 0.3)
            } else {
                0.5 * (1.0 - w_fwd) + 0.2 * (1.0 - w_fwd) * window(t, t0, release, 0.3)
            },
        );
        let cock = window(t, t0, release, 0.35) * (1.0 - smooth(progress(t, wind, release)));
        let thr = smooth(progress(t, wind, release)) * (1.0 - smooth(progress(t, follow, back)));
        let s = sgn(side);
        fr.spine.z += s * (deg(35.0) * cock - deg(30.0) * thr);
        fr.pelvis.z += s * (deg(15.0) * cock - deg(15.0) * thr);
        fr.spine.x += deg(18.0) * thr - deg(8.0) * cock;
        fr.head.z -= s * (deg(30.0) * cock - deg(25.0) * thr);
        let cocked = if overhand {
            Arm::reach(
                shoulder_in_chest(side) + v3(s * 0.12, 0.2, -0.25),
                v3(s, -0.5, -0.2),
            )
        } else {
            Arm::reach(
                shoulder_in_chest(side) + v3(s * 0.1, -0.45, -0.3),
                v3(s, 0.0, -0.5),
            )
        };
        let released = if overhand {
            Arm::reach(
                shoulder_in_chest(side) + v3(-s * 0.05, 0.05, 0.55),
                v3(s, -1.0, 0.0),
            )
        } else {
            Arm::reach(
                shoulder_in_chest(side) + v3(-s * 0.0, -0.15, 0.55),
                v3(s, -1.0, 0.0),
            )
        };
        let through = Arm::reach(v3(-s * 0.15, -0.35, 0.25), v3(s, -0.2, -0.5));
        let rel_w = window(t, wind + 0.15, follow, 0.12);
        let mut a = Arm::rest(side).lerp(&cocked, cock);
        a = a.lerp(&released, rel_w);
        a = a.lerp(
            &through,
            smooth(progress(t, release + 0.1, follow)) * (1.0 - smooth(progress(t, follow, back))),
        );
        fr.arms[side] = a;
        let guide = Arm::angles(1 - side, deg(60.0), deg(20.0), deg(40.0), v3(0.0, 1.0, 0.0));
        fr.arms[1 - side] = Arm::rest(1 - side).lerp(&guide, cock);
    });
    part(
        "throw",
        vec![
            ("side", PVal::Str(side_name(side))),
            (
                "style",
                PVal::Str(if overhand { "overhand" } else { "underhand" }),
            ),
        ],
        frames,
    )
}

fn pick_up(rng: &mut Rng, budget: f64) -> Part {
    let side = pick_side(rng);
    let dist = rng.range(0.3, 0.42);
    let squat = rng.chance(0.5);
    let down = rng.range(1.0, 1.4);
    let pause = rng.range(0.3, 0.7);
    let up = rng.range(1.0, 1.3);
    let hold = rng.range(0.5, 1.2).min((budget - 4.5).max(0.3));
    let t1 = 0.5;
    let t2 = t1 + down;
    let t3 = t2 + pause;
    let t4 = t3 + up;
    let t5 = t4 + hold;
    let total = t5 + 0.8;
    let frames = build(total, |t, fr| {
        let e = if t < t3 {
            minjerk(progress(t, t1, t2))
        } else {
            1.0 - minjerk(progress(t, t3, t4))
        };
        fr.feet = [
            super::body::stance_foot(LEFT, V3::ZERO, 0.0, 0.12),
            super::body::stance_foot(RIGHT, V3::ZERO, 0.0, 0.12),
        ];
        if squat {
            fr.root.y = STAND_Y - 0.52 * e;
            fr.root.z -= 0.12 * e;
            fr.pelvis.x += deg(38.0) * e;
            fr.spine.x += deg(32.0) * e;
            fr.knee_out = deg(16.0) * e;
        } else {
            fr.root.y = STAND_Y - 0.36 * e;
            fr.root.z -= 0.16 * e;
            fr.pelvis.x += deg(55.0) * e;
            fr.spine.x += deg(40.0) * e;
            fr.knee_out = deg(6.0) * e;
        }
        fr.head.x -= deg(10.0) * e;
        let s = sgn(side);
        let obj = v3(s * 0.12, 0.05, dist);
        let grab = window(t, t1 + 0.3 * down, t3 + 0.35 * up, 0.4);
        let mut a = Arm::rest(side);
        a.world = obj;
        a.world_w = grab;
        // After lifting: hold the object in front of the chest.
        let held = Arm::reach(v3(s * 0.08, -0.05, 0.33), v3(s, -1.0, -0.3));
        let h = window(t, t3 + 0.5 * up, total - 0.1, 0.5);
        fr.arms[side] = a.lerp(&held, h);
        let other = Arm::angles(
            1 - side,
            deg(15.0) + deg(30.0) * e,
            deg(12.0),
            deg(30.0),
            v3(0.0, 0.0, 1.0),
        );
        fr.arms[1 - side] = other;
    });
    part("pick_up", vec![("side", PVal::Str(side_name(side)))], frames)
}

fn dance(rng: &mut Rng, budget: f64) -> Part {
    let first = pick_side(rng); // direction of the first step
    let mut n = rng.int(2, 4) as usize;
    let beat = rng.range(0.42, 0.55);
    while n > 1 && 1.2 + n as f64 * 4.0 * beat > budget {
        n -= 1;
    }
    let claps = rng.chance(0.4);
    let span = 0.32;
    let mut tracks = [
        FootTrack::standing(LEFT, V3::ZERO, 0.0, 0.1),
        FootTrack::standing(RIGHT, V3::ZERO, 0.0, 0.1),
    ];
    // Step-touch: step to one side, touch the other foot beside it, step back, touch.
    let t0 = 0.5;
    let mut c = V3::ZERO;
    let mut centers = vec![(t0, V3::ZERO)];
    for k in 0..2 * n {
        let dir = if k % 2 == 0 { sgn(first) } else { -sgn(first) };
        let lead = if dir > 0.0 { LEFT } else { RIGHT };
        let trail = 1 - lead;
        let a = t0 + k as f64 * 2.0 * beat;
        c += v3(dir * span, 0.0, 0.0);
        let mut p = Plant::new(
            0.0,
            NEVER,
            plant_pos(lead, c, 0.0, 0.12, 0.03),
            sgn(lead) * deg(8.0),
        );
        p.swing_h = 0.05;
        p.heel = -deg(10.0);
        tracks[lead].step(a, a + 0.6 * beat, p);
        let mut q = Plant::new(
            0.0,
            NEVER,
            plant_pos(trail, c, 0.0, 0.08, 0.03),
            sgn(trail) * deg(8.0),
        );
        q.swing_h = 0.06;
        q.heel = -deg(15.0);
        q.tip = -deg(18.0);
        tracks[trail].step(a + beat, a + 1.6 * beat, q);
        centers.push((a + 0.8 * beat, c));
    }
    let end_t = t0 + 2.0 * n as f64 * 2.0 * beat;
    let total = end_t + 0.6;
    // The trailing foot's final touch becomes a flat stance.
    for tr in tracks.iter_mut() {
        if let Some(l) = tr.plants.last_mut() {
            l.tip = 0.0;
        }
    }
    let cx = super::track::Curve::new(&centers.iter().map(|(t, c)| (*t, c.x)).collect::<Vec<_>>());
    let frames = build(total, |t, fr| {
        fr.feet = [tracks[0].eval(t), tracks[1].eval(t)];
        let e = window(t, 0.3, total - 0.2, 0.4);
        fr.root.x = cx.at(t);
        fr.root.z = 0.03;
        let bounce = (2.0 * PI * (t - t0) / beat).cos();
        fr.root.y = STAND_Y - (0.035 + 0.02 * bounce) * e;
        let sway = (PI * (t - t0) / (2.0 * beat)).sin() * sgn(first) * e;
        fr.pelvis.y -= deg(6.0) * sway;
        fr.spine.y += deg(8.0) * sway;
        fr.head.y -= deg(4.0) * sway;
        for s in [LEFT, RIGHT] {
            fr.arms[s] = if claps {
                let open = 0.5 + 0.5 * (2.0 * PI * (t - t0) / (2.0 * beat)).cos();
                Arm::rest(s).lerp(
                    &Arm::reach(
                        v3(sgn(s) * (0.04 + 0.15 * open), 0.05, 0.35),
                        v3(sgn(s), -0.8, -0.2),
                    ),
                    e,
                )
            } else {
                let swing = Arm::angles(
                    s,
                    deg(35.0) + deg(25.0) * sway * sgn(s),
                    deg(20.0),
                    deg(90.0),
                    v3(0.0, 1.0, 0.0),
                );
                Arm::rest(s).lerp(&swing, e)
            };
        }
    });
    part(
        "dance",
        vec![
            ("count", PVal::Int(n as i64)),
            ("direction", PVal::Str(side_name(first))),
        ],
        frames,
    )
}

fn stand(rng: &mut Rng, budget: f64) -> Part {
    let dur = rng.range(2.0, 5.0).min(budget);
    let ph = rng.f();
    let crossed = rng.chance(0.25);
    let frames = build(dur, |t, fr| {
        idle_life(fr, t, ph, 1.0);
        if crossed {
            let e = window(t, 0.0, dur, 0.6);
            for s in [LEFT, RIGHT] {
                let arm = Arm::reach(v3(-sgn(s) * 0.1, -0.12, 0.2), v3(sgn(s), -0.8, 0.0));
                fr.arms[s] = Arm::rest(s).lerp(&arm, e);
            }
        }
    });
    part(
        "stand",
        vec![("arms", PVal::Str(if crossed { "crossed" } else { "relaxed" }))],
        frames,
    )
}

/// Idle standing used around and between actions (not a caption subject of its own).
pub fn idle(rng: &mut Rng, dur: f64) -> Vec<Frame> {
    let ph = rng.f();
    build(dur, |t, fr| idle_life(fr, t, ph, 0.6 * window(t, 0.0, dur, 0.3)))
}
