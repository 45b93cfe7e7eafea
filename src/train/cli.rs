//! `momask train vq|mask|res|len` and `momask train bundle`: the command-line face of the
//! trainers.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::run::{Stage, StageOptions, train};
use crate::config::ModelConfig;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum StageArg {
    Vq,
    Mask,
    Res,
    Len,
    /// The procedural-world evaluator used by `momask eval`.
    Evaluator,
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Which network to train.
    #[arg(value_enum)]
    pub stage: StageArg,
    /// HumanML3D-layout dataset folder (real HumanML3D / KIT, or `momask synth` output).
    #[arg(long)]
    pub data: PathBuf,
    /// Model configuration: a preset (demo, official, kit, small) or a JSON file.
    #[arg(long, default_value = "demo")]
    pub config: String,
    /// Output folder of this stage (resumes if it holds a run of the same stage).
    #[arg(long)]
    pub out: PathBuf,
    /// Training iterations.
    #[arg(long)]
    pub iters: usize,
    /// Batch size (defaults: vq 256, transformers and length 64).
    #[arg(long)]
    pub batch: Option<usize>,
    /// Base learning rate (defaults: 2e-4; length estimator 1e-4).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Warm-up iterations (default: min(2000, iters/10)).
    #[arg(long)]
    pub warmup: Option<usize>,
    /// Learning-rate milestones as fractions of --iters (e.g. 0.5,0.8); default: the spec's
    /// milestones scaled to --iters.
    #[arg(long, value_delimiter = ',')]
    pub milestones: Option<Vec<f64>>,
    /// Learning-rate factor at each milestone.
    #[arg(long)]
    pub gamma: Option<f64>,
    /// The trained VQ (mask, res): its run folder, or a model bundle file.
    #[arg(long)]
    pub vq: Option<PathBuf>,
    /// all-MiniLM-L6-v2 folder (default: $MOMASK_MINILM_DIR).
    #[arg(long)]
    pub minilm: Option<PathBuf>,
    #[arg(long, default_value_t = 3407)]
    pub seed: u64,
    #[arg(long, default_value_t = 500)]
    pub checkpoint_every: usize,
    #[arg(long, default_value_t = 500)]
    pub val_every: usize,
    /// Use only the first N motions of each split (smoke runs).
    #[arg(long)]
    pub max_clips: Option<usize>,
    /// Start a fresh run from this model bundle's network instead of a random init (e.g.
    /// continue training the shipped demo model). Ignored when the run folder resumes.
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// vq only: fine-tune the decoder on the frozen encoder's codes (keeps the transformers'
    /// token targets valid).
    #[arg(long)]
    pub decoder_only: bool,
    /// mask / res: Gaussian noise added to the sentence features while training, as a fraction
    /// of their norm (default 0, as the reference). Makes the transformers insensitive to the
    /// text encoder's int8 rounding (1 − cos ≈ 4e-4 for MiniLM).
    #[arg(long, default_value_t = 0.0)]
    pub cond_noise: f32,
}

/// A preset name or a JSON file of a [`ModelConfig`].
pub fn model_config(name: &str) -> Result<ModelConfig, String> {
    match crate::bench::preset(name) {
        Ok(c) => Ok(c),
        Err(preset_err) => {
            let path = std::path::Path::new(name);
            if path.is_file() {
                let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
            } else {
                Err(preset_err.to_string())
            }
        }
    }
}

pub fn run_train(a: TrainArgs) -> Result<(), String> {
    let stage = match a.stage {
        StageArg::Vq => Stage::Vq,
        StageArg::Mask => Stage::Mask,
        StageArg::Res => Stage::Res,
        StageArg::Len | StageArg::Evaluator => Stage::Len,
    };
    let config = model_config(&a.config)?;
    let mut o = StageOptions::defaults(stage, a.data, a.out, config, a.iters);
    if let Some(b) = a.batch {
        o.batch = b;
    }
    if let Some(lr) = a.lr {
        o.schedule.base = lr;
    }
    if let Some(w) = a.warmup {
        o.schedule.warmup = w;
    }
    if let Some(m) = &a.milestones {
        if m.iter().any(|f| !(0.0..=1.0).contains(f)) {
            return Err("--milestones are fractions of --iters in 0..=1".into());
        }
        o.schedule.milestones = m.iter().map(|f| (f * a.iters as f64) as usize).collect();
    }
    if let Some(g) = a.gamma {
        o.schedule.gamma = g;
    }
    o.vq_dir = a.vq;
    o.minilm = a.minilm;
    o.seed = a.seed;
    o.checkpoint_every = a.checkpoint_every;
    o.val_every = a.val_every;
    o.max_clips = a.max_clips;
    if a.decoder_only && !matches!(a.stage, StageArg::Vq) {
        return Err("--decoder-only applies to the vq stage".into());
    }
    o.init = a.init;
    o.decoder_only = a.decoder_only;
    if !(0.0..=1.0).contains(&a.cond_noise) {
        return Err("--cond-noise is a fraction of the feature norm in 0..=1".into());
    }
    if a.cond_noise > 0.0 && !matches!(a.stage, StageArg::Mask | StageArg::Res) {
        return Err("--cond-noise applies to the mask and res stages".into());
    }
    o.cond_noise = a.cond_noise;
    let report = match a.stage {
        StageArg::Evaluator => {
            // Contrastive training: AdamW 1e-3 unless told otherwise, no milestones.
            o.schedule.base = a.lr.unwrap_or(1e-3);
            o.schedule.milestones.clear();
            super::evaluate::train_evaluator(&o)
        }
        _ => train(&o),
    }
    .map_err(|e| e.to_string())?;
    println!(
        "{}: {} steps in {:.0} s, final loss {:.4}, best val {}; log {}, curve {}",
        format!("{:?}", a.stage).to_lowercase(),
        report.steps,
        report.seconds,
        report.final_loss,
        report.best_val.map_or("-".into(), |v| format!("{v:.4}")),
        report.csv.display(),
        report.png.display()
    );
    Ok(())
}

