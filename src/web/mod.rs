//! Browser bindings (wasm-bindgen), built into the npm package by `scripts/build-web.sh`.
//!
//! The package's JavaScript (`pkg-config/`: the `MoMask` class and its Web Worker) is the public
//! API; these bindings are what the worker calls:
//!
//! * [`Model::load`]: bytes + `{ backend: "auto" | "webgpu" | "cpu" }` → a model on WebGPU
//!   (burn-wgpu, async init and async read-backs only) or on the CPU (burn-flex), with the
//!   reason for any fallback in [`Model::info`]. Any bundle loads: CLIP-conditioned (official)
//!   or MiniLM-conditioned (the demo model); `info.textEncoder` says which.
//! * [`Model::generate`]: prompts + options (serde-wasm-bindgen; wrong types and ranges are
//!   rejected with messages naming the option) → plain JS objects with `Float32Array` joints.
//! * [`joints_to_bvh`], [`read_header`], [`version`].
//!
//! Panics never become silent `unreachable` traps: the panic hook logs the message
//! (console_error_panic_hook) and hands it to `globalThis.__momaskOnPanic`, so the worker can
//! reject the pending promise with it. Inputs are validated before any computation starts.

#![cfg(target_family = "wasm")]

pub mod gpu;
pub mod options;

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Float32Array, Function, Int32Array, Object, Promise, Reflect, Uint32Array};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, future_to_promise};

use crate::bundle::{self, BundleHeader};
use crate::config::ModelConfig;
use crate::generate::{
    GenerateOptions, GuidanceHelper, Hooks, Motion, Progress, UncondFuture, UncondRequest,
};
use crate::motion::JointPositions;
use crate::motion::bvh::{BvhOptions, joints_to_bvh as bvh_from_joints};
use crate::{Error, MoMask};

use gpu::AdapterDesc;
use options::{BackendChoice, JsEditOptions, JsGenerateOptions, JsSegment, JsTimelineOptions, LoadOptions};

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &str = r#"
/** Options of `Model.load`. */
export interface RawLoadOptions { backend?: "auto" | "webgpu" | "cpu"; selfTest?: boolean }
/** Options of `Model.generate` (all optional; unknown keys are refused). */
export interface RawGenerateOptions {
  frames?: number | "auto"; seed?: number; steps?: number; condScale?: number; resCondScale?: number;
  temperature?: number; resTemperature?: number; topk?: number; greedy?: boolean;
  draw?: "categorical" | "gumbel" | "greedy"; sampleLength?: boolean; batchDecode?: "padded" | "persample";
  repeat?: number;
}
/** Options of `Model.edit`. */
export interface RawEditOptions {
  seed?: number; steps?: number; condScale?: number; resCondScale?: number; temperature?: number;
  topk?: number; greedy?: boolean;
}
/** Options of `Model.generateTimeline`. */
export interface RawTimelineOptions {
  seed?: number; steps?: number; condScale?: number; resCondScale?: number; temperature?: number;
  topk?: number; greedy?: boolean; context?: number;
}
/** Velocity jump where generated pieces meet (mm/frame). */
export interface RawSeam { frame: number; kind: "span start" | "span end" | "window" | "segment"; jumpMm: number; typicalMm: number; ratio: number }
/** The seam statistic at frames away from any seam. */
export interface RawSeamBaseline { median: number; p95: number; frames: number }
/** A generated motion as a plain object (`seams` etc. on edits and long motions). */
export interface RawMotion {
  text: string; frames: number; jointCount: number; fps: number; tokens: number;
  joints: Float32Array; features: Float32Array; ids: Int32Array; json: string;
  seams?: RawSeam[]; seamBaseline?: RawSeamBaseline | null;
  segments?: { text: string; startFrame: number; endFrame: number }[];
  spans?: [number, number][]; keptErrorMm?: number; roundTripErrorMm?: number;
}
/** The unconditional half of one guided pass, for a helper worker (`Model.uncondLogits`):
 * masked-transformer ids `[B, N]`, or `layers` residual-layer grids `[B, N]` in order. */
export interface RawUncondRequest { kind: "mask" | "residual"; ids: Int32Array; lengths: Uint32Array; layers: number }
/** Progress of `Model.generate`; `t` is `performance.now()`. */
export type RawProgress = { stage: "text" | "length" | "decode" | "done"; t: number }
  | { stage: "window"; window: number; windows: number; t: number }
  | { stage: "mask"; step: number; steps: number; t: number }
  | { stage: "residual"; layer: number; layers: number; t: number };
"#;

/// Installs the panic hook: console output plus `globalThis.__momaskOnPanic(message)`.
#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        let message = info.to_string();
        let global = js_sys::global();
        if let Ok(f) = Reflect::get(&global, &"__momaskOnPanic".into()).and_then(|f| f.dyn_into::<Function>())
        {
            let _ = f.call1(&JsValue::NULL, &JsValue::from_str(&message));
        }
    }));
}

/// The crate version.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").into()
}

