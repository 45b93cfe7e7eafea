//! One corpus motion: pick a family (or a composition "A then B (then C)"), add idle standing
//! before/after, chain the parts with cross-faded transitions, and resolve to joints.

use super::body::{Frame, resolve};
use super::families::{FAMILIES, FPS, Part, family, idle};
use super::math::{V3, smooth};
use super::rng::Rng;

/// Frames of a motion must lie in this range (HumanML3D's 40 ≤ len < 200, at most 196).
pub const MIN_FRAMES: usize = 40;
/// Longest motion (49 tokens × 4 frames).
pub const MAX_FRAMES: usize = 196;
/// Cross-fade length between chained parts, frames.
const BLEND: usize = 6;

/// A part placed in the final clip: frames `[start, end)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    pub part: Part,
    pub start: usize,
    pub end: usize,
}

/// A complete motion before resolution.
#[derive(Debug, Clone, PartialEq)]
pub struct Motion {
    /// Family name, or `"sequence"` for compositions.
    pub family: String,
    /// The actions, in order, with their frame ranges (idle padding excluded).
    pub parts: Vec<Placed>,
    /// Pose frames.
    pub frames: Vec<Frame>,
}

impl Motion {
    /// Joint positions of every frame.
    pub fn joints(&self) -> Vec<[V3; 22]> {
        self.frames.iter().map(resolve).collect()
    }
}

/// Appends `next` to `out`, moved so that it starts where `out` ends, cross-fading `BLEND`
/// frames. Returns the index in `out` where `next`'s first frame landed.
fn append(out: &mut Vec<Frame>, next: &[Frame]) -> usize {
    if out.is_empty() {
        out.extend_from_slice(next);
        return 0;
    }
    let last = out[out.len() - 1];
    let first = next[0];
    // Align `next`'s start (root xz and heading) with the end of `out`.
    let dyaw = last.yaw - first.yaw;
    let moved_first = first.transformed(dyaw, V3::ZERO);
    let shift = last.root - moved_first.root;
    let moved: Vec<Frame> = next.iter().map(|f| f.transformed(dyaw, shift)).collect();
    let k = BLEND.min(out.len()).min(moved.len());
    let start = out.len() - k;
    for i in 0..k {
        let w = smooth((i as f64 + 1.0) / (k as f64 + 1.0));
        let a = out[start + i];
        out[start + i] = a.lerp(&moved[i], w);
    }
    out.extend_from_slice(&moved[k..]);
    start
}

/// Names of the single-action families.
pub fn single_names() -> Vec<&'static str> {
    FAMILIES.iter().map(|f| f.name).collect()
}

/// Generates motion `index` of a corpus with `seed`. `allowed` lists the families that may be
/// used (single families by name, `"sequence"` for compositions); empty means all.
pub fn generate(seed: u64, index: u64, allowed: &[String], composite_fraction: f64) -> Motion {
    let mut rng = Rng::for_item(seed, index);
    let singles: Vec<&'static str> = single_names()
        .into_iter()
        .filter(|n| allowed.is_empty() || allowed.iter().any(|a| a == n))
        .collect();
    let seq_ok = allowed.is_empty() || allowed.iter().any(|a| a == "sequence");
    let composite = seq_ok && (singles.is_empty() || rng.chance(composite_fraction));
    let pool: Vec<&'static str> = if singles.is_empty() {
        single_names()
    } else {
        singles
    };
    for _attempt in 0..8 {
        let pre = if rng.chance(0.7) { rng.range(0.3, 1.0) } else { 0.0 };
        let post = if rng.chance(0.7) { rng.range(0.3, 1.0) } else { 0.0 };
        let budget = MAX_FRAMES as f64 / FPS - pre - post - 0.2;
        let names: Vec<&'static str> = if composite {
            let n = if rng.chance(0.7) { 2 } else { 3 };
            let mut v: Vec<&'static str> = Vec::new();
            while v.len() < n {
                let c = *rng.pick(&pool);
                if c != "stand" && v.last() != Some(&c) {
                    v.push(c);
                }
            }
            v
        } else {
            // Balanced coverage: cycle through the families by index.
            vec![pool[(index as usize) % pool.len()]]
        };
        let mut parts: Vec<Part> = Vec::new();
        let mut left = budget;
        for (k, name) in names.iter().enumerate() {
            let fam = match family(name) {
                Some(f) => f,
                None => continue,
            };
            let share = left / (names.len() - k) as f64;
            let b = if composite { share.max(2.5) } else { left };
            let p = (fam.generate)(&mut rng, b);
            left -= p.frames.len() as f64 / FPS;
            parts.push(p);
        }
        let mut frames: Vec<Frame> = Vec::new();
        let mut placed = Vec::new();
        if pre > 0.0 {
            append(&mut frames, &idle(&mut rng, pre));
        }
        for p in parts.iter() {
            let start = append(&mut frames, &p.frames);
            let end = frames.len();
            placed.push(Placed {
                part: p.clone(),
                start,
                end,
            });
        }
        if post > 0.0 {
            append(&mut frames, &idle(&mut rng, post));
        }
        while frames.len() < MIN_FRAMES {
            append(&mut frames, &idle(&mut rng, 0.8));
        }
        if frames.len() > MAX_FRAMES {
            // Too long: draw again (the stream has advanced, so the draw differs).
            continue;
        }
        return Motion {
            family: if composite {
                "sequence".into()
            } else {
                names[0].to_string()
            },
            parts: placed,
            frames,
        };
    }
    // Fallback that always fits: a short standing clip.
    let mut frames = idle(&mut rng, 2.5);
    frames.truncate(MAX_FRAMES);
    let stand = family("stand").map(|f| (f.generate)(&mut rng, 3.0));
    let parts = match stand {
        Some(p) => {
            let start = append(&mut frames, &p.frames);
            vec![Placed {
                part: p,
                start,
                end: frames.len(),
            }]
        }
        None => Vec::new(),
    };
    frames.truncate(MAX_FRAMES);
    Motion {
        family: "stand".into(),
        parts,
        frames,
    }
}
