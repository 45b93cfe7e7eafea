//! Long motions: any duration, from one prompt or a timeline of prompts ("walk 4 s, then jump,
//! then sit"), beyond the transformers' 196 frames.
//!
//! ```text
//! timeline ─▶ token boundaries (cumulative seconds × fps / 4, rounded: no drift)
//!   ─▶ windows of ≤ 49 tokens, left to right; window k = the last C tokens generated so far
//!      (context, kept) + up to 49 − C new tokens of one segment's prompt
//!   ─▶ per window: mask-predict only the new slots (the edit path: context ids in place,
//!      scores 1e5), residual layers with the context's codes fixed in every layer
//!   ─▶ one long token sequence [T, Q] ─▶ ONE VQ decode (the conv decoder has no length limit and
//!      smooths across windows) ─▶ de-normalise ─▶ ONE recover_from_ric ─▶ joints
//! ```
//!
//! Why the root trajectory is continuous: the 263-d features hold root *velocities* (yaw rate,
//! planar velocity in the facing frame) and root-relative joints. Recovering the whole sequence
//! once integrates heading and position across every window, so there is no per-window origin
//! to align. Decoding the whole sequence once means no feature-space blending either.

use burn::tensor::Tensor;
use thiserror::Error;

use crate::Error;
use crate::generate::{
    FixedSlots, GenerateOptions, Hooks, MaskState, Motion, Progress, decode_stage, feature_layout,
    mask_predict_loop, residual_layers_fixed,
};
use crate::model::MoMask;
use crate::motion::recover::{denormalize, recover_from_ric};
use crate::sample::rng::Rng;
use crate::seam::{Baseline, SeamMetric, baseline, seam_metrics};

/// Longest timeline accepted (5 minutes): bounds memory and time in the browser.
pub const MAX_SECONDS: f64 = 300.0;
/// Most segments in one timeline.
pub const MAX_SEGMENTS: usize = 100;
/// Tokens of the previous window each new window sees by default (8 tokens = 32 frames, 1.6 s).
/// Chosen by measurement (demo model, 3 timelines × 4–8 seeds): the worst seam ratio was 3.7 with
/// 8 tokens against 6.2 with 12, 4.3 with 16 and 6.3 with 6.
pub const DEFAULT_CONTEXT: usize = 8;

/// One prompt of a timeline and how long it lasts.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub text: String,
    pub seconds: f64,
}

/// Prompts played one after another.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Timeline {
    pub segments: Vec<Segment>,
}

/// Why a timeline was refused.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum TimelineError {
    #[error("the timeline has no segment")]
    Empty,
    #[error("the timeline has {0} segments; at most {MAX_SEGMENTS} are allowed")]
    TooManySegments(usize),
    #[error("segment {index}: the prompt is empty")]
    EmptyText { index: usize },
    #[error("segment {index}: '{entry}' has no duration; write `text#4s` (seconds) or `text#80f` (frames)")]
    MissingDuration { index: usize, entry: String },
    #[error("segment {index}: '{value}' is not a duration; write e.g. `4s`, `2.5s` or `80f`")]
    BadDuration { index: usize, value: String },
    #[error("segment {index}: {seconds} s is not a positive, finite duration")]
    NonPositive { index: usize, seconds: f64 },
    #[error("segment {index}: {seconds:.2} s is shorter than one token ({min:.2} s)")]
    TooShort { index: usize, seconds: f64, min: f64 },
    #[error("the timeline lasts {seconds:.1} s; at most {MAX_SECONDS} s are allowed")]
    TooLong { seconds: f64 },
    #[error("context: {context} tokens leaves no room for new tokens in a {max}-token window")]
    BadContext { context: usize, max: usize },
}

impl Timeline {
    /// One prompt for `seconds`.
    pub fn single(text: impl Into<String>, seconds: f64) -> Self {
        Self {
            segments: vec![Segment {
                text: text.into(),
                seconds,
            }],
        }
    }