/// A JS `Error` with a `name` (`TypeError`, `RangeError`, `AbortError`, `MoMaskGpuError`, …).
fn js_error(name: &str, message: &str) -> JsValue {
    let e = js_sys::Error::new(message);
    e.set_name(name);
    e.into()
}

fn core_error(e: &Error) -> JsValue {
    let name = match e {
        Error::InvalidArgument { .. } => "RangeError",
        Error::Cancelled => "AbortError",
        Error::Backend(_) => "MoMaskBackendError",
        _ => "MoMaskError",
    };
    js_error(name, &e.to_string())
}

fn type_error(e: JsError) -> JsValue {
    let v: JsValue = e.into();
    if let Some(err) = v.dyn_ref::<js_sys::Error>() {
        err.set_name("TypeError");
    }
    v
}

fn now_ms() -> f64 {
    Reflect::get(&js_sys::global(), &"performance".into())
        .ok()
        .and_then(|p| {
            Reflect::get(&p, &"now".into())
                .ok()
                .and_then(|f| f.dyn_into::<Function>().ok())
                .map(|f| (p, f))
        })
        .and_then(|(p, f)| f.call0(&p).ok())
        .and_then(|v| v.as_f64())
        .unwrap_or(0.0)
}

/// Sizes of the loaded model.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sizes {
    /// Bundle file size.
    pub bytes: usize,
    /// Weights (float elements of all tensors).
    pub parameters: usize,
    pub tensors: usize,
    pub max_frames: usize,
    pub joints: usize,
    pub num_quantizers: usize,
    pub codebook_size: usize,
}

/// `model.info`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Info {
    /// `"webgpu"` or `"cpu"`: what the model actually runs on.
    pub backend: &'static str,
    /// What was asked for.
    pub requested_backend: &'static str,
    /// The WebGPU adapter, when one was found (also when it was not used).
    pub adapter: Option<AdapterDesc>,
    pub adapter_name: Option<String>,
    /// Why the model is not on WebGPU although `auto`/`webgpu` was asked for.
    pub fallback_reason: Option<String>,
    /// `"clip"` (official models) or `"minilm"` (the demo model), from the bundle header.
    pub text_encoder: String,
    /// `"clip-bpe"` or `"wordpiece"`.
    pub tokenizer: String,
    /// Width of the text feature (512 for CLIP, 384 for MiniLM).
    pub text_dim: usize,
    pub format: String,
    pub version: String,
    pub quantization: String,
    pub content_hash: String,
    pub dataset: String,
    pub fps: f32,
    pub has_length_estimator: bool,
    pub sizes: Sizes,
    /// What `generate` uses for the options a caller leaves out: the paper's settings with the
    /// guidance scales the bundle recommends.
    pub defaults: SamplingDefaults,
    pub config: ModelConfig,
    /// Milliseconds spent in device set-up plus parsing, verifying and uploading the weights.
    pub load_ms: f64,
}

/// The sampling options of [`Info::defaults`].
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SamplingDefaults {
    pub steps: usize,
    pub cond_scale: f32,
    pub res_cond_scale: f32,
    pub temperature: f32,
    pub topk: f64,
}

impl From<&GenerateOptions> for SamplingDefaults {
    fn from(o: &GenerateOptions) -> Self {
        Self {
            steps: o.steps,
            cond_scale: o.cond_scale,
            res_cond_scale: o.res_cond_scale,
            temperature: o.temperature,
            topk: o.topk,
        }
    }
}

fn sizes(bytes: &[u8], model: &MoMask) -> Sizes {
    let (mut parameters, mut tensors) = (0, 0);
    if let Ok((_, meta)) = safetensors::SafeTensors::read_metadata(bytes) {
        for (_, t) in meta.tensors() {
            tensors += 1;
            if !matches!(t.dtype, safetensors::Dtype::U8) {
                parameters += t.shape.iter().product::<usize>();
            }
        }
    }
    let c = &model.config;
    Sizes {
        bytes: bytes.len(),
        parameters,
        tensors,
        max_frames: c.max_tokens() * model.unit_length(),
        joints: c.dataset.joints(),
        num_quantizers: c.vq.num_quantizers,
        codebook_size: c.mask.num_tokens,
    }
}

/// Reads the bundle header only (cheap): `{ format, version, config, textEncoder, … }`.
#[wasm_bindgen(js_name = readHeader, unchecked_return_type = "Record<string, unknown>")]
pub fn read_header(bytes: &[u8]) -> Result<JsValue, JsValue> {
    let header = bundle::read_header(bytes).map_err(|e| js_error("MoMaskError", &e.to_string()))?;
    to_js(&header)
}

fn to_js<T: Serialize>(v: &T) -> Result<JsValue, JsValue> {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| js_error("MoMaskError", &e.to_string()))
}

/// A model loaded into this wasm instance.
#[wasm_bindgen]
pub struct Model {
    inner: Rc<MoMask>,
    info: Info,
    /// `(request) => Promise<Float32Array> | undefined`: the host's bridge to a second worker
    /// that computes the unconditional half of classifier-free guidance (see
    /// [`Model::set_guidance_helper`]).
    guidance: RefCell<Option<Function>>,
}

