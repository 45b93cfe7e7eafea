//! Options passed from JavaScript, parsed with serde-wasm-bindgen through serde_path_to_error so
//! that a wrong type names the option (`steps: invalid type: string "ten", expected usize`), with
//! unknown keys refused (a typo such as `sede` must not be silently ignored).

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use wasm_bindgen::prelude::*;

use crate::Error;
use crate::generate::{BatchDecode, GenerateOptions, Length, Request};
use crate::sample::sampler::Draw;

/// Most prompts × repeats in one call (the CLI allows the same).
pub const MAX_REPEAT: usize = 100;

/// Option structs: the JS names of their fields (serde-wasm-bindgen reads only the fields a
/// struct declares, so `deny_unknown_fields` alone never sees a misspelt key).
pub trait Fields {
    const FIELDS: &'static [&'static str];
}

/// Deserialises `value` (`undefined`/`null` = all defaults) into `T`; errors name the option.
pub fn parse<T: for<'de> Deserialize<'de> + Default + Fields>(
    value: &JsValue,
    what: &str,
) -> Result<T, JsError> {
    if value.is_undefined() || value.is_null() {
        return Ok(T::default());
    }
    if !value.is_object() || value.is_function() || js_sys::Array::is_array(value) {
        return Err(JsError::new(&format!(
            "{what} must be an object, got {}",
            type_name(value)
        )));
    }
    for key in js_sys::Object::keys(value.unchecked_ref::<js_sys::Object>()).iter() {
        let key = key.as_string().unwrap_or_default();
        if !T::FIELDS.contains(&key.as_str()) {
            let expected: Vec<String> = T::FIELDS.iter().map(|f| format!("`{f}`")).collect();
            return Err(JsError::new(&format!(
                "invalid {what}: unknown field `{key}`, expected one of {}",
                expected.join(", ")
            )));
        }
    }
    let de = serde_wasm_bindgen::Deserializer::from(value.clone());
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        if path.is_empty() || path == "." {
            JsError::new(&format!("invalid {what}: {inner}"))
        } else {
            JsError::new(&format!("invalid {what}: {path}: {inner}"))
        }
    })
}

fn type_name(v: &JsValue) -> String {
    if v.is_null() {
        "null".into()
    } else if js_sys::Array::is_array(v) {
        "an array".into()
    } else {
        v.js_typeof().as_string().unwrap_or_else(|| "?".into())
    }
}

/// Which compute backend to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// WebGPU when a hardware adapter is there, else the CPU.
    #[default]
    Auto,
    /// WebGPU even on a software (fallback) adapter; the CPU only when WebGPU fails.
    Webgpu,
    /// burn-flex in wasm.
    Cpu,
}

impl BackendChoice {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Webgpu => "webgpu",
            Self::Cpu => "cpu",
        }
    }
}

/// `Model.load(bytes, options)`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoadOptions {
    #[serde(default)]
    pub backend: BackendChoice,
    /// Run a small GPU self-test (compared with the CPU) before accepting WebGPU (default true).
    #[serde(default)]
    pub self_test: Option<bool>,
}

impl Fields for LoadOptions {
    const FIELDS: &'static [&'static str] = &["backend", "selfTest"];
}

/// `frames`: a number or `"auto"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frames(pub Length);