#[derive(Args, Debug)]
pub struct BundleArgs {
    /// Run folders of the stages (their best checkpoints are used).
    #[arg(long)]
    pub vq: PathBuf,
    #[arg(long)]
    pub mask: PathBuf,
    #[arg(long)]
    pub res: PathBuf,
    #[arg(long)]
    pub len: Option<PathBuf>,
    /// Model configuration the stages were trained with.
    #[arg(long, default_value = "demo")]
    pub config: String,
    /// all-MiniLM-L6-v2 folder (default: $MOMASK_MINILM_DIR).
    #[arg(long)]
    pub minilm: Option<PathBuf>,
    /// f32, f16, q8 or q4-mixed.
    #[arg(long, default_value = "q8")]
    pub quantize: String,
    /// A line of provenance stored in the header (e.g. the recipe).
    #[arg(long)]
    pub note: Option<String>,
    /// Recommended guidance of the masked transformer, stored in the header: what generation
    /// uses when the caller sets none (pick it with `momask eval --cond-scale`; default: the
    /// paper's 4).
    #[arg(long)]
    pub cond_scale: Option<f32>,
    /// Recommended guidance of the residual transformer (default: the paper's 5).
    #[arg(long)]
    pub res_cond_scale: Option<f32>,
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run_bundle(a: BundleArgs) -> Result<(), String> {
    let config = model_config(&a.config)?;
    let scheme: crate::quant::Scheme = a.quantize.parse()?;
    let minilm = super::text::minilm_dir(a.minilm.as_deref()).map_err(|e| e.to_string())?;
    let mut notes = std::collections::BTreeMap::new();
    if let Some(n) = a.note {
        notes.insert("recipe".to_string(), n);
    }
    let dirs = super::assemble::StageDirs {
        vq: a.vq,
        mask: a.mask,
        res: a.res,
        len: a.len,
    };
    let guidance = crate::generate::Guidance {
        cond_scale: a.cond_scale,
        res_cond_scale: a.res_cond_scale,
    };
    let bytes =
        super::assemble::assemble(config, &dirs, &minilm, notes, guidance).map_err(|e| e.to_string())?;
    let bytes = crate::quant::quantize_bundle(&bytes, scheme).map_err(|e| e.to_string())?;
    std::fs::write(&a.out, &bytes).map_err(|e| format!("{}: {e}", a.out.display()))?;
    println!(
        "wrote {} ({:.1} MB, {})",
        a.out.display(),
        bytes.len() as f64 / 1e6,
        a.quantize
    );
    Ok(())
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// HumanML3D-layout dataset folder.
    #[arg(long)]
    pub data: PathBuf,
    /// The model bundle to evaluate.
    #[arg(long)]
    pub bundle: PathBuf,
    /// The evaluator run folder (`momask train evaluator`).
    #[arg(long)]
    pub evaluator: PathBuf,
    #[arg(long)]
    pub minilm: Option<PathBuf>,
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Replications (the reference uses 20).
    #[arg(long, default_value_t = 3)]
    pub replications: usize,
    /// Captions for multimodality, each generated --mm-repeats times (reference: 100 × 30... of which 10 pairs).
    #[arg(long, default_value_t = 32)]
    pub mm_texts: usize,
    #[arg(long, default_value_t = 10)]
    pub mm_repeats: usize,
    #[arg(long, default_value_t = 3407)]
    pub seed: u64,
    /// Mask-predict steps.
    #[arg(long, default_value_t = 10)]
    pub steps: usize,
    /// Classifier-free guidance of the masked transformer [default: the bundle's recommended
    /// scale, else the reference's 4].
    #[arg(long)]
    pub cond_scale: Option<f32>,
    /// Classifier-free guidance of the residual transformer [default: the bundle's, else the
    /// reference's 5].
    #[arg(long)]
    pub res_cond_scale: Option<f32>,
    /// Sampling temperature of the base tokens (the reference's 1).
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f32,
    #[arg(long)]
    pub max_clips: Option<usize>,
    /// Also write the report as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

pub fn run_eval(a: EvalArgs) -> Result<(), String> {
    let generate = crate::generate::GenerateOptions {
        steps: a.steps,
        temperature: a.temperature,
        ..Default::default()
    };
    let guidance = crate::generate::Guidance {
        cond_scale: a.cond_scale,
        res_cond_scale: a.res_cond_scale,
    };
    let o = super::evaluate::EvalOptions {
        data: a.data,
        bundle: a.bundle,
        evaluator: a.evaluator,
        minilm: a.minilm,
        split: a.split,
        replications: a.replications,
        mm_texts: a.mm_texts,
        mm_repeats: a.mm_repeats,
        seed: a.seed,
        generate,
        guidance,
        max_clips: a.max_clips,
    };
    let report = super::evaluate::evaluate(&o).map_err(|e| e.to_string())?;
    println!("{}", report.table());
    if let Some(path) = a.json {
        let json = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        std::fs::write(&path, json).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}