/// A [`GuidanceHelper`] behind a JS function (the host's bridge to the helper worker).
struct JsGuidance(Function);

impl GuidanceHelper for JsGuidance {
    fn start(&self, request: UncondRequest) -> Option<UncondFuture> {
        let req = Object::new();
        let as_i32 = |ids: &mut dyn Iterator<Item = &i64>| -> Vec<i32> { ids.map(|&id| id as i32).collect() };
        let (kind, ids, lengths, layers) = match &request {
            UncondRequest::Mask { ids, lengths } => ("mask", as_i32(&mut ids.iter()), lengths, 0),
            UncondRequest::Residual { layers, lengths } => (
                "residual",
                as_i32(&mut layers.iter().flatten()),
                lengths,
                layers.len(),
            ),
        };
        let lengths: Vec<u32> = lengths.iter().map(|&l| l as u32).collect();
        set(&req, "kind", &kind.into());
        set(&req, "ids", &Int32Array::from(ids.as_slice()));
        set(&req, "lengths", &Uint32Array::from(lengths.as_slice()));
        set(&req, "layers", &(layers as u32).into());
        // No promise (no helper now) or a throwing bridge: the caller computes both halves.
        let promise = self
            .0
            .call1(&JsValue::NULL, &req)
            .ok()?
            .dyn_into::<Promise>()
            .ok()?;
        Some(Box::pin(async move {
            let value = JsFuture::from(promise)
                .await
                .map_err(|e| Error::Backend(format!("guidance helper: {}", js_message(&e))))?;
            let logits = value
                .dyn_into::<Float32Array>()
                .map_err(|_| Error::Backend("guidance helper: the answer is not a Float32Array".into()))?;
            Ok(logits.to_vec())
        }))
    }
}

/// An unconditional-half request from JS: `{ kind: "mask" | "residual", ids: Int32Array,
/// lengths: Uint32Array, layers: number }` (residual ids: `layers` grids of `[B, N]`, in order).
fn parse_uncond_request(v: &JsValue) -> Result<UncondRequest, JsValue> {
    let field = |name: &str| Reflect::get(v, &name.into()).unwrap_or(JsValue::UNDEFINED);
    let ids: Vec<i64> = field("ids")
        .dyn_into::<Int32Array>()
        .map_err(|_| js_error("TypeError", "unconditional request: ids must be an Int32Array"))?
        .to_vec()
        .into_iter()
        .map(i64::from)
        .collect();
    let lengths: Vec<usize> = field("lengths")
        .dyn_into::<Uint32Array>()
        .map_err(|_| {
            js_error(
                "TypeError",
                "unconditional request: lengths must be a Uint32Array",
            )
        })?
        .to_vec()
        .into_iter()
        .map(|l| l as usize)
        .collect();
    match field("kind").as_string().as_deref() {
        Some("mask") => Ok(UncondRequest::Mask { ids, lengths }),
        Some("residual") => {
            let layers = field("layers")
                .as_f64()
                .filter(|l| l.fract() == 0.0 && *l >= 1.0 && *l <= 64.0)
                .ok_or_else(|| {
                    js_error(
                        "TypeError",
                        "unconditional request: layers must be a whole number 1..=64",
                    )
                })? as usize;
            if !ids.len().is_multiple_of(layers) {
                return Err(js_error(
                    "RangeError",
                    &format!(
                        "unconditional request: {} ids do not split into {layers} layers",
                        ids.len()
                    ),
                ));
            }
            let per_layer = ids.len() / layers;
            let layers = ids.chunks(per_layer.max(1)).map(<[i64]>::to_vec).collect();
            Ok(UncondRequest::Residual { layers, lengths })
        }
        _ => Err(js_error(
            "TypeError",
            "unconditional request: kind must be \"mask\" or \"residual\"",
        )),
    }
}

/// The device to use: `(device, on_gpu, adapter, fallback reason)`.
async fn select_device(
    choice: BackendChoice,
) -> (burn::tensor::Device, bool, Option<AdapterDesc>, Option<String>) {
    let cpu = burn::tensor::Device::flex;
    if choice == BackendChoice::Cpu {
        return (cpu(), false, None, None);
    }
    let adapter = match gpu::probe().await {
        Ok(a) => a,
        Err(reason) => return (cpu(), false, None, Some(reason)),
    };
    if adapter.is_fallback_adapter && choice == BackendChoice::Auto {
        let reason = format!(
            "the only WebGPU adapter is a software fallback ({}), slower than the CPU backend; pass backend: \"webgpu\" to use it anyway",
            adapter.name()
        );
        return (cpu(), false, Some(adapter), Some(reason));
    }
    match gpu::open_device().await {
        Ok(device) => (device, true, Some(adapter), None),
        Err(reason) => (cpu(), false, Some(adapter), Some(reason)),
    }
}

