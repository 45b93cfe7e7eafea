//! Text → motion: the full MoMask sampling pipeline (spec §3.7, §4.5, §9.1).
//!
//! ```text
//! text ─tokenize─▶ text encoder (CLIP once, up to EOT; or MiniLM: mean pool + L2 norm)
//!      ─▶ length (given, or length estimator)
//!      ─▶ mask-predict over the base layer: S steps, cosine schedule, CFG (cond+uncond as one batch of 2B)
//!      ─▶ residual layers 1..Q−1, one CFG pass each
//!      ─▶ VQ decode ─▶ de-normalise ─▶ recover_from_ric ─▶ joints (frames, 22, 3)
//! ```
//!
//! Networks run on the model's device; token bookkeeping and draws run on the host from
//! read-back logits (one async read-back per step), so every backend samples from the same
//! seeded RNG stream.
//!
//! A [`GuidanceHelper`] (in the browser: a second Web Worker holding the same model) may take
//! the unconditional half of each guided pass; its logits are the ones this process would
//! compute, so the result does not depend on whether or when a helper answers.

use std::future::Future;
use std::pin::Pin;

use burn::tensor::{Bool, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::model::MoMask;
use crate::motion::JointPositions;
use crate::motion::layout::FeatureLayout;
use crate::motion::recover::{denormalize, recover_from_ric};
use crate::nn::read_f32;
use crate::sample::rng::Rng;
use crate::sample::sampler::{Draw, draw, softmax_at};
use crate::sample::schedule::{mask_probabilities, masked_count, top_k_count};

/// Requested motion length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Length {
    /// Exact frame count (rounded down to a multiple of 4, as the reference).
    Frames(usize),
    /// Predicted by the length estimator.
    Auto,
}

/// One prompt to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub text: String,
    pub length: Length,
}

impl Request {
    pub fn new(text: impl Into<String>, length: Length) -> Self {
        Self {
            text: text.into(),
            length,
        }
    }
}

/// How the VQ decoder treats a batch of different lengths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BatchDecode {
    /// Decode the whole padded batch at once, as the reference does: the padded tail (zero
    /// codes) then nudges the last frames of shorter samples (spec §10 item 22).
    #[default]
    Padded,
    /// Decode each sample at its own length: a batch gives the same motion as batch size 1.
    PerSample,
}

/// Sampling settings. Defaults follow the paper's evaluation setting (10 steps, guidance 4/5,
/// top-k 0.9, temperature 1, categorical draws).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GenerateOptions {
    /// Mask-predict iterations.
    pub steps: usize,
    /// Classifier-free guidance scale of the masked transformer.
    pub cond_scale: f32,
    /// Classifier-free guidance scale of the residual transformer.
    pub res_cond_scale: f32,
    /// Sampling temperature of the masked transformer.
    pub temperature: f32,
    /// Temperature of the residual draws (the reference fixes it at 1).
    pub res_temperature: f32,
    /// Keep the top `ceil((1 − topk)·V)` logits before drawing.
    pub topk: f64,
    /// Draw for the base layer (the residual layers use Gumbel, or argmax when greedy).
    pub draw: Draw,
    /// Sample the length from the estimator's softmax (reference) rather than taking the argmax.
    pub sample_length: bool,
    pub seed: u64,
    pub batch_decode: BatchDecode,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            steps: 10,
            cond_scale: 4.0,
            res_cond_scale: 5.0,
            temperature: 1.0,
            res_temperature: 1.0,
            topk: 0.9,
            draw: Draw::Categorical,
            sample_length: true,
            seed: 10107,
            batch_decode: BatchDecode::Padded,
        }
    }
}

/// The guidance scales a model was tuned for, carried in its bundle header (`guidance`): each
/// one set replaces the paper's default (4 for the masked transformer, 5 for the residual one)
/// wherever a caller leaves that option out (CLI, browser package, edits, timelines, `eval`).
/// Models differ here as the official ones do: the README samples HumanML3D at 4 and KIT at 2.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Guidance {
    pub cond_scale: Option<f32>,
    pub res_cond_scale: Option<f32>,
}