    /// Parses `text#4s; text#2.5s; text#80f` — segments separated by `;` or new lines, each
    /// `prompt#duration` with the unit written: `s` (seconds) or `f` (frames at `fps`). Blank
    /// entries and `//` comment lines are skipped.
    pub fn parse(s: &str, fps: f32) -> Result<Self, TimelineError> {
        let mut segments = Vec::new();
        let entries = s
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .flat_map(|l| l.split(';'))
            .map(str::trim)
            .filter(|e| !e.is_empty());
        for (index, entry) in entries.enumerate() {
            let Some((text, dur)) = entry.rsplit_once('#') else {
                return Err(TimelineError::MissingDuration {
                    index,
                    entry: entry.to_string(),
                });
            };
            let dur = dur.trim();
            let bad = || TimelineError::BadDuration {
                index,
                value: dur.to_string(),
            };
            let seconds = if let Some(v) = dur.strip_suffix('s') {
                v.trim().parse::<f64>().map_err(|_| bad())?
            } else if let Some(v) = dur.strip_suffix('f') {
                v.trim().parse::<usize>().map_err(|_| bad())? as f64 / fps as f64
            } else {
                return Err(bad());
            };
            segments.push(Segment {
                text: text.trim().to_string(),
                seconds,
            });
        }
        let t = Self { segments };
        t.check_shape()?;
        Ok(t)
    }

    pub fn seconds(&self) -> f64 {
        self.segments.iter().map(|s| s.seconds).sum()
    }

    fn check_shape(&self) -> Result<(), TimelineError> {
        if self.segments.is_empty() {
            return Err(TimelineError::Empty);
        }
        if self.segments.len() > MAX_SEGMENTS {
            return Err(TimelineError::TooManySegments(self.segments.len()));
        }
        for (index, s) in self.segments.iter().enumerate() {
            if s.text.trim().is_empty() {
                return Err(TimelineError::EmptyText { index });
            }
            if !s.seconds.is_finite() || s.seconds <= 0.0 {
                return Err(TimelineError::NonPositive {
                    index,
                    seconds: s.seconds,
                });
            }
        }
        let total = self.seconds();
        if total > MAX_SECONDS {
            return Err(TimelineError::TooLong { seconds: total });
        }
        Ok(())
    }

    /// Token index where each segment ends, from cumulative seconds (rounded to the nearest
    /// token, so rounding never accumulates). Every segment must get at least one token.
    pub fn token_bounds(&self, fps: f32, unit: usize) -> Result<Vec<usize>, TimelineError> {
        self.check_shape()?;
        let per_token = unit as f64 / fps as f64;
        let mut bounds = Vec::with_capacity(self.segments.len());
        let (mut acc, mut prev) = (0.0f64, 0usize);
        for (index, s) in self.segments.iter().enumerate() {
            acc += s.seconds;
            let end = (acc / per_token).round() as usize;
            if end <= prev {
                return Err(TimelineError::TooShort {
                    index,
                    seconds: s.seconds,
                    min: per_token,
                });
            }
            bounds.push(end);
            prev = end;
        }
        Ok(bounds)
    }
}

/// Settings of a long generation.
#[derive(Debug, Clone, PartialEq)]
pub struct LongOptions {
    pub generate: GenerateOptions,
    /// Tokens of already generated motion each window sees (and keeps).
    pub context_tokens: usize,
}

impl Default for LongOptions {
    fn default() -> Self {
        Self {
            generate: GenerateOptions::default(),
            context_tokens: DEFAULT_CONTEXT,
        }
    }
}

impl LongOptions {
    /// The defaults with `model`'s guidance scales.
    pub fn for_model(model: &crate::MoMask) -> Self {
        Self {
            generate: model.default_options(),
            ..Self::default()
        }
    }
}

/// One window of a long generation, in tokens of the whole motion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Window {
    /// First context token (= `new_start` for the first window).
    pub start: usize,
    /// First generated token.
    pub new_start: usize,
    /// One past the last generated token.
    pub end: usize,
    /// Timeline segment whose prompt it used.
    pub segment: usize,
}