#[wasm_bindgen]
impl Model {
    /// Loads a bundle. `options`: `{ backend?: "auto" | "webgpu" | "cpu", selfTest?: boolean }`.
    /// Rejects with the loader's message for anything that is not a valid, intact bundle.
    pub async fn load(
        bytes: Vec<u8>,
        #[wasm_bindgen(unchecked_param_type = "RawLoadOptions | undefined")] options: JsValue,
    ) -> Result<Model, JsValue> {
        let started = now_ms();
        let opts: LoadOptions = options::parse(&options, "load options").map_err(type_error)?;
        // Cheap checks first: a wrong file is refused before any device is opened.
        let header: BundleHeader =
            bundle::read_header(&bytes).map_err(|e| js_error("MoMaskError", &e.to_string()))?;
        let (mut device, mut on_gpu, adapter, mut fallback_reason) = select_device(opts.backend).await;
        if on_gpu
            && opts.self_test.unwrap_or(true)
            && let Err(e) = gpu::self_test(&device).await
        {
            fallback_reason = Some(format!("the WebGPU self-test failed ({e}); using the CPU"));
            (device, on_gpu) = (burn::tensor::Device::flex(), false);
        }
        let model = match MoMask::from_bundle_bytes(&bytes, &device) {
            Ok(m) => m,
            Err(Error::Backend(e)) if on_gpu => {
                fallback_reason = Some(format!(
                    "loading the weights onto WebGPU failed ({e}); using the CPU"
                ));
                (device, on_gpu) = (burn::tensor::Device::flex(), false);
                MoMask::from_bundle_bytes(&bytes, &device).map_err(|e| core_error(&e))?
            }
            Err(e) => return Err(core_error(&e)),
        };
        if on_gpu {
            gpu::reinstall_error_handler();
        }
        let info = Info {
            backend: if on_gpu { "webgpu" } else { "cpu" },
            requested_backend: opts.backend.as_str(),
            adapter_name: if on_gpu {
                gpu::wgpu_adapter_name()
                    .filter(|n| !n.is_empty())
                    .or(adapter.as_ref().map(|a| a.name()))
            } else {
                adapter.as_ref().map(|a| a.name())
            },
            adapter,
            fallback_reason: if opts.backend == BackendChoice::Cpu {
                None
            } else {
                fallback_reason
            },
            text_encoder: header.text_encoder.clone(),
            tokenizer: header.tokenizer.clone(),
            text_dim: model.config.text.output_dim(),
            format: header.format.clone(),
            version: header.version.clone(),
            quantization: header.quantization.clone(),
            content_hash: header.content_hash.clone(),
            dataset: format!("{:?}", model.config.dataset).to_ascii_lowercase(),
            fps: model.config.dataset.fps(),
            has_length_estimator: model.length_estimator.is_some(),
            sizes: sizes(&bytes, &model),
            defaults: SamplingDefaults::from(&model.default_options()),
            config: model.config.clone(),
            load_ms: now_ms() - started,
        };
        Ok(Model {
            inner: Rc::new(model),
            info,
            guidance: RefCell::new(None),
        })
    }

