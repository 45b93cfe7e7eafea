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
    GenerateOptions, Hooks, MaskState, Motion, Progress, Trace, decode_stage, feature_layout,
    mask_predict_loop, residual_layers,
};
use crate::model::MoMask;
use crate::motion::recover::{denormalize, recover_from_ric};
use crate::sample::rng::Rng;

/// Settings of an edit. Defaults are `edit_t2m.py`'s: 18 steps, guidance 4 then 2.
#[derive(Debug, Clone, PartialEq)]
pub struct EditOptions {
    pub generate: GenerateOptions,
}

impl Default for EditOptions {
    fn default() -> Self {
        Self {
            generate: GenerateOptions {
                steps: 18,
                res_cond_scale: 2.0,
                ..GenerateOptions::default()
            },
        }
    }
}

/// Token slots `[start, end)` of a frame span `[start, end)`, as the reference: `frame / 4`.
pub fn span_slots(start_frame: usize, end_frame: usize, unit: usize) -> (usize, usize) {
    (start_frame / unit, end_frame / unit)
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
    let dim = model.config.vq.dim_pose;
    let unit = model.unit_length();
    let max_frames = model.config.max_motion_length;
    if source.is_empty() || !source.len().is_multiple_of(dim) {
        return Err(Error::invalid(
            "source",
            format!("{} values is not a whole number of {dim}-d frames", source.len()),
        ));
    }
    let frames = source.len() / dim;
    let tokens = frames / unit;
    if tokens == 0 || frames > max_frames {
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
    // 1. Normalise and zero-pad (zeros = the mean pose) to the longest motion, then encode.
    let n = max_frames / unit;
    let mut padded = vec![0f32; max_frames * dim];
    for (i, v) in source.iter().enumerate() {
        let d = i % dim;
        padded[i] = (v - model.mean[d]) / model.std[d];
    }
    let motion = Tensor::<3>::from_data(TensorData::new(padded, [1, max_frames, dim]), &model.device);
    let (codes, [_, n_enc, q]) = model.vq.encode(motion).await?;
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
    // 4. Residual layers over every valid slot, conditioned on the new text.
    let ids = residual_layers(
        model,
        &[tokens],
        base,
        cond,
        g,
        &mut rng,
        hooks,
        trace.as_deref_mut(),
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
