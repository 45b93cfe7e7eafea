//! `momask bench`: per-stage timings of one generation with random weights built in memory, so
//! official-size numbers need no checkpoint files, or with the weights of a bundle (`--model`),
//! so that native and browser (`www/bench.html`, `scripts/bench-web.sh`) time the same model.
//! Each stage ends with a read-back, so its time includes all the device work it queued.

use std::time::Instant;

use serde::Serialize;

use crate::Error;
use crate::backend::Backend;
use crate::config::ModelConfig;
use crate::generate::{GenerateOptions, Hooks, decode_stage, mask_predict, residual_layers};
use crate::model::MoMask;
use crate::motion::recover::{denormalize, recover_from_ric};
use crate::nn::read_f32;
use crate::sample::rng::Rng;

/// The bench page's default prompt (www/bench.js), used to tokenize with a bundle's tokenizer.
pub const BENCH_TEXT: &str = "a person walks forward and turns around";

/// What to benchmark.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// `official`, `kit`, `small` or `demo` (random weights); ignored when `model` is given.
    pub config: String,
    /// A bundle to time instead of random weights; its configuration and tokenizer are used.
    pub model: Option<std::path::PathBuf>,
    /// The prompt, with `model` (random-weight models have no tokenizer: a fixed 8-word prompt).
    pub text: String,
    pub frames: usize,
    pub backend: Backend,
    pub runs: usize,
    pub steps: usize,
}

/// Timings of every run, per stage, in seconds.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub backend: String,
    pub config: String,
    pub frames: usize,
    pub steps: usize,
    pub runs: usize,
    pub stages: Vec<(String, Vec<f64>)>,
    pub total: Vec<f64>,
}

/// Median of a non-empty sample.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

impl BenchReport {
    /// A plain-text table: median, min and max per stage.
    pub fn table(&self) -> String {
        let mut s = format!(
            "momask bench — config {}, {} frames, {} mask steps, backend {}, median of {} runs after 1 warm-up\n\n",
            self.config, self.frames, self.steps, self.backend, self.runs
        );
        s.push_str(&format!(
            "| {:<22} | {:>10} | {:>10} | {:>10} |\n",
            "stage", "median s", "min s", "max s"
        ));
        s.push_str(&format!("|{:-<24}|{:->12}|{:->12}|{:->12}|\n", "", "", "", ""));
        let mut row = |name: &str, v: &[f64]| {
            let min = v.iter().copied().fold(f64::INFINITY, f64::min);
            let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            s.push_str(&format!(
                "| {:<22} | {:>10.4} | {:>10.4} | {:>10.4} |\n",
                name,
                median(v),
                min,
                max
            ));
        };
        for (name, v) in &self.stages {
            row(name, v);
        }
        row("total", &self.total);
        s
    }

    /// One JSON line with the medians (and `total_median_s`).
    pub fn json_line(&self) -> String {
        let mut obj = serde_json::Map::new();
        obj.insert("backend".into(), self.backend.clone().into());
        obj.insert("config".into(), self.config.clone().into());
        obj.insert("frames".into(), self.frames.into());
        obj.insert("steps".into(), self.steps.into());
        obj.insert("runs".into(), self.runs.into());
        for (name, v) in &self.stages {
            obj.insert(format!("{}_median_s", name.replace(' ', "_")), median(v).into());
        }
        obj.insert("total_median_s".into(), median(&self.total).into());
        serde_json::Value::Object(obj).to_string()
    }
}

/// A named configuration preset.
pub fn preset(name: &str) -> Result<ModelConfig, Error> {
    match name {
        "official" | "humanml3d" | "t2m" => Ok(ModelConfig::humanml3d()),
        "kit" => Ok(ModelConfig::kit()),
        "small" | "fixture" => Ok(ModelConfig::fixture_small()),
        "demo" => Ok(ModelConfig::demo()),
        other => Err(Error::invalid(
            "config",
            format!("'{other}' is not one of official, kit, small, demo"),
        )),
    }
}