    /// Installs (or, with `null`, removes) the bridge to a helper worker that holds the same
    /// model and computes the unconditional half of every guided pass ([`Model::uncond_logits`]
    /// there) while this one computes the conditional half: `(request) => Promise<Float32Array>`,
    /// or `undefined` when the helper cannot take a request now. Results are identical with or
    /// without it; a failed answer is recomputed here.
    #[wasm_bindgen(js_name = setGuidanceHelper)]
    pub fn set_guidance_helper(
        &self,
        #[wasm_bindgen(
            unchecked_param_type = "((request: RawUncondRequest) => Promise<Float32Array> | undefined) | null"
        )]
        helper: Option<Function>,
    ) {
        *self.guidance.borrow_mut() = helper;
    }

    /// The helper side of [`Model::set_guidance_helper`]: the unconditional logits of a request
    /// (checked first: a malformed one rejects with a `MoMaskError`).
    #[wasm_bindgen(js_name = uncondLogits, unchecked_return_type = "Promise<Float32Array>")]
    pub fn uncond_logits(
        &self,
        #[wasm_bindgen(unchecked_param_type = "RawUncondRequest")] request: JsValue,
    ) -> Result<Promise, JsValue> {
        let request = parse_uncond_request(&request)?;
        let model = self.inner.clone();
        let on_gpu = self.info.backend == "webgpu";
        Ok(future_to_promise(async move {
            let logits = crate::generate::uncond_logits(&model, &request).await;
            Ok(Float32Array::from(finish(on_gpu, logits)?.as_slice()).into())
        }))
    }

    /// The guidance helper for one call, if one is installed.
    fn guidance(&self) -> Option<JsGuidance> {
        self.guidance.borrow().clone().map(JsGuidance)
    }

    /// Everything about the loaded model (see [`Info`]) as a plain object.
    #[wasm_bindgen(
        getter,
        unchecked_return_type = "Omit<import('./index.js').ModelInfo, 'cached' | 'worker'>"
    )]
    pub fn info(&self) -> Result<JsValue, JsValue> {
        to_js(&self.info)
    }

    /// Generates motions. `texts`: a string or an array of strings; `options`: see
    /// [`JsGenerateOptions`]. `onProgress(event)` receives `{ stage, step?, steps?, layer?,
    /// layers?, t }`; `isCancelled()` is polled between steps. Options are checked before the
    /// returned promise exists (a wrong option throws synchronously).
    #[wasm_bindgen(unchecked_return_type = "Promise<RawMotion[]>")]
    pub fn generate(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | string[]")] texts: JsValue,
        #[wasm_bindgen(unchecked_param_type = "RawGenerateOptions | undefined")] options: JsValue,
        #[wasm_bindgen(unchecked_param_type = "((event: RawProgress) => void) | null")] on_progress: Option<
            Function,
        >,
        #[wasm_bindgen(unchecked_param_type = "(() => boolean) | null")] is_cancelled: Option<Function>,
    ) -> Result<Promise, JsValue> {
        let texts = parse_texts(&texts)?;
        let opts: JsGenerateOptions = options::parse(&options, "generate options").map_err(type_error)?;
        let core_opts = opts
            .to_core(&self.inner.default_options())
            .map_err(|e| core_error(&e))?;
        let requests = opts.requests(&texts).map_err(|e| core_error(&e))?;
        // The same check as the core (which would reject later, inside the promise).
        let unit = self.inner.unit_length();
        let max_tokens = self.inner.config.max_tokens();
        let fps = self.inner.config.dataset.fps();
        let max_long = (crate::long::MAX_SECONDS * fps as f64) as usize;
        let mut long = false;
        for r in &requests {
            if let crate::Length::Frames(f) = r.length {
                if f / unit == 0 || f > max_long {
                    return Err(js_error(
                        "RangeError",
                        &format!("invalid frames: {f} is outside {unit}..={max_long}"),
                    ));
                }
                // Beyond one window: a long motion (overlapping windows, see `long.rs`).
                long |= f / unit > max_tokens;
            }
        }
        if long {
            return self.generate_long(requests, core_opts, on_progress, is_cancelled);
        }
        if requests.iter().any(|r| r.length == crate::Length::Auto) && self.inner.length_estimator.is_none() {
            return Err(js_error(
                "MoMaskError",
                "this model has no length estimator; give frames as a number",
            ));
        }
        let model = self.inner.clone();
        let on_gpu = self.info.backend == "webgpu";
        let guidance = self.guidance();
        Ok(future_to_promise(async move {
            if on_gpu {
                gpu::take_errors();
            }
            let mut progress = |p: Progress| {
                if let Some(f) = &on_progress
                    && let Ok(v) = to_js(&p)
                {
                    let _ = Reflect::set(&v, &"t".into(), &JsValue::from_f64(now_ms()));
                    let _ = f.call1(&JsValue::NULL, &v);
                }
            };
            let cancelled = || match &is_cancelled {
                Some(f) => f.call0(&JsValue::NULL).map(|v| v.is_truthy()).unwrap_or(false),
                None => false,
            };
            let mut hooks = Hooks::new(&mut progress, &cancelled);
            hooks.guidance = guidance.as_ref().map(|g| g as &dyn GuidanceHelper);
            let result = crate::generate(&model, &requests, &core_opts, &mut hooks, None).await;
            let motions = finish(on_gpu, result)?;
            let out = Array::new();
            for m in &motions {
                out.push(&motion_to_js(m)?);
            }
            Ok(out.into())
        }))
    }

    /// Regenerates frame spans of a motion from `text` (temporal inpainting). `source`: a
    /// motion object with `features` (263-d, from `generate`), joints as a `Float32Array`
    /// (`frames × 22 × 3`, metres) or BVH text written by momask; `spans`: `[[start, end], …]`
    /// (frames, end exclusive). A source longer than one window (a long motion) is edited in the
    /// 196-frame window around the spans. Everything is checked before the promise exists.
    /// Resolves to a motion with `seams`, `keptErrorMm` and `roundTripErrorMm`.
    #[wasm_bindgen(unchecked_return_type = "Promise<RawMotion>")]
    pub fn edit(
        &self,
        #[wasm_bindgen(
            unchecked_param_type = "{ features: Float32Array } | { joints: Float32Array } | Float32Array | string"
        )]
        source: JsValue,
        #[wasm_bindgen(unchecked_param_type = "[number, number][]")] spans: JsValue,
        text: JsValue,
        #[wasm_bindgen(unchecked_param_type = "RawEditOptions | undefined")] options: JsValue,
        #[wasm_bindgen(unchecked_param_type = "((event: RawProgress) => void) | null")] on_progress: Option<
            Function,
        >,
        #[wasm_bindgen(unchecked_param_type = "(() => boolean) | null")] is_cancelled: Option<Function>,
    ) -> Result<Promise, JsValue> {
        let text = text
            .as_string()
            .ok_or_else(|| js_error("TypeError", "text must be a string"))?;
        if text.trim().is_empty() {
            return Err(js_error("RangeError", "invalid text: the prompt is empty"));
        }
        let opts: JsEditOptions = options::parse(&options, "edit options").map_err(type_error)?;
        let core_opts = opts
            .to_core(crate::edit::EditOptions::for_model(&self.inner))
            .map_err(|e| core_error(&e))?;
        let features = parse_source(&source)?;
        let spans = parse_spans(&spans)?;
        crate::edit::check_any(&self.inner, &features, &spans).map_err(|e| core_error(&e))?;
        let model = self.inner.clone();
        let on_gpu = self.info.backend == "webgpu";
        let guidance = self.guidance();
        Ok(future_to_promise(async move {
            let run = async {
                let mut progress = progress_fn(&on_progress);
                let cancelled = cancel_fn(&is_cancelled);
                let mut hooks = Hooks::new(&mut progress, &cancelled);
                hooks.guidance = guidance.as_ref().map(|g| g as &dyn GuidanceHelper);
                let m =
                    crate::edit::edit_any(&model, &features, &spans, &text, &core_opts, &mut hooks).await?;
                let report = crate::edit::report(&model, &features, &spans, &m).await?;
                Ok((m, report))
            };
            let (m, report) = finish(on_gpu, run.await)?;
            let o = motion_to_js(&m)?;
            let obj: &Object = o.unchecked_ref();
            set(obj, "seams", &to_js(&report.seams)?);
            set(obj, "seamBaseline", &to_js(&report.baseline)?);
            set(obj, "keptErrorMm", &report.kept_error_mm.into());
            set(obj, "roundTripErrorMm", &report.round_trip_error_mm.into());
            set(obj, "spans", &to_js(&spans)?);
            Ok(o)
        }))
    }

    /// A long motion from prompts in turn: `segments` = `[{ text, seconds }, …]` (at most
    /// 5 minutes). Resolves to one motion with `seams` and `segments` (start/end frames).
    #[wasm_bindgen(js_name = generateTimeline, unchecked_return_type = "Promise<RawMotion>")]
    pub fn generate_timeline(
        &self,
        #[wasm_bindgen(unchecked_param_type = "{ text: string; seconds: number }[]")] segments: JsValue,
        #[wasm_bindgen(unchecked_param_type = "RawTimelineOptions | undefined")] options: JsValue,
        #[wasm_bindgen(unchecked_param_type = "((event: RawProgress) => void) | null")] on_progress: Option<
            Function,
        >,
        #[wasm_bindgen(unchecked_param_type = "(() => boolean) | null")] is_cancelled: Option<Function>,
    ) -> Result<Promise, JsValue> {
        let opts: JsTimelineOptions = options::parse(&options, "timeline options").map_err(type_error)?;
        let long_opts = opts
            .to_core(&self.inner.default_options())
            .map_err(|e| core_error(&e))?;
        let timeline = parse_timeline(&segments)?;
        self.check_timeline(&timeline, long_opts.context_tokens)?;
        let model = self.inner.clone();
        let on_gpu = self.info.backend == "webgpu";
        let guidance = self.guidance();
        Ok(future_to_promise(async move {
            let long = run_long(
                &model,
                &timeline,
                &long_opts,
                &on_progress,
                &is_cancelled,
                guidance.as_ref(),
            )
            .await;
            long_to_js(&finish(on_gpu, long)?)
        }))
    }

    /// Test hook: destroys the WebGPU device, as a driver reset would. Returns whether there was one.
    #[wasm_bindgen(js_name = destroyDeviceForTesting)]
    pub fn destroy_device_for_testing(&self) -> bool {
        self.info.backend == "webgpu" && gpu::destroy_device()
    }
}

