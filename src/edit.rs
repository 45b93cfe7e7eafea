//! Temporal inpainting: regenerate frame spans of an existing motion from a new text, keeping
//! the rest (spec §3.8 and the official `edit_t2m.py`).
//!
//! ```text
//! source features ─normalise, zero-pad to 196 frames─▶ VQ encode (whole padded grid)
//!   ─▶ base ids; slots inside the spans become [MASK] (slots past the source length stay as encoded)
//!   ─▶ mask-predict over the spans only (schedule counts the span length; default 18 steps)
//!   ─▶ residual layers for every valid slot (guidance 2, as the reference)
//!   ─▶ VQ decode over the whole padded grid ─▶ first F frames ─▶ joints
//! ```
//!
//! Kept frames change only through the VQ round trip (the source is re-encoded) and the
//! regenerated residual layers, exactly as in the reference.

use burn::tensor::{Tensor, TensorData};

use crate::Error;
use crate::generate::{
    FixedSlots, GenerateOptions, Hooks, MaskState, Motion, Progress, Trace, decode_stage, feature_layout,
    mask_predict_loop, residual_layers_fixed,
};
use crate::model::MoMask;
use crate::motion::JointPositions;
use crate::motion::recover::{denormalize, recover_from_ric};
use crate::sample::rng::Rng;
use crate::seam::{Baseline, SeamMetric, baseline, seam_metrics};

/// Settings of an edit. Sampling defaults are `edit_t2m.py`'s: 18 steps, guidance 4 then 2.
#[derive(Debug, Clone, PartialEq)]
pub struct EditOptions {
    pub generate: GenerateOptions,
    /// Slots outside the spans keep all the source's residual codes, and only the spans'
    /// residual layers are predicted (from that history): kept frames then differ from the
    /// source by the VQ round trip alone, except within the decoder's reach of a span. `false`
    /// regenerates every slot's residual layers under the new text, as `edit_t2m.py` does
    /// (kept frames move further; measured in `tests/edit.rs`); the parity tests use that.
    pub keep_source_residuals: bool,
}

impl Default for EditOptions {
    fn default() -> Self {
        Self {
            generate: GenerateOptions {
                steps: 18,
                res_cond_scale: 2.0,
                ..GenerateOptions::default()
            },
            keep_source_residuals: true,
        }
    }
}

impl EditOptions {
    /// The defaults with `model`'s guidance scales (those its bundle sets replace 4 and 2).
    pub fn for_model(model: &MoMask) -> Self {
        let defaults = Self::default();
        Self {
            generate: model.guidance().apply(defaults.generate),
            ..defaults
        }
    }
}

/// Token slots `[start, end)` of a frame span `[start, end)`, as the reference: `frame / 4`.
pub fn span_slots(start_frame: usize, end_frame: usize, unit: usize) -> (usize, usize) {
    (start_frame / unit, end_frame / unit)
}

/// Checks an edit's source (whole, finite `dim`-d frames, 4..=196 of them) and spans
/// (non-empty, within the source) before anything runs.
pub fn check(model: &MoMask, source: &[f32], spans: &[(usize, usize)]) -> Result<(), Error> {
    check_up_to(model, source, spans, model.config.max_motion_length)
}

/// [`check`] for sources of up to `max_frames` frames.
fn check_up_to(
    model: &MoMask,
    source: &[f32],
    spans: &[(usize, usize)],
    max_frames: usize,
) -> Result<(), Error> {
    let dim = model.config.vq.dim_pose;
    let unit = model.unit_length();
    if source.is_empty() || !source.len().is_multiple_of(dim) {
        return Err(Error::invalid(
            "source",
            format!("{} values is not a whole number of {dim}-d frames", source.len()),
        ));
    }
    let frames = source.len() / dim;
    if frames / unit == 0 || frames > max_frames {
        return Err(Error::invalid(
            "source",
            format!("{frames} frames is outside {unit}..={max_frames}"),
        ));
    }
    if let Some(i) = source.iter().position(|v| !v.is_finite()) {
        return Err(Error::invalid(
            "source",
            format!("value {} (frame {}) is not finite", i % dim, i / dim),
        ));
    }
    for &(a, b) in spans {
        if a >= b || b > frames {
            return Err(Error::invalid(
                "spans",
                format!("[{a}, {b}) is not a non-empty range within 0..{frames}"),
            ));
        }
    }
    Ok(())
}