/// Builds the networks and times `runs` generations (plus one warm-up).
pub fn run(cfg: &BenchConfig) -> Result<BenchReport, Error> {
    if cfg.runs == 0 {
        return Err(Error::invalid("runs", "must be at least 1"));
    }
    let device = cfg.backend.device()?;
    let (model, label) = match &cfg.model {
        Some(path) => {
            let bytes = std::fs::read(path)
                .map_err(|e| Error::invalid("model", format!("{}: {e}", path.display())))?;
            (
                MoMask::from_bundle_bytes(&bytes, &device)?,
                path.display().to_string(),
            )
        }
        None => (
            MoMask::random(preset(&cfg.config)?, 1, &device)?,
            cfg.config.clone(),
        ),
    };
    let config = &model.config;
    let unit = config.vq.unit_length();
    let tokens = cfg.frames / unit;
    if tokens == 0 || tokens > config.max_tokens() {
        return Err(Error::invalid(
            "frames",
            format!("{} is outside {unit}..={}", cfg.frames, config.max_motion_length),
        ));
    }
    // A typical 8-word prompt, "a person walks forward and turns left.": SOT, 8 BPE ids, EOT
    // for CLIP; [CLS], 8 WordPiece ids, [SEP] for MiniLM.
    let prompt = match (&cfg.model, &model.config.text) {
        (Some(_), _) => model.tokenize(&[cfg.text.as_str()])?,
        (None, crate::config::TextEncoderConfig::Clip(_)) => {
            vec![vec![49406, 320, 2533, 8192, 2342, 537, 3185, 1823, 269, 49407]]
        }
        (None, crate::config::TextEncoderConfig::MiniLm(_)) => {
            vec![vec![101, 1037, 2711, 7365, 2830, 1998, 4332, 2187, 1012, 102]]
        }
    };
    let opts = GenerateOptions {
        steps: cfg.steps,
        ..GenerateOptions::default()
    };
    let names = [
        "text encoder",
        "mask transformer",
        "residual transformer",
        "vq decode",
        "recover joints",
    ];
    let mut stages: Vec<(String, Vec<f64>)> = names.iter().map(|n| (n.to_string(), Vec::new())).collect();
    let mut total = Vec::new();
    for run in 0..=cfg.runs {
        let times = pollster::block_on(one_run(&model, &prompt, tokens, &opts, run as u64))?;
        if run > 0 {
            for (slot, t) in stages.iter_mut().zip(&times) {
                slot.1.push(*t);
            }
            total.push(times.iter().sum());
        }
    }
    Ok(BenchReport {
        backend: cfg.backend.to_string(),
        config: label,
        frames: tokens * unit,
        steps: cfg.steps,
        runs: cfg.runs,
        stages,
        total,
    })
}

async fn one_run(
    model: &MoMask,
    prompt: &[Vec<u32>],
    tokens: usize,
    opts: &GenerateOptions,
    seed: u64,
) -> Result<Vec<f64>, Error> {
    let mut rng = Rng::new(seed);
    let lengths = [tokens];
    let t0 = Instant::now();
    let cond = model.encode_tokens(prompt);
    read_f32(cond.clone()).await?;
    let t1 = Instant::now();
    let mut progress = |_| {};
    let cancelled = || false;
    let mut hooks = Hooks {
        progress: &mut progress,
        cancelled: &cancelled,
    };
    let base = mask_predict(model, &lengths, cond.clone(), opts, &mut rng, &mut hooks, None).await?;
    let t2 = Instant::now();
    let ids = residual_layers(model, &lengths, base, cond, opts, &mut rng, &mut hooks, None).await?;
    let t3 = Instant::now();
    let normalised = decode_stage(model, &ids, 1).await?;
    let t4 = Instant::now();
    let features = denormalize(&normalised, &model.mean, &model.std)?;
    let frames = tokens * model.unit_length();
    recover_from_ric(&features, frames, &crate::generate::feature_layout(model))?;
    let t5 = Instant::now();
    Ok([t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4]
        .iter()
        .map(|d| d.as_secs_f64())
        .collect())
}

/// Prompts and lengths of the fidelity comparison (fixed, so tables are comparable).
pub const FIDELITY_PROMPTS: [(&str, usize); 8] = [
    ("a person walks forward and turns left.", 120),
    ("a man jumps up and down twice.", 196),
    ("a person waves with the right hand.", 40),
    ("someone runs in a circle counterclockwise.", 160),
    ("a person is running on a treadmill.", 80),
    (
        "the person crouches down, picks something up from the floor and stands back up.",
        100,
    ),
    (
        "a person kicks with their left leg, then punches twice with the right arm.",
        144,
    ),
    ("a figure dances energetically, spinning around.", 64),
];