impl Guidance {
    pub fn is_empty(&self) -> bool {
        self.cond_scale.is_none() && self.res_cond_scale.is_none()
    }

    /// `opts` with the scales this sets.
    pub fn apply(&self, opts: GenerateOptions) -> GenerateOptions {
        GenerateOptions {
            cond_scale: self.cond_scale.unwrap_or(opts.cond_scale),
            res_cond_scale: self.res_cond_scale.unwrap_or(opts.res_cond_scale),
            ..opts
        }
    }

    /// The ranges [`GenerateOptions::validate`] accepts.
    pub fn validate(&self) -> Result<(), Error> {
        self.apply(GenerateOptions::default()).validate()
    }
}

impl GenerateOptions {
    /// Deterministic argmax decoding everywhere (lengths too): the mode parity tests use.
    pub fn greedy() -> Self {
        Self {
            draw: Draw::Greedy,
            sample_length: false,
            ..Self::default()
        }
    }

    pub fn is_greedy(&self) -> bool {
        self.draw == Draw::Greedy
    }

    /// Checks every option; errors name the option and its valid range.
    pub fn validate(&self) -> Result<(), Error> {
        if self.steps == 0 || self.steps > 1000 {
            return Err(Error::invalid(
                "steps",
                format!("{} is outside 1..=1000", self.steps),
            ));
        }
        for (name, v) in [
            ("condScale", self.cond_scale),
            ("resCondScale", self.res_cond_scale),
        ] {
            if !v.is_finite() || !(0.0..=100.0).contains(&v) {
                return Err(Error::invalid(name, format!("{v} is outside 0..=100")));
            }
        }
        for (name, v) in [
            ("temperature", self.temperature),
            ("resTemperature", self.res_temperature),
        ] {
            if !v.is_finite() || v <= 0.0 || v > 100.0 {
                return Err(Error::invalid(name, format!("{v} must be > 0 and ≤ 100")));
            }
        }
        if !self.topk.is_finite() || !(0.0..1.0).contains(&self.topk) {
            return Err(Error::invalid("topk", format!("{} is outside [0, 1)", self.topk)));
        }
        Ok(())
    }
}

/// What generation is doing, for progress bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "stage", rename_all = "lowercase")]
pub enum Progress {
    Text,
    Length,
    /// Long motions: window `window` of `windows` starts (its mask and residual steps follow).
    Window {
        window: usize,
        windows: usize,
    },
    Mask {
        step: usize,
        steps: usize,
    },
    Residual {
        layer: usize,
        layers: usize,
    },
    Decode,
    Done,
}

/// Progress reporting, cooperative cancellation (checked between steps) and an optional
/// helper for the unconditional half of classifier-free guidance.
pub struct Hooks<'a> {
    pub progress: &'a mut dyn FnMut(Progress),
    pub cancelled: &'a dyn Fn() -> bool,
    pub guidance: Option<&'a dyn GuidanceHelper>,
}

impl<'a> Hooks<'a> {
    /// Hooks without a guidance helper.
    pub fn new(progress: &'a mut dyn FnMut(Progress), cancelled: &'a dyn Fn() -> bool) -> Self {
        Self {
            progress,
            cancelled,
            guidance: None,
        }
    }