/// Regenerates `spans` (frame ranges, end exclusive) of `source` — de-normalised features
/// `[frames, dim]` — from `text`. Returns the edited motion (same frame count as the source,
/// rounded down to a multiple of 4).
pub async fn edit(
    model: &MoMask,
    source: &[f32],
    spans: &[(usize, usize)],
    text: &str,
    opts: &EditOptions,
    hooks: &mut Hooks<'_>,
    mut trace: Option<&mut Trace>,
) -> Result<Motion, Error> {
    let g = &opts.generate;
    g.validate()?;
    check(model, source, spans)?;
    let dim = model.config.vq.dim_pose;
    let unit = model.unit_length();
    let max_frames = model.config.max_motion_length;
    let frames = source.len() / dim;
    let tokens = frames / unit;
    // 1. Normalise and zero-pad (zeros = the mean pose) to the longest motion, then encode.
    let n = max_frames / unit;
    let (codes, [_, n_enc, q]) = encode_padded(model, source).await?;
    debug_assert_eq!(n_enc, n);
    let source_base: Vec<i64> = (0..n).map(|i| codes[i * q]).collect();
    // 2. The edit mask over the slot grid, without padded slots.
    let mut in_span = vec![false; n];
    for &(a, b) in spans {
        let (s, e) = span_slots(a, b, unit);
        for slot in in_span.iter_mut().take(e.min(tokens)).skip(s) {
            *slot = true;
        }
    }
    let edit_len = in_span.iter().filter(|&&m| m).count();
    let text_tokens = model.tokenize(&[text])?;
    hooks.report(Progress::Text)?;
    let cond = model.encode_tokens(&text_tokens);
    if let Some(t) = trace.as_deref_mut() {
        t.clip_tokens = text_tokens.clone();
        t.text_features = crate::nn::read_f32(cond.clone()).await?;
        t.source_ids = codes.clone();
    }
    if edit_len == 0 {
        // Nothing to regenerate: the source itself, untouched.
        let kept = tokens * unit;
        let features = source[..kept * dim].to_vec();
        let joints = recover_from_ric(&features, kept, &feature_layout(model))?;
        hooks.report(Progress::Done)?;
        return Ok(Motion {
            text: text.to_string(),
            tokens,
            ids: codes[..tokens * q].to_vec(),
            features,
            joints,
            fps: model.config.dataset.fps(),
        });
    }
    let mut rng = Rng::new(g.seed);
    let base = {
        // 3. Mask-predict inside the spans; every other slot keeps its source id.
        let mask_id = model.config.mask.num_tokens as i64;
        let ids = (0..n)
            .map(|i| if in_span[i] { mask_id } else { source_base[i] })
            .collect();
        let scores = (0..n).map(|i| if in_span[i] { 0.0 } else { 1e5 }).collect();
        let state = MaskState {
            lengths: vec![tokens],
            counted: vec![edit_len],
            n,
            ids,
            scores,
        };
        mask_predict_loop(
            model,
            state,
            cond.clone(),
            g,
            &mut rng,
            hooks,
            trace.as_deref_mut(),
        )
        .await?
    };
    // 4. Residual layers, conditioned on the new text: inside the spans, or (the reference)
    // over every valid slot.
    let kept_slots: Vec<bool> = (0..n).map(|i| i < tokens && !in_span[i]).collect();
    let fixed = FixedSlots {
        slots: &kept_slots,
        ids: &codes,
    };
    let ids = residual_layers_fixed(
        model,
        &[tokens],
        base,
        cond,
        g,
        &mut rng,
        hooks,
        trace.as_deref_mut(),
        opts.keep_source_residuals.then_some(&fixed),
    )
    .await?;
    hooks.report(Progress::Decode)?;
    // 5. Decode the whole padded grid (the tail is in the decoder's receptive field), keep F frames.
    let out = decode_stage(model, &ids, 1).await?;
    let kept = tokens * unit;
    let features = denormalize(&out[..kept * dim], &model.mean, &model.std)?;
    if let Some(t) = trace {
        t.decoder_out = out[..kept * dim].to_vec();
    }
    let joints = recover_from_ric(&features, kept, &feature_layout(model))?;
    hooks.report(Progress::Done)?;
    Ok(Motion {
        text: text.to_string(),
        tokens,
        ids: ids[..tokens * q].to_vec(),
        features,
        joints,
        fps: model.config.dataset.fps(),
    })
}

/// Frames either side of a span left out when checking that kept frames are unchanged: the VQ
/// decoder's receptive field spreads a changed token over its neighbours (2 tokens = 8 frames).
pub const KEPT_MARGIN: usize = 8;