/// One row of the fidelity table: a bundle compared with the reference (first) bundle.
#[derive(Debug, Clone, Serialize)]
pub struct FidelityRow {
    pub file: String,
    pub quantization: String,
    pub size_mb: f64,
    pub load_s: f64,
    /// Fraction of code ids (all layers, all prompts) equal to the reference's.
    pub token_agreement: f64,
    pub joint_err_mean_mm: f64,
    pub joint_err_max_mm: f64,
}

/// Greedy-decodes the fixed prompt set with every bundle and compares with the first.
pub fn fidelity(files: &[std::path::PathBuf], backend: Backend) -> Result<Vec<FidelityRow>, Error> {
    use crate::generate::{BatchDecode, Length, Request};
    if files.len() < 2 {
        return Err(Error::invalid(
            "fidelity",
            "give a reference bundle and at least one other",
        ));
    }
    let device = backend.device()?;
    let requests: Vec<Request> = FIDELITY_PROMPTS
        .iter()
        .map(|(t, f)| Request::new(*t, Length::Frames(*f)))
        .collect();
    let opts = GenerateOptions {
        batch_decode: BatchDecode::PerSample,
        ..GenerateOptions::greedy()
    };
    let mut reference: Option<Vec<crate::generate::Motion>> = None;
    let mut rows = Vec::new();
    for path in files {
        let bytes = std::fs::read(path)
            .map_err(|e| Error::invalid("fidelity", format!("{}: {e}", path.display())))?;
        let started = Instant::now();
        let model = MoMask::from_bundle_bytes(&bytes, &device)?;
        let load_s = started.elapsed().as_secs_f64();
        let motions = Hooks::silent(|h| {
            pollster::block_on(crate::generate::generate(&model, &requests, &opts, h, None))
        })?;
        let (agree, err_mean, err_max) = match &reference {
            None => (1.0, 0.0, 0.0),
            Some(r) => compare_motions(r, &motions),
        };
        rows.push(FidelityRow {
            file: path.display().to_string(),
            quantization: model
                .header
                .as_ref()
                .map(|h| h.quantization.clone())
                .unwrap_or_default(),
            size_mb: bytes.len() as f64 / 1e6,
            load_s,
            token_agreement: agree,
            joint_err_mean_mm: err_mean,
            joint_err_max_mm: err_max,
        });
        if reference.is_none() {
            reference = Some(motions);
        }
    }
    Ok(rows)
}

/// (token agreement, mean and max joint error in mm).
fn compare_motions(a: &[crate::generate::Motion], b: &[crate::generate::Motion]) -> (f64, f64, f64) {
    let (mut same, mut total) = (0usize, 0usize);
    let (mut sum, mut count, mut max) = (0f64, 0usize, 0f64);
    for (x, y) in a.iter().zip(b) {
        same += x.ids.iter().zip(&y.ids).filter(|(p, q)| p == q).count();
        total += x.ids.len().max(y.ids.len());
        for (p, q) in x.joints.data.chunks(3).zip(y.joints.data.chunks(3)) {
            let d = ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2)).sqrt() as f64
                * 1000.0;
            sum += d;
            count += 1;
            max = max.max(d);
        }
    }
    (same as f64 / total.max(1) as f64, sum / count.max(1) as f64, max)
}

/// The fidelity rows as a table.
pub fn fidelity_table(rows: &[FidelityRow]) -> String {
    let mut s = String::from(
        "| bundle | scheme | size MB | load s | token agreement | joint err mean mm | joint err max mm |\n|---|---|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        s.push_str(&format!(
            "| {} | {} | {:.1} | {:.2} | {:.1} % | {:.2} | {:.2} |\n",
            r.file,
            r.quantization,
            r.size_mb,
            r.load_s,
            100.0 * r.token_agreement,
            r.joint_err_mean_mm,
            r.joint_err_max_mm
        ));
    }
    s
}