impl Model {
    /// Checks a timeline (durations, length, context) before any promise exists.
    fn check_timeline(&self, timeline: &crate::long::Timeline, context: usize) -> Result<(), JsValue> {
        let model = &self.inner;
        let bounds = timeline
            .token_bounds(model.config.dataset.fps(), model.unit_length())
            .map_err(|e| js_error("RangeError", &Error::from(e).to_string()))?;
        crate::long::plan_windows(&bounds, context, model.config.max_tokens())
            .map_err(|e| js_error("RangeError", &Error::from(e).to_string()))?;
        Ok(())
    }

    /// `generate` with more frames than one window: each prompt × repeat becomes a one-segment
    /// timeline (seed + i for the i-th, so repeats differ).
    fn generate_long(
        &self,
        requests: Vec<crate::Request>,
        opts: crate::GenerateOptions,
        on_progress: Option<Function>,
        is_cancelled: Option<Function>,
    ) -> Result<Promise, JsValue> {
        let fps = self.inner.config.dataset.fps();
        let unit = self.inner.unit_length();
        let mut timelines = Vec::with_capacity(requests.len());
        for r in &requests {
            let crate::Length::Frames(f) = r.length else {
                return Err(js_error(
                    "RangeError",
                    "invalid frames: \"auto\" cannot be mixed with long motions",
                ));
            };
            let t = crate::long::Timeline::single(r.text.clone(), (f / unit * unit) as f64 / fps as f64);
            self.check_timeline(&t, crate::long::DEFAULT_CONTEXT)?;
            timelines.push(t);
        }
        let model = self.inner.clone();
        let on_gpu = self.info.backend == "webgpu";
        let guidance = self.guidance();
        Ok(future_to_promise(async move {
            let out = Array::new();
            for (i, t) in timelines.iter().enumerate() {
                let long_opts = crate::long::LongOptions {
                    generate: crate::GenerateOptions {
                        seed: opts.seed.wrapping_add(i as u64),
                        ..opts.clone()
                    },
                    context_tokens: crate::long::DEFAULT_CONTEXT,
                };
                let long = run_long(
                    &model,
                    t,
                    &long_opts,
                    &on_progress,
                    &is_cancelled,
                    guidance.as_ref(),
                )
                .await;
                out.push(&long_to_js(&finish(on_gpu, long)?)?);
            }
            Ok(out.into())
        }))
    }
}