/// Features (de-normalised, `(F − 1) × 263`) of a 22-joint motion in metres, Y up, 20 fps, as
/// `momask generate` writes it; the source of an edit given as joints.
pub fn features_from_joints(joints: &JointPositions) -> Result<Vec<f32>, Error> {
    use crate::motion::extract::joints_to_features;
    use crate::motion::layout::HUMANML3D;
    use crate::motion::skeleton::Skeleton;
    if joints.joints != 22 {
        return Err(Error::invalid(
            "source",
            format!(
                "{} joints; only 22-joint (HumanML3D) motions can be edited",
                joints.joints
            ),
        ));
    }
    Ok(joints_to_features(joints, &HUMANML3D, &Skeleton::humanml3d())?)
}

/// SMPL-ordered joint positions of a BVH written by momask (22 joints).
pub fn joints_from_bvh(text: &str) -> Result<JointPositions, Error> {
    use crate::motion::bvh::{RE_ORDER_INV, parse_bvh};
    let fk = parse_bvh(text)?.fk_positions();
    if fk.joints != 22 {
        return Err(Error::invalid(
            "source",
            format!(
                "the BVH has {} joints; only momask's 22-joint BVH files can be edited",
                fk.joints
            ),
        ));
    }
    let mut smpl = JointPositions::zeros(fk.frames, 22);
    for t in 0..fk.frames {
        for (smpl_j, &bvh_j) in RE_ORDER_INV.iter().enumerate() {
            smpl.set(t, smpl_j, fk.get(t, bvh_j));
        }
    }
    Ok(smpl)
}