impl<'de> Deserialize<'de> for Frames {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Frames;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a whole number of frames or \"auto\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Frames, E> {
                Ok(Frames(Length::Frames(v as usize)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Frames, E> {
                if v < 0 {
                    Err(E::custom(format!("{v} is negative")))
                } else {
                    Ok(Frames(Length::Frames(v as usize)))
                }
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Frames, E> {
                if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= 1e9 {
                    Ok(Frames(Length::Frames(v as usize)))
                } else {
                    Err(E::custom(format!(
                        "{v} is not a whole, non-negative number of frames"
                    )))
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Frames, E> {
                if v.eq_ignore_ascii_case("auto") {
                    Ok(Frames(Length::Auto))
                } else {
                    Err(E::custom(format!(
                        "\"{v}\" is neither a number of frames nor \"auto\""
                    )))
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// `model.generate(text, options)`; every field optional, defaults as the CLI.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JsGenerateOptions {
    pub frames: Option<Frames>,
    pub seed: Option<u64>,
    pub steps: Option<usize>,
    pub cond_scale: Option<f32>,
    pub res_cond_scale: Option<f32>,
    pub temperature: Option<f32>,
    pub res_temperature: Option<f32>,
    pub topk: Option<f64>,
    /// Argmax draws everywhere, lengths too (deterministic; what the parity tests use).
    pub greedy: Option<bool>,
    /// Draw of the base layer (`categorical`, `gumbel`, `greedy`); `greedy: true` overrides.
    pub draw: Option<Draw>,
    pub sample_length: Option<bool>,
    /// `padded` (reference) or `persample`.
    pub batch_decode: Option<BatchDecode>,
    /// Samples per prompt.
    pub repeat: Option<usize>,
}

impl Fields for JsGenerateOptions {
    const FIELDS: &'static [&'static str] = &[
        "frames",
        "seed",
        "steps",
        "condScale",
        "resCondScale",
        "temperature",
        "resTemperature",
        "topk",
        "greedy",
        "draw",
        "sampleLength",
        "batchDecode",
        "repeat",
    ];
}

impl JsGenerateOptions {
    /// The core options over the model's defaults `d` ([`crate::MoMask::default_options`]),
    /// validated (errors name the option and its range).
    pub fn to_core(&self, d: &GenerateOptions) -> Result<GenerateOptions, Error> {
        let greedy = self.greedy.unwrap_or(false);
        let opts = GenerateOptions {
            steps: self.steps.unwrap_or(d.steps),
            cond_scale: self.cond_scale.unwrap_or(d.cond_scale),
            res_cond_scale: self.res_cond_scale.unwrap_or(d.res_cond_scale),
            temperature: self.temperature.unwrap_or(d.temperature),
            res_temperature: self.res_temperature.unwrap_or(d.res_temperature),
            topk: self.topk.unwrap_or(d.topk),
            draw: if greedy {
                Draw::Greedy
            } else {
                self.draw.unwrap_or(d.draw)
            },
            sample_length: if greedy {
                false
            } else {
                self.sample_length.unwrap_or(d.sample_length)
            },
            seed: self.seed.unwrap_or(d.seed),
            batch_decode: self.batch_decode.unwrap_or(d.batch_decode),
        };
        opts.validate()?;
        Ok(opts)
    }

    /// One request per prompt and repeat, in prompt order.
    pub fn requests(&self, texts: &[String]) -> Result<Vec<Request>, Error> {
        let repeat = self.repeat.unwrap_or(1);
        if repeat == 0 || repeat > MAX_REPEAT {
            return Err(Error::invalid(
                "repeat",
                format!("{repeat} is outside 1..={MAX_REPEAT}"),
            ));
        }
        if texts.is_empty() {
            return Err(Error::invalid("text", "no prompt given"));
        }
        if texts.len() * repeat > MAX_REPEAT {
            return Err(Error::invalid(
                "repeat",
                format!(
                    "{} prompts × {repeat} repeats is more than {MAX_REPEAT} motions",
                    texts.len()
                ),
            ));
        }
        let length = self.frames.unwrap_or_default().0;
        let mut out = Vec::with_capacity(texts.len() * repeat);
        for t in texts {
            if t.trim().is_empty() {
                return Err(Error::invalid("text", "the prompt is empty"));
            }
            for _ in 0..repeat {
                out.push(Request::new(t.as_str(), length));
            }
        }
        Ok(out)
    }
}

impl Default for Frames {
    fn default() -> Self {
        Frames(Length::Auto)
    }
}

/// `model.edit(source, spans, text, options)`; defaults as `momask edit` (18 steps, guidance 4
/// then 2, as the reference's `edit_t2m.py`).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JsEditOptions {
    pub seed: Option<u64>,
    pub steps: Option<usize>,
    pub cond_scale: Option<f32>,
    pub res_cond_scale: Option<f32>,
    pub temperature: Option<f32>,
    pub topk: Option<f64>,
    pub greedy: Option<bool>,
}

impl Fields for JsEditOptions {
    const FIELDS: &'static [&'static str] = &[
        "seed",
        "steps",
        "condScale",
        "resCondScale",
        "temperature",
        "topk",
        "greedy",
    ];
}

impl JsEditOptions {
    /// The edit options over `defaults` ([`crate::edit::EditOptions::for_model`]).
    pub fn to_core(&self, defaults: crate::edit::EditOptions) -> Result<crate::edit::EditOptions, Error> {
        Ok(crate::edit::EditOptions {
            generate: self.over(defaults.generate.clone())?,
            ..defaults
        })
    }

    /// These sampling fields over `d` (the other fields as `d`), validated. Shared with
    /// `generateTimeline`, whose options are these plus `context`.
    fn over(&self, d: GenerateOptions) -> Result<GenerateOptions, Error> {
        let greedy = self.greedy.unwrap_or(false);
        let opts = GenerateOptions {
            steps: self.steps.unwrap_or(d.steps),
            cond_scale: self.cond_scale.unwrap_or(d.cond_scale),
            res_cond_scale: self.res_cond_scale.unwrap_or(d.res_cond_scale),
            temperature: self.temperature.unwrap_or(d.temperature),
            topk: self.topk.unwrap_or(d.topk),
            draw: if greedy { Draw::Greedy } else { d.draw },
            seed: self.seed.unwrap_or(d.seed),
            ..d
        };
        opts.validate()?;
        Ok(opts)
    }
}

/// `model.generateTimeline(segments, options)`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JsTimelineOptions {
    pub seed: Option<u64>,
    pub steps: Option<usize>,
    pub cond_scale: Option<f32>,
    pub res_cond_scale: Option<f32>,
    pub temperature: Option<f32>,
    pub topk: Option<f64>,
    pub greedy: Option<bool>,
    /// Tokens of the previous window each new window continues from.
    pub context: Option<usize>,
}

impl Fields for JsTimelineOptions {
    const FIELDS: &'static [&'static str] = &[
        "seed",
        "steps",
        "condScale",
        "resCondScale",
        "temperature",
        "topk",
        "greedy",
        "context",
    ];
}

impl JsTimelineOptions {
    /// The timeline options over the model's defaults `d` ([`crate::MoMask::default_options`]).
    pub fn to_core(&self, d: &GenerateOptions) -> Result<crate::long::LongOptions, Error> {
        let sampling = JsEditOptions {
            seed: self.seed,
            steps: self.steps,
            cond_scale: self.cond_scale,
            res_cond_scale: self.res_cond_scale,
            temperature: self.temperature,
            topk: self.topk,
            greedy: self.greedy,
        };
        Ok(crate::long::LongOptions {
            generate: sampling.over(d.clone())?,
            context_tokens: self.context.unwrap_or(crate::long::DEFAULT_CONTEXT),
        })
    }
}

/// One `{ text, seconds }` entry of `generateTimeline`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsSegment {
    pub text: String,
    pub seconds: f64,
}