/// Windows covering `bounds` (segment end tokens) with `context` tokens of overlap, each at most
/// `max_tokens` long.
pub fn plan_windows(
    bounds: &[usize],
    context: usize,
    max_tokens: usize,
) -> Result<Vec<Window>, TimelineError> {
    if context >= max_tokens {
        return Err(TimelineError::BadContext {
            context,
            max: max_tokens,
        });
    }
    let mut windows = Vec::new();
    let mut pos = 0;
    for (segment, &end) in bounds.iter().enumerate() {
        while pos < end {
            let ctx = context.min(pos);
            let remaining = end - pos;
            let mut new = remaining.min(max_tokens - ctx);
            // Avoid a sliver window at the end of a segment: leave the next one at least half
            // a window of new tokens.
            let next_room = (max_tokens - context) / 2;
            let rest = remaining - new;
            if rest > 0 && rest < next_room {
                new = remaining - next_room;
            }
            windows.push(Window {
                start: pos - ctx,
                new_start: pos,
                end: pos + new,
                segment,
            });
            pos += new;
        }
    }
    Ok(windows)
}

/// A long motion with where it was stitched and how smooth the stitches are.
#[derive(Debug, Clone)]
pub struct LongMotion {
    pub motion: Motion,
    pub windows: Vec<Window>,
    /// Frame where each segment starts.
    pub segment_starts: Vec<usize>,
    /// One per window after the first (kind `"segment"` where a new prompt starts).
    pub seams: Vec<SeamMetric>,
    /// The seam statistic away from seams, for comparison.
    pub baseline: Option<Baseline>,
}