/// Seams of an edit: the first regenerated frame and the first kept frame after each span
/// (token-aligned, as the edit works on tokens), inside the motion.
pub fn seam_frames(spans: &[(usize, usize)], frames: usize, unit: usize) -> Vec<(usize, &'static str)> {
    let mut out = Vec::new();
    for &(a, b) in spans {
        let (s, e) = span_slots(a, b, unit);
        if s * unit > 0 && s < e {
            out.push((s * unit, "span start"));
        }
        if e * unit < frames && s < e {
            out.push((e * unit, "span end"));
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// All-layer codes of a de-normalised source (at most `max_motion_length` frames), normalised
/// and zero-padded (zeros = the mean pose) to the longest motion: `[1, N_max, Q]`.
async fn encode_padded(model: &MoMask, source: &[f32]) -> Result<(Vec<i64>, [usize; 3]), Error> {
    let dim = model.config.vq.dim_pose;
    let max_frames = model.config.max_motion_length;
    let mut padded = vec![0f32; max_frames * dim];
    for (i, v) in source.iter().enumerate() {
        let d = i % dim;
        padded[i] = (v - model.mean[d]) / model.std[d];
    }
    let motion = Tensor::<3>::from_data(TensorData::new(padded, [1, max_frames, dim]), &model.device);
    model.vq.encode(motion).await
}

/// The source after the VQ round trip alone (normalise, pad, encode, decode every layer,
/// de-normalise): how much an edit changes frames it keeps even before anything is
/// regenerated. `[frames rounded down to 4, dim]`.
pub async fn round_trip(model: &MoMask, source: &[f32]) -> Result<Vec<f32>, Error> {
    let dim = model.config.vq.dim_pose;
    let max_frames = model.config.max_motion_length;
    let frames = source.len() / dim;
    if frames == 0 || frames > max_frames || !source.len().is_multiple_of(dim) {
        return Err(Error::invalid(
            "source",
            format!("{frames} frames is outside 1..={max_frames}"),
        ));
    }
    let kept = frames / model.unit_length() * model.unit_length();
    let (codes, [_, n, q]) = encode_padded(model, source).await?;
    let out = crate::nn::read_f32(model.vq.decode_ids(&codes, 1, n, q)).await?;
    Ok(denormalize(&out[..kept * dim], &model.mean, &model.std)?)
}

/// Mean per-joint error (mm) of the root-relative, heading-aligned joint positions (the RIC
/// part of the features, plus the root height) over `frames` of two feature sequences. World
/// positions after a span are shifted by the span's new root path, so they are not compared.
pub fn pose_error_mm(a: &[f32], b: &[f32], dim: usize, frames: &[usize]) -> f32 {
    let layout = crate::motion::layout::HUMANML3D;
    let ric = layout.ric_range();
    let (mut sum, mut count) = (0.0f64, 0usize);
    for &t in frames {
        let (ra, rb) = (&a[t * dim..(t + 1) * dim], &b[t * dim..(t + 1) * dim]);
        sum += (ra[3] - rb[3]).abs() as f64;
        for (pa, pb) in ra[ric.clone()]
            .chunks_exact(3)
            .zip(rb[ric.clone()].chunks_exact(3))
        {
            let d: f32 = (0..3).map(|k| (pa[k] - pb[k]).powi(2)).sum();
            sum += d.sqrt() as f64;
        }
        count += layout.joints;
    }
    if count == 0 {
        0.0
    } else {
        (sum / count as f64 * 1000.0) as f32
    }
}

/// Frames outside every span (with [`KEPT_MARGIN`]) of a `frames`-long edit.
pub fn kept_frames(spans: &[(usize, usize)], frames: usize, unit: usize) -> Vec<usize> {
    (0..frames)
        .filter(|&t| {
            spans.iter().all(|&(a, b)| {
                let (s, e) = span_slots(a, b, unit);
                t + KEPT_MARGIN < s * unit || t >= e * unit + KEPT_MARGIN
            })
        })
        .collect()
}

/// What an edit did: seams, and how far kept frames moved compared with the VQ round trip.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EditReport {
    pub seams: Vec<SeamMetric>,
    /// The seam statistic away from the seams (see [`crate::seam::baseline`]).
    pub baseline: Option<Baseline>,
    /// Pose error (mm) of the kept frames: edited vs source.
    pub kept_error_mm: f32,
    /// Pose error (mm) of the same frames after the VQ round trip alone.
    pub round_trip_error_mm: f32,
    /// How many frames were compared.
    pub kept_frames: usize,
}

/// Measures an edit (see [`EditReport`]).
pub async fn report(
    model: &MoMask,
    source: &[f32],
    spans: &[(usize, usize)],
    edited: &Motion,
) -> Result<EditReport, Error> {
    let dim = model.config.vq.dim_pose;
    let unit = model.unit_length();
    let frames = edited.frames();
    let mut seams = seam_frames(spans, frames, unit);
    let mut kept = kept_frames(spans, frames, unit);
    let rt = match edit_window(model, source.len() / dim, spans)? {
        None => round_trip(model, source).await?,
        Some(w) => {
            // Only the window went through the VQ; outside it the source is copied.
            for (f, kind) in [(w.replace.0, "window"), (w.replace.1, "window")] {
                if f > 0 && f < frames {
                    seams.push((f, kind));
                }
            }
            seams.sort_unstable();
            kept.retain(|&t| t >= w.replace.0 && t < w.replace.1);
            let inner = round_trip(model, &source[w.start * dim..(w.start + w.len) * dim]).await?;
            let mut full = source[..frames * dim].to_vec();
            full[w.start * dim..(w.start + w.len) * dim].copy_from_slice(&inner);
            full
        }
    };
    let plain: Vec<usize> = seams.iter().map(|s| s.0).collect();
    Ok(EditReport {
        seams: seam_metrics(&edited.joints, &seams),
        baseline: baseline(&edited.joints, &plain),
        kept_error_mm: pose_error_mm(source, &edited.features, dim, &kept),
        round_trip_error_mm: pose_error_mm(source, &rt, dim, &kept),
        kept_frames: kept.len(),
    })
}

/// Frames on each side of the spans over which a long motion cross-fades from its own features
/// into the edited window's (which differ there by the VQ round trip) and back.
pub const LONG_EDIT_MARGIN: usize = 16;

/// Where a long source is edited: the model window `[start, start + len)` (token-aligned) and
/// the frames `[replace.0, replace.1)` taken from the edited window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EditWindow {
    pub start: usize,
    pub len: usize,
    pub replace: (usize, usize),
}

/// The window for editing `spans` of a `frames`-long source: `None` when the whole source fits
/// the model (the plain [`edit`]); an error when the spans do not fit one window with margins.
pub fn edit_window(
    model: &MoMask,
    frames: usize,
    spans: &[(usize, usize)],
) -> Result<Option<EditWindow>, Error> {
    let unit = model.unit_length();
    let len = model.config.max_motion_length / unit * unit;
    if frames <= model.config.max_motion_length || spans.is_empty() {
        return Ok(None);
    }
    let kept = frames / unit * unit;
    let lo = spans.iter().map(|s| s.0).min().unwrap_or(0);
    let hi = spans.iter().map(|s| s.1).max().unwrap_or(0);
    let room = len - 2 * LONG_EDIT_MARGIN;
    if hi - lo > room {
        return Err(Error::invalid(
            "spans",
            format!(
                "frames {lo}..{hi} of a {frames}-frame motion do not fit one {len}-frame window \
                 ({room} frames plus {LONG_EDIT_MARGIN} either side); edit them one at a time"
            ),
        ));
    }
    // Centred on the spans, inside the motion, on the token grid (so the spans' slots are the
    // same tokens as in the whole motion).
    let centred = ((lo + hi) / 2).saturating_sub(len / 2).min(kept - len);
    let start = centred / unit * unit;
    let replace = (
        lo.saturating_sub(LONG_EDIT_MARGIN).max(start),
        (hi + LONG_EDIT_MARGIN).min(start + len).min(kept),
    );
    Ok(Some(EditWindow { start, len, replace }))
}

/// [`edit`] for sources of any length (up to the long-motion limit): a motion longer than one
/// window is edited inside the 196-frame window around the spans, whose frames near the spans
/// replace the source's; the root path is then recovered once over the whole motion. `ids` holds
/// the window's codes and −1 elsewhere (those frames are the source's own features).
pub async fn edit_any(
    model: &MoMask,
    source: &[f32],
    spans: &[(usize, usize)],
    text: &str,
    opts: &EditOptions,
    hooks: &mut Hooks<'_>,
) -> Result<Motion, Error> {
    check_any(model, source, spans)?;
    let dim = model.config.vq.dim_pose;
    let unit = model.unit_length();
    let long = source.len() / dim > model.config.max_motion_length;
    let Some(w) = edit_window(model, source.len() / dim, spans)? else {
        if !long {
            return edit(model, source, spans, text, opts, hooks, None).await;
        }
        // No span: the source itself, as `edit` does for short motions.
        let frames = source.len() / dim / unit * unit;
        let features = source[..frames * dim].to_vec();
        let joints = recover_from_ric(&features, frames, &feature_layout(model))?;
        hooks.report(Progress::Done)?;
        return Ok(Motion {
            text: text.to_string(),
            tokens: frames / unit,
            ids: vec![-1; frames / unit * model.config.vq.num_quantizers],
            features,
            joints,
            fps: model.config.dataset.fps(),
        });
    };
    let shifted: Vec<(usize, usize)> = spans.iter().map(|&(a, b)| (a - w.start, b - w.start)).collect();
    let window = &source[w.start * dim..(w.start + w.len) * dim];
    let edited = edit(model, window, &shifted, text, opts, hooks, None).await?;
    let frames = source.len() / dim / unit * unit;
    let mut features = source[..frames * dim].to_vec();
    // Cross-fade from the source into the edited window over the margins: the window's frames
    // there differ from the source by the VQ round trip, and a hard switch would be a cut. The
    // features are root velocities and root-relative positions, so a blend of two nearby poses
    // is itself a plausible pose.
    let (r0, r1) = w.replace;
    let ramp = LONG_EDIT_MARGIN as f32;
    for t in r0..r1 {
        let into = (t - r0) as f32 + 0.5;
        let out_of = (r1 - t) as f32 - 0.5;
        let weight = (into / ramp).min(out_of / ramp).clamp(0.0, 1.0);
        let e = &edited.features[(t - w.start) * dim..(t - w.start + 1) * dim];
        for (f, &v) in features[t * dim..(t + 1) * dim].iter_mut().zip(e) {
            *f += weight * (v - *f);
        }
    }
    let joints = recover_from_ric(&features, frames, &feature_layout(model))?;
    let q = model.config.vq.num_quantizers;
    let mut ids = vec![-1i64; frames / unit * q];
    ids[w.start / unit * q..w.start / unit * q + edited.ids.len()].copy_from_slice(&edited.ids);
    Ok(Motion {
        text: text.to_string(),
        tokens: frames / unit,
        ids,
        features,
        joints,
        fps: model.config.dataset.fps(),
    })
}

/// [`check`] for [`edit_any`]: sources up to the long-motion limit, and spans that fit a window.
pub fn check_any(model: &MoMask, source: &[f32], spans: &[(usize, usize)]) -> Result<(), Error> {
    let max = (crate::long::MAX_SECONDS * model.config.dataset.fps() as f64) as usize;
    check_up_to(model, source, spans, max)?;
    edit_window(model, source.len() / model.config.vq.dim_pose, spans).map(|_| ())
}
