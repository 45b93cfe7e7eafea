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
    /// On the CPU backend: the fused encoder forward (`nn::fused`, the default) or burn's ops.
    pub fused: bool,
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
    let (mut model, label) = match &cfg.model {
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
    let fused = model.set_fused_cpu(cfg.fused);
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
        backend: if fused {
            format!("{} + fused encoder", cfg.backend)
        } else {
            cfg.backend.to_string()
        },
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
    let mut hooks = Hooks::new(&mut progress, &cancelled);
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
    /// Reference row only: how close its greedy decisions were.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub margins: Option<Margins>,
}

/// Thresholds (in logits) of [`Margins`].
pub const MARGIN_THRESHOLDS: [f32; 3] = [0.01, 0.05, 0.1];

/// Top-1 minus top-2 guided logit of every greedy decision of a generation: base layer (each
/// masked position at each mask-predict step) and residual layers (each valid position). A
/// weight change that moves logits by more than a decision's margin flips it, and greedy
/// decoding carries the flip into every later step; this says how many decisions are that close.
#[derive(Debug, Clone, Serialize)]
pub struct Margins {
    pub base_decisions: usize,
    /// Base-layer decisions within each of [`MARGIN_THRESHOLDS`].
    pub base_within: [usize; 3],
    pub residual_decisions: usize,
    pub residual_within: [usize; 3],
}

impl Margins {
    /// `num_tokens`: the base codebook size (mask id = `num_tokens`, pad id = `num_tokens + 1`).
    pub fn of(trace: &crate::generate::Trace, num_tokens: usize) -> Self {
        let gap = |row: &[f32]| {
            let (mut a, mut b) = (f32::NEG_INFINITY, f32::NEG_INFINITY);
            for &x in row {
                if x > a {
                    b = a;
                    a = x;
                } else if x > b {
                    b = x;
                }
            }
            a - b
        };
        let count = |gaps: &[f32]| MARGIN_THRESHOLDS.map(|t| gaps.iter().filter(|g| **g < t).count());
        // Base layer: the positions fed as the mask id are the ones the step decides.
        let mask_id = num_tokens as i64;
        let mut base = Vec::new();
        for (ids, logits) in trace.step_input_ids.iter().zip(&trace.step_logits) {
            let v = logits.len() / ids.len().max(1);
            for (i, id) in ids.iter().enumerate() {
                if *id == mask_id {
                    base.push(gap(&logits[i * v..(i + 1) * v]));
                }
            }
        }
        // Residual layers: every position that is not padding after the last base step.
        let pad_id = num_tokens as i64 + 1;
        let valid: Vec<bool> = trace
            .step_ids
            .last()
            .map(|ids| ids.iter().map(|id| *id != pad_id).collect())
            .unwrap_or_default();
        let mut residual = Vec::new();
        for logits in &trace.res_logits {
            let v = logits.len() / valid.len().max(1);
            for (i, ok) in valid.iter().enumerate() {
                if *ok {
                    residual.push(gap(&logits[i * v..(i + 1) * v]));
                }
            }
        }
        Self {
            base_decisions: base.len(),
            base_within: count(&base),
            residual_decisions: residual.len(),
            residual_within: count(&residual),
        }
    }
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
    let mut opts = GenerateOptions {
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
        if reference.is_none() {
            // Every bundle decodes with the guidance the reference recommends.
            opts = model.guidance().apply(opts);
        }
        // The reference's trace gives the margins of its greedy decisions.
        let mut trace = crate::generate::Trace::default();
        let traced = reference.is_none().then_some(&mut trace);
        let motions = Hooks::silent(|h| {
            pollster::block_on(crate::generate::generate(&model, &requests, &opts, h, traced))
        })?;
        let margins = reference
            .is_none()
            .then(|| Margins::of(&trace, model.config.mask.num_tokens));
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
            margins,
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
    for (r, m) in rows.iter().filter_map(|r| r.margins.as_ref().map(|m| (r, m))) {
        s.push_str(&format!(
            "\nmargins of {}'s greedy decisions (top-1 minus top-2 guided logit) below {:?}: base layer {:?} of {}, residual layers {:?} of {}\n",
            r.quantization,
            MARGIN_THRESHOLDS,
            m.base_within,
            m.base_decisions,
            m.residual_within,
            m.residual_decisions
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margins_count_only_decided_positions() {
        // 2 tokens (mask id 2, pad id 3), 3 positions, the last one padding.
        let trace = crate::generate::Trace {
            step_input_ids: vec![vec![2, 2, 3], vec![0, 2, 3]],
            step_logits: vec![
                vec![1.0, 1.005, 0.0, 0.0, 9.0, 0.0, 0.0, 0.0, 0.0],
                vec![5.0, 0.0, 0.0, 0.3, 0.27, 0.0, 0.0, 0.0, 0.0],
            ],
            step_ids: vec![vec![1, 0, 3], vec![1, 0, 3]],
            // Residual logits have num_tokens + 1 classes per position.
            res_logits: vec![vec![0.0, 0.07, 0.0, 2.0, 0.0, 0.0, 1.0, 1.0, 1.0]],
            ..Default::default()
        };
        let m = Margins::of(&trace, 2);
        // Base: step 0 decides positions 0 (gap 0.005) and 1 (9); step 1 position 1 (0.03).
        assert_eq!(m.base_decisions, 3);
        assert_eq!(m.base_within, [1, 2, 2]);
        // Residual: positions 0 (gap 0.07) and 1 (2); the padded one is not a decision.
        assert_eq!(m.residual_decisions, 2);
        assert_eq!(m.residual_within, [0, 0, 1]);
    }
}