    /// Runs `f` with hooks that report nothing and never cancel.
    pub fn silent<R>(f: impl FnOnce(&mut Hooks<'_>) -> R) -> R {
        let mut progress = |_: Progress| {};
        let cancelled = || false;
        f(&mut Hooks::new(&mut progress, &cancelled))
    }

    pub(crate) fn report(&mut self, p: Progress) -> Result<(), Error> {
        (self.progress)(p);
        if (self.cancelled)() {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// Intermediate values of one generation, for parity tests and debugging.
#[derive(Debug, Default, Clone)]
pub struct Trace {
    /// Text token rows as the model's tokenizer gives them, unpadded: CLIP BPE ids with
    /// SOT/EOT, or MiniLM WordPiece ids with `[CLS]`/`[SEP]` (the name is historical).
    pub clip_tokens: Vec<Vec<u32>>,
    /// Text features `[B, clip_dim]`.
    pub text_features: Vec<f32>,
    /// Length-estimator logits `[B, classes]`, when lengths were estimated.
    pub length_logits: Vec<f32>,
    /// Per step: ids fed to the masked transformer `[B, N]` (mask id where masked, pad id at pads).
    pub step_input_ids: Vec<Vec<i64>>,
    /// Per step: guided logits `[B, N, V]`.
    pub step_logits: Vec<Vec<f32>>,
    /// Per step: masked counts per sample.
    pub step_num_masked: Vec<Vec<usize>>,
    /// Per step: ids after the step `[B, N]`.
    pub step_ids: Vec<Vec<i64>>,
    /// Per residual layer: summed code embeddings fed to the transformer `[B, N, C]`.
    pub res_inputs: Vec<Vec<f32>>,
    /// Per residual layer: guided logits `[B, N, V+1]`.
    pub res_logits: Vec<Vec<f32>>,
    /// Normalised decoder output `[B, 4N, dim]` (padded batch layout).
    pub decoder_out: Vec<f32>,
    /// Editing only: the re-encoded source codes `[N, Q]` over the padded grid.
    pub source_ids: Vec<i64>,
}

/// One generated motion.
#[derive(Debug, Clone)]
pub struct Motion {
    pub text: String,
    /// Token count T (frames / 4).
    pub tokens: usize,
    /// Code ids `[T, Q]`, −1 = no code.
    pub ids: Vec<i64>,
    /// De-normalised features `[frames, dim]`.
    pub features: Vec<f32>,
    pub joints: JointPositions,
    pub fps: f32,
}

impl Motion {
    pub fn frames(&self) -> usize {
        self.joints.frames
    }
}

/// The model's feature layout.
pub fn feature_layout(model: &MoMask) -> FeatureLayout {
    FeatureLayout::for_joints(model.config.dataset.joints()).unwrap_or(crate::motion::layout::HUMANML3D)
}

/// Generates one motion per request.
pub async fn generate(
    model: &MoMask,
    requests: &[Request],
    opts: &GenerateOptions,
    hooks: &mut Hooks<'_>,
    mut trace: Option<&mut Trace>,
) -> Result<Vec<Motion>, Error> {
    opts.validate()?;
    if requests.is_empty() {
        return Err(Error::invalid("prompts", "no prompt given"));
    }
    let unit = model.unit_length();
    let max_tokens = model.config.max_tokens();
    for r in requests {
        if let Length::Frames(f) = r.length {
            let t = f / unit;
            if t == 0 || t > max_tokens {
                return Err(Error::invalid(
                    "frames",
                    format!(
                        "{f} frames is outside {unit}..={} (the model's longest motion)",
                        max_tokens * unit
                    ),
                ));
            }
        }
    }
    let texts: Vec<&str> = requests.iter().map(|r| r.text.as_str()).collect();
    let tokens = model.tokenize(&texts)?;
    hooks.report(Progress::Text)?;
    let cond = model.encode_tokens(&tokens);
    if let Some(t) = trace.as_deref_mut() {
        t.clip_tokens = tokens.clone();
        t.text_features = read_f32(cond.clone()).await?;
    }
    let mut rng = Rng::new(opts.seed);
    let lengths = token_lengths(
        model,
        requests,
        cond.clone(),
        opts,
        &mut rng,
        trace.as_deref_mut(),
    )
    .await?;
    hooks.report(Progress::Length)?;
    let base = mask_predict(
        model,
        &lengths,
        cond.clone(),
        opts,
        &mut rng,
        hooks,
        trace.as_deref_mut(),
    )
    .await?;
    let ids = residual_layers(
        model,
        &lengths,
        base,
        cond,
        opts,
        &mut rng,
        hooks,
        trace.as_deref_mut(),
    )
    .await?;
    hooks.report(Progress::Decode)?;
    let motions = decode(model, requests, &lengths, &ids, opts, trace).await?;
    hooks.report(Progress::Done)?;
    Ok(motions)
}

/// Token lengths: `frames / 4`, or the length estimator (sampled or argmax).
pub async fn token_lengths(
    model: &MoMask,
    requests: &[Request],
    cond: Tensor<2>,
    opts: &GenerateOptions,
    rng: &mut Rng,
    trace: Option<&mut Trace>,
) -> Result<Vec<usize>, Error> {
    let unit = model.unit_length();
    let mut lengths: Vec<usize> = requests
        .iter()
        .map(|r| {
            if let Length::Frames(f) = r.length {
                f / unit
            } else {
                0
            }
        })
        .collect();
    if requests.iter().all(|r| r.length != Length::Auto) {
        return Ok(lengths);
    }
    let estimator = model.length_estimator.as_ref().ok_or_else(|| {
        Error::Unsupported("this model has no length estimator; give the length in frames".into())
    })?;
    let logits = read_f32(estimator.forward(cond)).await?;
    let classes = logits.len() / requests.len();
    let max_tokens = model.config.max_tokens();
    for (i, r) in requests.iter().enumerate() {
        if r.length != Length::Auto {
            continue;
        }
        let row = &logits[i * classes..(i + 1) * classes];
        let mode = if opts.sample_length && !opts.is_greedy() {
            Draw::Categorical
        } else {
            Draw::Greedy
        };
        // The reference allows 0 tokens (negligible probability); a motion needs at least one.
        let t = draw(row, classes, 1.0, mode, rng);
        lengths[i] = t.clamp(1, max_tokens);
    }
    if let Some(t) = trace {
        t.length_logits = logits;
    }
    Ok(lengths)
}

/// Padding mask `[B, N]` (true = padded) for per-sample lengths.
fn padding_mask(lengths: &[usize], n: usize, device: &burn::tensor::Device) -> Tensor<2, Bool> {
    let values: Vec<bool> = lengths
        .iter()
        .flat_map(|&len| (0..n).map(move |i| i >= len))
        .collect();
    Tensor::<2, Bool>::from_data(TensorData::new(values, [lengths.len(), n]), device)
}

fn int_tensor(values: Vec<i64>, shape: [usize; 2], device: &burn::tensor::Device) -> Tensor<2, Int> {
    Tensor::<2, Int>::from_data(TensorData::new(values, shape), device)
}

/// The unconditional half of one guided forward pass (zero text feature), as a request that
/// another holder of the same model answers with [`uncond_logits`].
#[derive(Debug, Clone, PartialEq)]
pub enum UncondRequest {
    /// The masked transformer on ids `[B, N]` (mask id where masked, pad id at pads);
    /// `lengths` are the per-sample valid lengths (key padding).
    Mask { ids: Vec<i64>, lengths: Vec<usize> },
    /// The residual transformer predicting layer `layers.len()` from the ids of the layers
    /// below it, each `[B, N]` (pad id at pads).
    Residual {
        layers: Vec<Vec<i64>>,
        lengths: Vec<usize>,
    },
}

/// Logits `[B, N, classes]` of an [`UncondRequest`], computed elsewhere.
pub type UncondFuture = Pin<Box<dyn Future<Output = Result<Vec<f32>, Error>>>>;

/// Computes the unconditional half of classifier-free guidance concurrently with the
/// conditional half (in the browser: a second Web Worker with the same model, on another core).
pub trait GuidanceHelper {
    /// Starts `request` before returning, so that it runs while the caller computes the
    /// conditional half; `None` when the helper cannot take it (not ready, gone), in which case
    /// the caller computes both halves itself. A failed or malformed answer is recomputed locally.
    fn start(&self, request: UncondRequest) -> Option<UncondFuture>;
}

/// Answers an [`UncondRequest`]: the logits the guided pass of [`generate`] computes for its
/// unconditional half (`[B, N, V]` for the masked transformer, `[B, N, V+1]` for a residual
/// layer). The request is checked first, as it may come from another thread or worker.
pub async fn uncond_logits(model: &MoMask, request: &UncondRequest) -> Result<Vec<f32>, Error> {
    let bad = |why: String| Err(Error::invalid("unconditional request", why));
    let lengths = match request {
        UncondRequest::Mask { lengths, .. } | UncondRequest::Residual { lengths, .. } => lengths,
    };
    let max_tokens = model.config.max_tokens();
    if lengths.is_empty() || lengths.iter().any(|&l| l == 0 || l > max_tokens) {
        return bad(format!(
            "lengths {lengths:?} must be 1..={max_tokens} tokens each"
        ));
    }
    let b = lengths.len();
    let check_grid = |ids: &[i64], max_id: i64, what: &str| -> Result<usize, Error> {
        let n = ids.len() / b;
        if ids.len() != b * n || n < lengths.iter().copied().max().unwrap_or(0) || n > max_tokens {
            return Err(Error::invalid(
                "unconditional request",
                format!(
                    "{what}: {} ids do not fill a [{b}, N] grid covering the lengths",
                    ids.len()
                ),
            ));
        }
        if let Some(id) = ids.iter().find(|&&id| !(0..=max_id).contains(&id)) {
            return Err(Error::invalid(
                "unconditional request",
                format!("{what}: id {id} is outside 0..={max_id}"),
            ));
        }
        Ok(n)
    };
    let device = &model.device;
    let logits = match request {
        UncondRequest::Mask { ids, .. } => {
            // Real codes, the mask id V and the pad id V + 1.
            let n = check_grid(ids, model.config.mask.num_tokens as i64 + 1, "ids")?;
            let cond = Tensor::<2>::zeros([b, model.config.mask.clip_dim], device);
            let ids = int_tensor(ids.clone(), [b, n], device);
            model.mask.forward(ids, cond, padding_mask(lengths, n, device))
        }
        UncondRequest::Residual { layers, .. } => {
            let q_total = model.config.res.num_quantizers;
            if layers.is_empty() || layers.len() >= q_total {
                return bad(format!(
                    "{} layers given; a residual pass takes 1..={}",
                    layers.len(),
                    q_total - 1
                ));
            }
            let pad_id = model.config.res.num_tokens as i64;
            let n = check_grid(&layers[0], pad_id, "layer 0")?;
            let mut history = Tensor::<3>::zeros([b, n, model.config.res.code_dim], device);
            for (l, ids) in layers.iter().enumerate() {
                if check_grid(ids, pad_id, &format!("layer {l}"))? != n {
                    return bad(format!("layer {l} has another width than layer 0"));
                }
                history = model
                    .res
                    .embed_layer(history, l, int_tensor(ids.clone(), [b, n], device));
            }
            let cond = Tensor::<2>::zeros([b, model.config.res.clip_dim], device);
            model
                .res
                .forward(history, layers.len(), cond, padding_mask(lengths, n, device))
        }
    };
    read_f32(logits).await
}

/// The inputs of one classifier-free-guided network, built once per loop: the text feature and
/// padding for the conditional half alone, and both halves as one batch of 2B (zero text feature
/// = unconditional).
struct Guided<'a> {
    b: usize,
    scale: f32,
    cond: Tensor<2>,
    pad: Tensor<2, Bool>,
    both: Option<(Tensor<2>, Tensor<2, Bool>)>,
    helper: Option<&'a dyn GuidanceHelper>,
}

impl<'a> Guided<'a> {
    fn new(
        cond: Tensor<2>,
        pad: Tensor<2, Bool>,
        scale: f32,
        helper: Option<&'a dyn GuidanceHelper>,
    ) -> Self {
        let both = (scale != 1.0).then(|| {
            let zeros = cond.zeros_like();
            (
                Tensor::cat(vec![cond.clone(), zeros], 0),
                Tensor::cat(vec![pad.clone(), pad.clone()], 0),
            )
        });
        Self {
            b: pad.dims()[0],
            scale,
            cond,
            pad,
            both,
            helper,
        }
    }

    /// Guided logits `uncond + s·(cond − uncond)` of `forward(copies, cond, pad)`, which runs the
    /// network on `copies` stacked copies of its current input. The unconditional half goes to
    /// the helper when it takes `request()`; an unusable answer is computed here.
    async fn logits(
        &self,
        request: impl FnOnce() -> UncondRequest,
        forward: impl Fn(usize, Tensor<2>, Tensor<2, Bool>) -> Tensor<3>,
    ) -> Tensor<3> {
        let Some((cond2, pad2)) = &self.both else {
            return forward(1, self.cond.clone(), self.pad.clone());
        };
        let both = match self.helper.and_then(|h| h.start(request())) {
            Some(pending) => {
                // The conditional half here while the helper computes the unconditional one.
                let c = forward(1, self.cond.clone(), self.pad.clone());
                let dims = c.dims();
                let u = match pending.await {
                    Ok(values) if values.len() == dims.iter().product::<usize>() => {
                        Tensor::<3>::from_data(TensorData::new(values, dims), &c.device())
                    }
                    _ => forward(1, self.cond.zeros_like(), self.pad.clone()),
                };
                Tensor::cat(vec![c, u], 0)
            }
            None => forward(2, cond2.clone(), pad2.clone()),
        };
        let c = both.clone().narrow(0, 0, self.b);
        let u = both.narrow(0, self.b, self.b);
        u.clone() + (c - u) * self.scale
    }
}

/// Base-layer mask-predict decoding (`MaskTransformer.generate`). Returns `[B, N]` ids, N = max length.
pub async fn mask_predict(
    model: &MoMask,
    lengths: &[usize],
    cond: Tensor<2>,
    opts: &GenerateOptions,
    rng: &mut Rng,
    hooks: &mut Hooks<'_>,
    trace: Option<&mut Trace>,
) -> Result<Vec<i64>, Error> {
    let n = lengths.iter().copied().max().unwrap_or(1);
    let v = model.config.mask.num_tokens;
    let (mask_id, pad_id) = (v as i64, v as i64 + 1);
    let ids: Vec<i64> = lengths
        .iter()
        .flat_map(|&len| (0..n).map(move |i| if i < len { mask_id } else { pad_id }))
        .collect();
    let scores: Vec<f32> = lengths
        .iter()
        .flat_map(|&len| (0..n).map(move |i| if i < len { 0.0 } else { 1e5 }))
        .collect();
    let state = MaskState {
        lengths: lengths.to_vec(),
        counted: lengths.to_vec(),
        n,
        ids,
        scores,
    };
    mask_predict_loop(model, state, cond, opts, rng, hooks, trace).await
}

/// The state mask-predict starts from: per-sample valid lengths (key padding), the lengths the
/// schedule counts from (the sequence length when generating, the span length when editing),
/// the grid width, initial ids (mask id where to generate) and scores (0 there, 1e5 elsewhere).
pub struct MaskState {
    pub lengths: Vec<usize>,
    pub counted: Vec<usize>,
    pub n: usize,
    pub ids: Vec<i64>,
    pub scores: Vec<f32>,
}

/// The mask-predict loop shared by generation and editing (spec §3.7, §3.8).
pub async fn mask_predict_loop(
    model: &MoMask,
    state: MaskState,
    cond: Tensor<2>,
    opts: &GenerateOptions,
    rng: &mut Rng,
    hooks: &mut Hooks<'_>,
    mut trace: Option<&mut Trace>,
) -> Result<Vec<i64>, Error> {
    let MaskState {
        lengths,
        counted,
        n,
        mut ids,
        mut scores,
    } = state;
    let device = &model.device;
    let b = lengths.len();
    let v = model.config.mask.num_tokens;
    let mask_id = v as i64;
    let top_k = top_k_count(opts.topk, v);
    let guided = Guided::new(
        cond,
        padding_mask(&lengths, n, device),
        opts.cond_scale,
        hooks.guidance,
    );
    let probs = mask_probabilities(opts.steps);
    for (step, &p) in probs.iter().enumerate() {
        // Re-mask the lowest-confidence positions of each sample.
        let mut is_masked = vec![false; b * n];
        let mut counts = Vec::with_capacity(b);
        for (s, &len) in counted.iter().enumerate() {
            let k = masked_count(p, len);
            let row = &scores[s * n..(s + 1) * n];
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&x, &y| row[x].total_cmp(&row[y]).then(x.cmp(&y)));
            for &i in order.iter().take(k) {
                is_masked[s * n + i] = true;
                ids[s * n + i] = mask_id;
            }
            counts.push(k);
        }
        let request = || UncondRequest::Mask {
            ids: ids.clone(),
            lengths: lengths.clone(),
        };
        let forward = |copies: usize, cond, pad| {
            let input = ids.repeat(copies);
            model
                .mask
                .forward(int_tensor(input, [copies * b, n], device), cond, pad)
        };
        let logits = guided.logits(request, forward).await;
        let logits = read_f32(logits).await?;
        if let Some(t) = trace.as_deref_mut() {
            t.step_input_ids.push(ids.clone());
            t.step_logits.push(logits.clone());
            t.step_num_masked.push(counts.clone());
        }
        for (i, masked) in is_masked.iter().enumerate() {
            if *masked {
                let row = &logits[i * v..(i + 1) * v];
                let pred = draw(row, top_k, opts.temperature, opts.draw, rng);
                ids[i] = pred as i64;
                scores[i] = softmax_at(row, pred);
            } else {
                scores[i] = 1e5;
            }
        }
        if let Some(t) = trace.as_deref_mut() {
            t.step_ids.push(ids.clone());
        }
        hooks.report(Progress::Mask {
            step: step + 1,
            steps: opts.steps,
        })?;
    }
    Ok(ids)
}

/// Residual layers 1..Q−1 (`ResidualTransformer.generate`). Returns `[B, N, Q]` ids with −1 for
/// padding and for predicted pad classes.
#[allow(clippy::too_many_arguments)]
pub async fn residual_layers(
    model: &MoMask,
    lengths: &[usize],
    base: Vec<i64>,
    cond: Tensor<2>,
    opts: &GenerateOptions,
    rng: &mut Rng,
    hooks: &mut Hooks<'_>,
    trace: Option<&mut Trace>,
) -> Result<Vec<i64>, Error> {
    residual_layers_fixed(model, lengths, base, cond, opts, rng, hooks, trace, None).await
}

/// Known ids for some slots of a residual pass: `slots[i]` (over `[B·N]`) says whether slot i
/// is fixed, `ids` holds its codes `[B·N, Q]` (−1 = no code). Fixed slots keep their codes in
/// every layer, so the layers above them are predicted from the history they really have.
pub struct FixedSlots<'a> {
    pub slots: &'a [bool],
    pub ids: &'a [i64],
}

/// [`residual_layers`] with some slots' codes given (long motions: the context tokens of the
/// previous window keep all their layers).
#[allow(clippy::too_many_arguments)]
pub async fn residual_layers_fixed(
    model: &MoMask,
    lengths: &[usize],
    base: Vec<i64>,
    cond: Tensor<2>,
    opts: &GenerateOptions,
    rng: &mut Rng,
    hooks: &mut Hooks<'_>,
    mut trace: Option<&mut Trace>,
    fixed: Option<&FixedSlots<'_>>,
) -> Result<Vec<i64>, Error> {
    let device = &model.device;
    let b = lengths.len();
    let n = base.len() / b;
    let q_total = model.config.res.num_quantizers;
    let v1 = model.config.res.num_tokens + 1;
    let pad_id = model.config.res.num_tokens as i64;
    let top_k = top_k_count(opts.topk, v1);
    let guided = Guided::new(
        cond,
        padding_mask(lengths, n, device),
        opts.res_cond_scale,
        hooks.guidance,
    );
    let valid = |i: usize| i % n < lengths[i / n];
    let mode = if opts.is_greedy() {
        Draw::Greedy
    } else {
        Draw::Gumbel
    };

    let mut layer_ids: Vec<Vec<i64>> = vec![
        (0..b * n)
            .map(|i| if valid(i) { base[i] } else { pad_id })
            .collect(),
    ];
    let code_dim = model.config.res.code_dim;
    let mut history = Tensor::<3>::zeros([b, n, code_dim], device);
    for q in 1..q_total {
        let prev = layer_ids[q - 1].clone();
        history = model
            .res
            .embed_layer(history, q - 1, int_tensor(prev, [b, n], device));
        if let Some(t) = trace.as_deref_mut() {
            t.res_inputs.push(read_f32(history.clone()).await?);
        }
        let request = || UncondRequest::Residual {
            layers: layer_ids.clone(),
            lengths: lengths.to_vec(),
        };
        let forward = |copies: usize, cond, pad| {
            let input = Tensor::cat(vec![history.clone(); copies], 0);
            model.res.forward(input, q, cond, pad)
        };
        let logits = guided.logits(request, forward).await;
        let logits = read_f32(logits).await?;
        let ids: Vec<i64> = (0..b * n)
            .map(|i| {
                if let Some(f) = fixed.filter(|f| f.slots[i] && valid(i)) {
                    let id = f.ids[i * q_total + q];
                    if id < 0 { pad_id } else { id }
                } else if valid(i) {
                    draw(
                        &logits[i * v1..(i + 1) * v1],
                        top_k,
                        opts.res_temperature,
                        mode,
                        rng,
                    ) as i64
                } else {
                    pad_id
                }
            })
            .collect();
        if let Some(t) = trace.as_deref_mut() {
            t.res_logits.push(logits);
        }
        layer_ids.push(ids);
        hooks.report(Progress::Residual {
            layer: q,
            layers: q_total - 1,
        })?;
    }
    // [B, N, Q], pad class → −1 ("no code").
    let mut out = vec![-1i64; b * n * q_total];
    for (q, layer) in layer_ids.iter().enumerate() {
        for (i, &id) in layer.iter().enumerate() {
            out[i * q_total + q] = if id == pad_id || !valid(i) { -1 } else { id };
        }
    }
    Ok(out)
}

/// VQ-decodes a padded batch of ids `[B, N, Q]` and reads back normalised features `[B, 4N, dim]`.
pub async fn decode_stage(model: &MoMask, ids: &[i64], b: usize) -> Result<Vec<f32>, Error> {
    let q = model.config.vq.num_quantizers;
    let n = ids.len() / (b * q);
    read_f32(model.vq.decode_ids(ids, b, n, q)).await
}

/// VQ decode, de-normalise, crop, recover joints.
pub async fn decode(
    model: &MoMask,
    requests: &[Request],
    lengths: &[usize],
    ids: &[i64],
    opts: &GenerateOptions,
    trace: Option<&mut Trace>,
) -> Result<Vec<Motion>, Error> {
    let b = lengths.len();
    let q = model.config.vq.num_quantizers;
    let n = ids.len() / (b * q);
    let unit = model.unit_length();
    let dim = model.config.vq.dim_pose;
    let layout = feature_layout(model);
    // Normalised features per sample, each [len·unit, dim].
    let mut per_sample: Vec<Vec<f32>> = Vec::with_capacity(b);
    match opts.batch_decode {
        BatchDecode::Padded => {
            let out = decode_stage(model, ids, b).await?;
            let frames_padded = n * unit;
            for (s, &len) in lengths.iter().enumerate() {
                let start = s * frames_padded * dim;
                per_sample.push(out[start..start + len * unit * dim].to_vec());
            }
            if let Some(t) = trace {
                t.decoder_out = out;
            }
        }
        BatchDecode::PerSample => {
            for (s, &len) in lengths.iter().enumerate() {
                let own = &ids[s * n * q..(s * n + len) * q];
                per_sample.push(read_f32(model.vq.decode_ids(own, 1, len, q)).await?);
            }
        }
    }
    let mut motions = Vec::with_capacity(b);
    for (s, normalised) in per_sample.into_iter().enumerate() {
        let len = lengths[s];
        let frames = len * unit;
        let features = denormalize(&normalised, &model.mean, &model.std)?;
        let joints = recover_from_ric(&features, frames, &layout)?;
        motions.push(Motion {
            text: requests[s].text.clone(),
            tokens: len,
            ids: ids[s * n * q..(s * n + len) * q].to_vec(),
            features,
            joints,
            fps: model.config.dataset.fps(),
        });
    }
    Ok(motions)
}