fn progress_fn(on_progress: &Option<Function>) -> impl FnMut(Progress) + '_ {
    move |p: Progress| {
        if let Some(f) = on_progress
            && let Ok(v) = to_js(&p)
        {
            let _ = Reflect::set(&v, &"t".into(), &JsValue::from_f64(now_ms()));
            let _ = f.call1(&JsValue::NULL, &v);
        }
    }
}

fn cancel_fn(is_cancelled: &Option<Function>) -> impl Fn() -> bool + '_ {
    move || match is_cancelled {
        Some(f) => f.call0(&JsValue::NULL).map(|v| v.is_truthy()).unwrap_or(false),
        None => false,
    }
}

/// A result, with WebGPU errors reported during the run turned into a backend error.
fn finish<T>(on_gpu: bool, result: Result<T, Error>) -> Result<T, JsValue> {
    if on_gpu {
        let errors = gpu::take_errors();
        if !errors.is_empty() && !matches!(result, Err(Error::Cancelled)) {
            return Err(js_error(
                "MoMaskBackendError",
                &format!("backend error: WebGPU reported: {}", errors.join("; ")),
            ));
        }
    }
    result.map_err(|e| core_error(&e))
}

async fn run_long(
    model: &MoMask,
    timeline: &crate::long::Timeline,
    opts: &crate::long::LongOptions,
    on_progress: &Option<Function>,
    is_cancelled: &Option<Function>,
    guidance: Option<&JsGuidance>,
) -> Result<crate::long::LongMotion, Error> {
    let mut progress = progress_fn(on_progress);
    let cancelled = cancel_fn(is_cancelled);
    let mut hooks = Hooks::new(&mut progress, &cancelled);
    hooks.guidance = guidance.map(|g| g as &dyn GuidanceHelper);
    crate::long::generate_timeline(model, timeline, opts, &mut hooks).await
}

fn long_to_js(long: &crate::long::LongMotion) -> Result<JsValue, JsValue> {
    let o = motion_to_js(&long.motion)?;
    let obj: &Object = o.unchecked_ref();
    set(obj, "seams", &to_js(&long.seams)?);
    set(obj, "seamBaseline", &to_js(&long.baseline)?);
    let segments = Array::new();
    let texts: Vec<&str> = long.motion.text.split(" / ").collect();
    for (i, &start) in long.segment_starts.iter().enumerate() {
        let end = long
            .segment_starts
            .get(i + 1)
            .copied()
            .unwrap_or(long.motion.frames());
        let s = Object::new();
        set(&s, "text", &texts.get(i).copied().unwrap_or("").into());
        set(&s, "startFrame", &(start as u32).into());
        set(&s, "endFrame", &(end as u32).into());
        segments.push(&s);
    }
    set(obj, "segments", &segments);
    Ok(o)
}

/// An edit source as de-normalised features; see [`Model::edit`].
fn parse_source(v: &JsValue) -> Result<Vec<f32>, JsValue> {
    let from_joints = |a: &Float32Array| -> Result<Vec<f32>, JsValue> {
        let data = a.to_vec();
        if data.is_empty() || !data.len().is_multiple_of(66) {
            return Err(js_error(
                "RangeError",
                &format!(
                    "invalid source: {} joint values is not frames × 22 × 3",
                    data.len()
                ),
            ));
        }
        let joints = JointPositions::new(data.len() / 66, 22, data)
            .map_err(|e| js_error("RangeError", &e.to_string()))?;
        crate::edit::features_from_joints(&joints).map_err(|e| core_error(&e))
    };
    if let Some(text) = v.as_string() {
        let joints = crate::edit::joints_from_bvh(&text)
            .map_err(|e| js_error("RangeError", &format!("invalid source: {e}")))?;
        return crate::edit::features_from_joints(&joints).map_err(|e| core_error(&e));
    }
    if let Some(a) = v.dyn_ref::<Float32Array>() {
        return from_joints(a);
    }
    if v.is_object() {
        let features = Reflect::get(v, &"features".into()).unwrap_or(JsValue::UNDEFINED);
        if let Some(a) = features.dyn_ref::<Float32Array>() {
            return Ok(a.to_vec());
        }
        let joints = Reflect::get(v, &"joints".into()).unwrap_or(JsValue::UNDEFINED);
        if let Some(a) = joints.dyn_ref::<Float32Array>() {
            return from_joints(a);
        }
    }
    Err(js_error(
        "TypeError",
        "source must be a motion from generate(), joints as a Float32Array (frames × 22 × 3) or BVH text",
    ))
}