/// Generates a timeline (see the module docs). Deterministic for a seed on every backend.
pub async fn generate_timeline(
    model: &MoMask,
    timeline: &Timeline,
    opts: &LongOptions,
    hooks: &mut Hooks<'_>,
) -> Result<LongMotion, Error> {
    let g = &opts.generate;
    g.validate()?;
    let unit = model.unit_length();
    let fps = model.config.dataset.fps();
    let bounds = timeline.token_bounds(fps, unit)?;
    let windows = plan_windows(&bounds, opts.context_tokens, model.config.max_tokens())?;
    let total = *bounds.last().unwrap_or(&0);
    let q = model.config.vq.num_quantizers;
    let mask_id = model.config.mask.num_tokens as i64;

    let texts: Vec<&str> = timeline.segments.iter().map(|s| s.text.as_str()).collect();
    let tokens = model.tokenize(&texts)?;
    hooks.report(Progress::Text)?;
    let conds = model.encode_tokens(&tokens);
    let mut rng = Rng::new(g.seed);
    // Codes of the whole motion [total, Q], filled window by window.
    let mut all = vec![-1i64; total * q];
    for (k, w) in windows.iter().enumerate() {
        hooks.report(Progress::Window {
            window: k + 1,
            windows: windows.len(),
        })?;
        let n = w.end - w.start;
        let ctx = w.new_start - w.start;
        let cond: Tensor<2> = conds.clone().narrow(0, w.segment, 1);
        let ids = (0..n)
            .map(|i| if i < ctx { all[(w.start + i) * q] } else { mask_id })
            .collect();
        let scores = (0..n).map(|i| if i < ctx { 1e5 } else { 0.0 }).collect();
        let state = MaskState {
            lengths: vec![n],
            counted: vec![n - ctx],
            n,
            ids,
            scores,
        };
        let base = mask_predict_loop(model, state, cond.clone(), g, &mut rng, hooks, None).await?;
        let slots: Vec<bool> = (0..n).map(|i| i < ctx).collect();
        let fixed_ids = all[w.start * q..w.end * q].to_vec();
        let fixed = FixedSlots {
            slots: &slots,
            ids: &fixed_ids,
        };
        let out =
            residual_layers_fixed(model, &[n], base, cond, g, &mut rng, hooks, None, Some(&fixed)).await?;
        all[w.new_start * q..w.end * q].copy_from_slice(&out[ctx * q..n * q]);
    }
    hooks.report(Progress::Decode)?;
    let dim = model.config.vq.dim_pose;
    let normalised = decode_stage(model, &all, 1).await?;
    let frames = total * unit;
    let features = denormalize(&normalised[..frames * dim], &model.mean, &model.std)?;
    let joints = recover_from_ric(&features, frames, &feature_layout(model))?;
    let mut segment_starts = vec![0];
    segment_starts.extend(bounds.iter().take(bounds.len() - 1).map(|b| b * unit));
    let seam_frames: Vec<(usize, &'static str)> = windows
        .iter()
        .skip(1)
        .map(|w| {
            let f = w.new_start * unit;
            (
                f,
                if segment_starts.contains(&f) {
                    "segment"
                } else {
                    "window"
                },
            )
        })
        .collect();
    let seams = seam_metrics(&joints, &seam_frames);
    let plain: Vec<usize> = seam_frames.iter().map(|s| s.0).collect();
    let baseline = baseline(&joints, &plain);
    hooks.report(Progress::Done)?;
    Ok(LongMotion {
        motion: Motion {
            text: texts.join(" / "),
            tokens: total,
            ids: all,
            features,
            joints,
            fps,
        },
        windows,
        segment_starts,
        seams,
        baseline,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_syntax() {
        let t = Timeline::parse("walk forward#4s; jump#2.5s\n// comment\nsit down # 60f", 20.0).unwrap();
        assert_eq!(t.segments.len(), 3);
        assert_eq!(t.segments[0].text, "walk forward");
        assert_eq!(t.segments[1].seconds, 2.5);
        assert_eq!(t.segments[2].seconds, 3.0);
        assert_eq!(t.token_bounds(20.0, 4).unwrap(), vec![20, 33, 48]);
    }

    #[test]
    fn bad_timelines_are_typed_errors() {
        use TimelineError::*;
        let p = |s: &str| Timeline::parse(s, 20.0).map(|_| ()).unwrap_err();
        assert_eq!(p(""), Empty);
        assert!(matches!(p("walk"), MissingDuration { index: 0, .. }));
        assert!(matches!(p("walk#4s; jump#4"), BadDuration { index: 1, .. }));
        assert!(matches!(p("walk#abcs"), BadDuration { .. }));
        assert!(matches!(p("#4s"), EmptyText { index: 0 }));
        assert!(matches!(p("walk#0s"), NonPositive { .. }));
        assert!(matches!(p("walk#-1s"), NonPositive { .. }));
        assert!(matches!(p("walk#infs"), NonPositive { .. }));
        assert!(matches!(p("walk#400s"), TooLong { .. }));
        let short = Timeline::parse("walk#4s; jump#0.05s", 20.0).unwrap();
        assert!(matches!(
            short.token_bounds(20.0, 4),
            Err(TooShort { index: 1, .. })
        ));
        assert!(matches!(plan_windows(&[10], 49, 49), Err(BadContext { .. })));
    }

    #[test]
    fn windows_cover_every_token_once_and_respect_segments() {
        let bounds = [50, 60, 150];
        let w = plan_windows(&bounds, 12, 49).unwrap();
        let mut next = 0;
        for win in &w {
            assert_eq!(win.new_start, next);
            assert!(win.end - win.start <= 49);
            assert!(win.new_start - win.start <= 12);
            assert!(win.end <= bounds[win.segment]);
            assert!(win.segment == 0 || win.new_start >= bounds[win.segment - 1]);
            next = win.end;
        }
        assert_eq!(next, 150);
        assert_eq!(
            w[0],
            Window {
                start: 0,
                new_start: 0,
                end: 32,
                segment: 0
            }
        );
        assert_eq!(
            w[1],
            Window {
                start: 20,
                new_start: 32,
                end: 50,
                segment: 0
            }
        );
        assert!(w.iter().all(|win| win.end - win.new_start >= 10), "{w:?}");
    }
}