/// `[[start, end], …]` of whole, non-negative frame numbers.
fn parse_spans(v: &JsValue) -> Result<Vec<(usize, usize)>, JsValue> {
    let bad = |m: String| js_error("TypeError", &format!("invalid spans: {m}"));
    if !Array::is_array(v) {
        return Err(bad("expected an array of [start, end] pairs".into()));
    }
    let a: &Array = v.unchecked_ref();
    if a.length() > 64 {
        return Err(js_error("RangeError", "invalid spans: at most 64 spans"));
    }
    let whole = |x: JsValue, i: usize, what: &str| -> Result<usize, JsValue> {
        match x.as_f64() {
            Some(f) if f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f <= 1e9 => Ok(f as usize),
            _ => Err(bad(format!(
                "spans[{i}] {what} is not a whole, non-negative number"
            ))),
        }
    };
    let mut out = Vec::with_capacity(a.length() as usize);
    for (i, pair) in a.iter().enumerate() {
        if !Array::is_array(&pair) || pair.unchecked_ref::<Array>().length() != 2 {
            return Err(bad(format!("spans[{i}] is not a [start, end] pair")));
        }
        let p: &Array = pair.unchecked_ref();
        out.push((whole(p.get(0), i, "start")?, whole(p.get(1), i, "end")?));
    }
    Ok(out)
}

/// `[{ text, seconds }, …]` → a checked timeline.
fn parse_timeline(v: &JsValue) -> Result<crate::long::Timeline, JsValue> {
    if !Array::is_array(v) {
        return Err(js_error(
            "TypeError",
            "invalid timeline: expected an array of { text, seconds }",
        ));
    }
    let de = serde_wasm_bindgen::Deserializer::from(v.clone());
    let segments: Vec<JsSegment> = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        js_error(
            "TypeError",
            &format!("invalid timeline: {path}: {}", e.into_inner()),
        )
    })?;
    Ok(crate::long::Timeline {
        segments: segments
            .into_iter()
            .map(|s| crate::long::Segment {
                text: s.text,
                seconds: s.seconds,
            })
            .collect(),
    })
}

/// Forgets this instance's WebGPU device after a failure, so a later load opens none.
#[wasm_bindgen(js_name = forgetGpu)]
pub fn forget_gpu() {
    gpu::forget_device();
}

fn parse_texts(v: &JsValue) -> Result<Vec<String>, JsValue> {
    if let Some(s) = v.as_string() {
        return Ok(vec![s]);
    }
    if Array::is_array(v) {
        let a: &Array = v.unchecked_ref();
        let mut out = Vec::with_capacity(a.length() as usize);
        for (i, item) in a.iter().enumerate() {
            out.push(
                item.as_string()
                    .ok_or_else(|| js_error("TypeError", &format!("text[{i}] is not a string")))?,
            );
        }
        return Ok(out);
    }
    Err(js_error(
        "TypeError",
        "text must be a string or an array of strings",
    ))
}

/// The message of a thrown JS value (an `Error`'s `message`, or the value as text).
fn js_message(v: &JsValue) -> String {
    Reflect::get(v, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| v.as_string())
        .unwrap_or_else(|| format!("{v:?}"))
}

fn set(obj: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), value);
}

/// A motion as a plain (structured-cloneable) object.
fn motion_to_js(m: &Motion) -> Result<JsValue, JsValue> {
    let o = Object::new();
    set(&o, "text", &m.text.as_str().into());
    set(&o, "frames", &(m.joints.frames as u32).into());
    set(&o, "jointCount", &(m.joints.joints as u32).into());
    set(&o, "fps", &m.fps.into());
    set(&o, "tokens", &(m.tokens as u32).into());
    set(&o, "joints", &Float32Array::from(m.joints.data.as_slice()).into());
    set(&o, "features", &Float32Array::from(m.features.as_slice()).into());
    let ids: Vec<i32> = m.ids.iter().map(|&i| i as i32).collect();
    set(&o, "ids", &Int32Array::from(ids.as_slice()).into());
    set(&o, "json", &m.joints.to_json().into());
    Ok(o.into())
}

/// BVH text for joint positions (`frames × joints × 3`), with optional foot IK (default on,
/// as the CLI).
#[wasm_bindgen(js_name = jointsToBvh)]
pub fn joints_to_bvh(
    joints: Vec<f32>,
    frames: usize,
    joint_count: usize,
    foot_ik: Option<bool>,
) -> Result<String, JsValue> {
    let positions = JointPositions::new(frames, joint_count, joints)
        .map_err(|e| js_error("RangeError", &e.to_string()))?;
    let opts = BvhOptions {
        foot_ik: foot_ik.unwrap_or(true),
        ..Default::default()
    };
    bvh_from_joints(&positions, &opts)
        .map(|b| b.to_string())
        .map_err(|e| js_error("MoMaskError", &e.to_string()))
}
