//! The stage drivers behind `momask train vq|mask|res|len`: data, model, AdamW, the loop with
//! progress bar and CSV log, validation, checkpoints and resume, the loss-curve PNG.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::common::{
    LrSchedule, RunDir, RunState, TrainError, TrainInit, masked_accuracy, masked_cross_entropy, scalar,
    to_vec,
};
use super::data::{MIN_FRAMES, MotionSet};
use super::export::{Saver, TensorMap, save_length_estimator, save_mask, save_res, save_vq};
use super::log::{CsvLog, Progress};
use super::text::{TextFeatures, minilm_dir};
use super::vq::{QuantizerTraining, TrainingQuantizer, vq_decoder_step, vq_step};
use crate::bundle::Bundle;
use crate::config::ModelConfig;
use crate::motion::layout::HUMANML3D;
use crate::motion::recover::{denormalize, recover_from_ric};
use crate::nn::length_estimator::LengthEstimator;
use crate::nn::mask_transformer::MaskTransformer;
use crate::nn::residual_transformer::ResidualTransformer;
use crate::nn::vq::RvqVae;
use crate::nn::weights::{LoadError, Loader, WeightSource};
use crate::sample::rng::Rng;
use crate::synth::dataset::HumanMl3dDataset;

/// Which network a run trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Vq,
    Mask,
    Res,
    Len,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Self::Vq => "vq",
            Self::Mask => "mask",
            Self::Res => "res",
            Self::Len => "len",
        }
    }
}

/// Options of one training run (CLI flags; defaults per stage in [`StageOptions::defaults`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageOptions {
    pub stage: Stage,
    /// HumanML3D-layout directory.
    pub data: PathBuf,
    /// Output folder of this stage.
    pub out: PathBuf,
    pub config: ModelConfig,
    pub iters: usize,
    pub batch: usize,
    pub schedule: LrSchedule,
    pub weight_decay: f32,
    pub beta2: f32,
    /// Gradient-norm clipping (the length estimator's 0.5).
    pub clip_grad: Option<f32>,
    pub seed: u64,
    pub checkpoint_every: usize,
    pub val_every: usize,
    /// Condition dropout (0.1 masked, 0.2 residual).
    pub cond_drop: f32,
    /// Gaussian noise on the kept condition rows, as a fraction of their norm (0: the
    /// reference; see `cond_tensor`).
    #[serde(default)]
    pub cond_noise: f32,
    /// The trained VQ run folder (mask / res stages).
    pub vq_dir: Option<PathBuf>,
    /// MiniLM folder (else `$MOMASK_MINILM_DIR`).
    pub minilm: Option<PathBuf>,
    /// Use only the first N motions of each split (smoke tests).
    pub max_clips: Option<usize>,
    /// Motion window for the VQ (64).
    pub window: usize,
    /// A model bundle whose networks start a fresh run instead of spec §7's random init
    /// (continuing a shipped model whose run folders are gone).
    #[serde(default)]
    pub init: Option<PathBuf>,
    /// VQ only: train the decoder alone on the frozen encoder's nearest-code ids (all layers,
    /// as at inference). The codes, and with them the transformers' targets, stay unchanged.
    #[serde(default)]
    pub decoder_only: bool,
}

impl StageOptions {
    /// Spec §7's settings, with iteration counts and milestones scaled to `iters`.
    pub fn defaults(stage: Stage, data: PathBuf, out: PathBuf, config: ModelConfig, iters: usize) -> Self {
        let (batch, base, milestones, gamma, wd, beta2, cond_drop, clip) = match stage {
            // MultiStepLR at 150k/250k of 340k iterations, gamma 0.05 (README command).
            Stage::Vq => (
                256,
                2e-4,
                vec![iters * 44 / 100, iters * 73 / 100],
                0.05,
                0.0,
                0.99,
                0.0,
                None,
            ),
            // Milestone 50k of ~180k iterations.
            Stage::Mask => (64, 2e-4, vec![iters * 28 / 100], 0.1, 1e-5, 0.99, 0.1, None),
            Stage::Res => (64, 2e-4, vec![iters * 28 / 100], 0.1, 1e-5, 0.99, 0.2, None),
            Stage::Len => (64, 1e-4, vec![], 1.0, 0.0, 0.999, 0.0, Some(0.5)),
        };
        Self {
            stage,
            data,
            out,
            config,
            iters,
            batch,
            schedule: LrSchedule {
                base,
                warmup: 2000.min(iters / 10),
                milestones,
                gamma,
            },
            weight_decay: wd,
            beta2,
            clip_grad: clip,
            seed: 3407,
            checkpoint_every: 500,
            val_every: 500,
            cond_drop,
            cond_noise: 0.0,
            vq_dir: None,
            minilm: None,
            max_clips: None,
            window: 64,
            init: None,
            decoder_only: false,
        }
    }
}

/// What a finished run reports.
#[derive(Debug, Clone, Serialize)]
pub struct StageReport {
    pub stage: Stage,
    pub steps: usize,
    pub seconds: f64,
    pub final_loss: f64,
    /// Best validation metric (VQ: MPJPE mm; transformers: loss; length: loss).
    pub best_val: Option<f64>,
    pub csv: PathBuf,
    pub png: PathBuf,
}

fn optimizer(o: &StageOptions) -> ModuleOptimizer {
    let mut c = AdamWConfig::new()
        .with_beta_1(0.9)
        .with_beta_2(o.beta2)
        .with_epsilon(1e-8)
        .with_weight_decay(o.weight_decay);
    if let Some(clip) = o.clip_grad {
        c = c.with_grad_clipping(Some(burn::grad_clipping::GradientClippingConfig::Norm(clip)));
    }
    c.init()
}

/// `norm.mean` / `norm.std` of the dataset (the VQ meta stats).
fn dataset_stats(ds: &HumanMl3dDataset) -> Result<(Vec<f32>, Vec<f32>), TrainError> {
    Ok(ds.mean_std().map_err(super::data::DataError::from)?)
}

/// Loads `prefix.*` of a checkpoint into a network built by `build`.
fn from_map<T>(
    map: &mut TensorMap,
    prefix: &str,
    device: &Device,
    build: impl FnOnce(&mut Loader) -> Result<T, LoadError>,
) -> Result<T, TrainError> {
    let mut l = Loader::new(map, device);
    Ok(build(&mut l.sub(prefix))?)
}

fn init_source(seed: u64) -> TrainInit {
    TrainInit::new(seed ^ 0x1A17)
}

/// A fresh run's network `prefix`: from `o.init`'s bundle if given (its config must match),
/// else spec §7's random init.
fn fresh<T>(
    o: &StageOptions,
    prefix: &str,
    device: &Device,
    build: impl FnOnce(&mut Loader) -> Result<T, LoadError>,
) -> Result<T, TrainError> {
    let Some(path) = &o.init else {
        return from_map_source(&mut init_source(o.seed), prefix, device, build);
    };
    let bytes = std::fs::read(path).map_err(|e| super::common::io_error(path, e))?;
    let invalid = |e: &dyn std::fmt::Display| TrainError::Invalid(format!("--init {}: {e}", path.display()));
    let bundle = Bundle::from_bytes(&bytes).map_err(|e| invalid(&e))?;
    if bundle.header.config != o.config {
        return Err(invalid(&"the bundle's model configuration differs from --config"));
    }
    let net = from_map_source(&mut bundle.weights(""), prefix, device, build)?;
    eprintln!("{prefix}: initialised from {}", path.display());
    Ok(net)
}

/// Loads the trained VQ (eval mode, plain device) and its stats from a VQ run folder, or from
/// a model bundle file.
pub fn load_trained_vq(
    dir: &Path,
    config: &ModelConfig,
    device: &Device,
) -> Result<(RvqVae, Vec<f32>, Vec<f32>), TrainError> {
    if dir.is_file() {
        let bytes = std::fs::read(dir).map_err(|e| super::common::io_error(dir, e))?;
        let bundle =
            Bundle::from_bytes(&bytes).map_err(|e| TrainError::Invalid(format!("{}: {e}", dir.display())))?;
        let mut source = bundle.weights("");
        let vq = from_map_source(&mut source, "vq", device, |l| RvqVae::load(l, &config.vq))?;
        let dim = config.vq.dim_pose;
        let mean = source.take("norm.mean", &[dim])?;
        let std = source.take("norm.std", &[dim])?;
        return Ok((vq, mean, std));
    }
    let path = if dir.join("best.safetensors").exists() {
        dir.join("best.safetensors")
    } else {
        dir.join("latest.safetensors")
    };
    let mut map = TensorMap::open(&path)?;
    let vq = from_map(&mut map, "vq", device, |l| RvqVae::load(l, &config.vq))?;
    let dim = config.vq.dim_pose;
    let mean = map.take("norm.mean", &[dim])?;
    let std = map.take("norm.std", &[dim])?;
    Ok((vq, mean, std))
}

struct Loop {
    log: CsvLog,
    progress: Progress,
    started: Instant,
    seconds_before: f64,
}

impl Loop {
    fn new(run: &RunDir, columns: &[&str], state: &RunState, total: usize) -> Result<Self, TrainError> {
        let log = CsvLog::resume(&run.dir, &run.stage, columns, state.step as u64)?;
        let progress = Progress::new(total as u64, state.step as u64, &run.stage);
        Ok(Self {
            log,
            progress,
            started: Instant::now(),
            seconds_before: state.seconds,
        })
    }

    fn seconds(&self) -> f64 {
        self.seconds_before + self.started.elapsed().as_secs_f64()
    }
}

fn finish(
    run: &RunDir,
    o: &StageOptions,
    lp: Loop,
    state: &RunState,
    final_loss: f64,
    columns: &[&str],
) -> Result<StageReport, TrainError> {
    lp.progress.finish();
    let csv = lp.log.path().to_path_buf();
    let png = run.path(&format!("{}.png", run.stage));
    super::plot::plot_csv(&csv, &png, &format!("momask train {}", run.stage), columns)?;
    Ok(StageReport {
        stage: o.stage,
        steps: state.step,
        seconds: state.seconds,
        final_loss,
        best_val: state.best.map(|b| b.0),
        csv,
        png,
    })
}

/// Trains the RVQ-VAE (spec §7.1).
pub fn train_vq(o: &StageOptions) -> Result<StageReport, TrainError> {
    let plain = Device::flex();
    let device = plain.clone().autodiff();
    let ds = HumanMl3dDataset::open(&o.data).map_err(super::data::DataError::from)?;
    let (mean, std) = dataset_stats(&ds)?;
    let train = MotionSet::load(&ds, "train", &mean, &std, o.window, false, o.max_clips)?;
    let val = MotionSet::load(&ds, "val", &mean, &std, o.window, false, o.max_clips)?;
    eprintln!(
        "vq: {} train clips ({} frames), {} val clips",
        train.clips.len(),
        train.frames(),
        val.clips.len()
    );
    let run = RunDir::new(&o.out, "vq")?;
    let c = &o.config.vq;
    let resumed = run.resume()?;
    let (mut state, mut vq, initialised) = match resumed {
        Some((state, mut map)) => {
            let vq = from_map(&mut map, "vq", &device, |l| RvqVae::load(l, c))?;
            eprintln!("vq: resuming at step {}", state.step);
            (state, vq, true)
        }
        None => {
            let vq = fresh(o, "vq", &device, |l| RvqVae::load(l, c))?;
            let state = RunState {
                stage: "vq".into(),
                seed: o.seed,
                extra: serde_json::to_value(o).unwrap_or_default(),
                ..Default::default()
            };
            (state, vq, o.init.is_some())
        }
    };
    vq.codebooks = vq.codebooks.clone().set_require_grad(false);
    let mut quantizer = TrainingQuantizer::new(&vq, initialised, QuantizerTraining::default());
    // Decoder fine-tuning: encoder and codebooks frozen as they are now.
    let frozen = if o.decoder_only {
        if !initialised {
            return Err(TrainError::Invalid(
                "vq --decoder-only needs a trained VQ: resume a run or pass --init <bundle>".into(),
            ));
        }
        eprintln!("vq: decoder only (encoder and codebooks frozen)");
        Some(vq.valid())
    } else {
        None
    };
    let mut optim = optimizer(o);
    let columns = [
        "loss",
        "rec",
        "explicit",
        "commit",
        "perplexity",
        "lr",
        "val_mpjpe_mm",
    ];
    let mut lp = Loop::new(&run, &columns, &state, o.iters)?;
    let ric = HUMANML3D.ric_range();
    let mut last = f64::NAN;
    // A fixed validation set of windows.
    let val_windows = val.sample_windows(&mut Rng::new(o.seed ^ 0x5A1), 128, o.window);
    while state.step < o.iters {
        let it = state.step;
        let mut rng = Rng::fork(o.seed, it as u64);
        let x = train.sample_windows(&mut rng, o.batch, o.window);
        let data = TensorData::new(x, [o.batch, o.window, train.dim]);
        let losses = match &frozen {
            Some(frozen) => {
                let x_plain = Tensor::<3>::from_data(data.clone(), &plain);
                let x = Tensor::<3>::from_data(data, &device);
                vq_decoder_step(&vq, frozen, x, x_plain, ric.clone())?
            }
            None => {
                let x = Tensor::<3>::from_data(data, &device);
                vq_step(&vq, &mut quantizer, x, &mut rng, ric.clone())?
            }
        };
        let loss = scalar(losses.total.clone().detach());
        if !loss.is_finite() {
            return Err(TrainError::Invalid(format!(
                "vq: loss became {loss} at step {it}"
            )));
        }
        let grads = GradientsParams::from_grads(losses.total.backward(), &vq);
        let lr = o.schedule.at(it);
        vq = optim.step(lr, vq, grads);
        state.step += 1;
        last = loss;
        let mut val_mpjpe = f64::NAN;
        let checkpoint = state.step.is_multiple_of(o.checkpoint_every) || state.step == o.iters;
        if state.step.is_multiple_of(o.val_every) || state.step == o.iters {
            let mut eval_vq = vq.valid();
            quantizer.store(&mut eval_vq, &plain);
            val_mpjpe = vq_mpjpe(&eval_vq, &val_windows, o.window, &mean, &std)?;
            lp.progress.println(format!(
                "vq step {}: loss {loss:.4} rec {:.4} perplexity {:.1} val MPJPE {val_mpjpe:.2} mm",
                state.step, losses.rec, losses.perplexity
            ));
            if state.best.is_none_or(|(b, _)| val_mpjpe < b) {
                state.best = Some((val_mpjpe, state.step));
                state.seconds = lp.seconds();
                run.save(&vq_map(&eval_vq, &mean, &std), &state, true)?;
            }
        }
        lp.log.row(
            state.step as u64,
            &[
                loss,
                losses.rec,
                losses.explicit,
                losses.commit,
                losses.perplexity,
                lr,
                val_mpjpe,
            ],
        )?;
        lp.progress.update(state.step as u64, loss);
        if checkpoint {
            state.seconds = lp.seconds();
            let mut eval_vq = vq.valid();
            quantizer.store(&mut eval_vq, &plain);
            run.save(&vq_map(&eval_vq, &mean, &std), &state, false)?;
        }
    }
    finish(&run, o, lp, &state, last, &["loss", "rec", "commit"])
}

fn from_map_source<T>(
    source: &mut dyn WeightSource,
    prefix: &str,
    device: &Device,
    build: impl FnOnce(&mut Loader) -> Result<T, LoadError>,
) -> Result<T, TrainError> {
    let mut l = Loader::new(source, device);
    Ok(build(&mut l.sub(prefix))?)
}

fn vq_map(vq: &RvqVae, mean: &[f32], std: &[f32]) -> TensorMap {
    let mut map = TensorMap::default();
    save_vq(&mut Saver::new(&mut map).sub("vq"), vq);
    let mut s = Saver::new(&mut map);
    s.values("norm.mean", vec![mean.len()], mean.to_vec());
    s.values("norm.std", vec![std.len()], std.to_vec());
    map
}

/// Mean per-joint position error (mm) of VQ reconstructions of normalised windows, root-relative
/// as the reference's `evaluation_vqvae_plus_mpjpe` (joint 0 subtracted per frame, GT and
/// reconstruction separately).
pub fn vq_mpjpe(
    vq: &RvqVae,
    windows: &[f32],
    window: usize,
    mean: &[f32],
    std: &[f32],
) -> Result<f64, TrainError> {
    let dim = mean.len();
    let b = windows.len() / (window * dim);
    let device = vq.codebooks.val().device();
    let x = Tensor::<3>::from_data(TensorData::new(windows.to_vec(), [b, window, dim]), &device);
    let (ids, [_, n, q]) = pollster::block_on(vq.encode(x))?;
    let recon = to_vec(vq.decode_ids(&ids, b, n, q));
    let mut total = 0.0;
    let mut count = 0usize;
    for i in 0..b {
        let gt = &windows[i * window * dim..(i + 1) * window * dim];
        let re = &recon[i * window * dim..(i + 1) * window * dim];
        let gt = recover_from_ric(
            &denormalize(gt, mean, std).map_err(crate::Error::from)?,
            window,
            &HUMANML3D,
        )
        .map_err(crate::Error::from)?;
        let re = recover_from_ric(
            &denormalize(re, mean, std).map_err(crate::Error::from)?,
            window,
            &HUMANML3D,
        )
        .map_err(crate::Error::from)?;
        let joints = gt.joints;
        for (fa, fe) in gt
            .data
            .chunks_exact(joints * 3)
            .zip(re.data.chunks_exact(joints * 3))
        {
            for (a, e) in fa.chunks_exact(3).zip(fe.chunks_exact(3)) {
                let d: f32 = (0..3).map(|k| ((a[k] - fa[k]) - (e[k] - fe[k])).powi(2)).sum();
                total += (d as f64).sqrt();
                count += 1;
            }
        }
    }
    Ok(1000.0 * total / count.max(1) as f64)
}

/// Base-to-last-layer VQ codes of every clip at each start offset modulo the unit length, so
/// the transformers look crops up instead of running the encoder every step.
pub struct ClipTokens {
    /// `[clip][offset]` → `[N_tokens × Q]` ids.
    pub ids: Vec<Vec<Vec<i64>>>,
    pub num_quantizers: usize,
}

impl ClipTokens {
    pub fn encode(set: &MotionSet, vq: &RvqVae, unit: usize) -> Result<Self, TrainError> {
        let started = Instant::now();
        let device = vq.codebooks.val().device();
        let dim = set.dim;
        let mut ids = Vec::with_capacity(set.clips.len());
        let mut q_out = 0;
        for clip in &set.clips {
            let mut per_offset = Vec::with_capacity(unit);
            for off in 0..unit {
                let frames = (clip.frames - off) / unit * unit;
                if frames == 0 {
                    per_offset.push(Vec::new());
                    continue;
                }
                let x = clip.features[off * dim..(off + frames) * dim].to_vec();
                let x = Tensor::<3>::from_data(TensorData::new(x, [1, frames, dim]), &device);
                let (codes, [_, _, q]) = pollster::block_on(vq.encode(x))?;
                q_out = q;
                per_offset.push(codes);
            }
            ids.push(per_offset);
        }
        eprintln!(
            "  tokenised {} clips × {unit} offsets in {:.0} s",
            set.clips.len(),
            started.elapsed().as_secs_f64()
        );
        Ok(Self {
            ids,
            num_quantizers: q_out,
        })
    }
}

/// A token batch for the transformers: ids `[B, N, Q]` with `pad` past each length, text
/// caption indices and lengths in tokens.
struct TokenBatch {
    ids: Vec<i64>,
    token_lens: Vec<usize>,
    texts: Vec<usize>,
    n: usize,
    q: usize,
}

/// Samples clips, a caption each, the 1/3 "one unit shorter" crop and a random offset, and
/// looks the crop's codes up (spec §7.2).
fn token_batch(
    set: &MotionSet,
    tokens: &ClipTokens,
    rng: &mut Rng,
    batch: usize,
    n: usize,
    unit: usize,
    pad: i64,
) -> TokenBatch {
    let q = tokens.num_quantizers;
    let mut ids = vec![pad; batch * n * q];
    let mut token_lens = Vec::with_capacity(batch);
    let mut texts = Vec::with_capacity(batch);
    for b in 0..batch {
        let ci = rng.below(set.clips.len());
        let clip = &set.clips[ci];
        let len = clip.frames.min(n * unit);
        let units = len / unit;
        let m = if units > 1 && rng.below(3) == 0 {
            units - 1
        } else {
            units
        };
        let start = rng.below(clip.frames - m * unit + 1);
        let (off, first) = (start % unit, start / unit);
        let codes = &tokens.ids[ci][off];
        let avail = codes.len() / q;
        let m = m.min(avail.saturating_sub(first));
        for t in 0..m {
            for j in 0..q {
                ids[(b * n + t) * q + j] = codes[(first + t) * q + j];
            }
        }
        token_lens.push(m);
        texts.push(clip.captions[rng.below(clip.captions.len())]);
    }
    TokenBatch {
        ids,
        token_lens,
        texts,
        n,
        q,
    }
}

/// Text features for the transformer stages: every caption of train and val.
pub(crate) fn text_features(o: &StageOptions, device: &Device) -> Result<TextFeatures, TrainError> {
    let ds = HumanMl3dDataset::open(&o.data).map_err(super::data::DataError::from)?;
    let minilm = minilm_dir(o.minilm.as_deref())?;
    std::fs::create_dir_all(&o.out).map_err(|e| super::common::io_error(&o.out, e))?;
    Ok(super::text::dataset_features(&ds, &minilm, &o.out, device)?)
}

/// The condition rows of a batch: each caption's sentence feature, zeros where dropped (CFG's
/// unconditional branch). `noise` (a fraction of each row's norm; 0 = the reference) adds
/// isotropic Gaussian noise to the kept rows: training the transformers not to react to
/// feature changes of the size int8 weights cause in the text encoder.
fn cond_tensor(
    set: &MotionSet,
    text: &TextFeatures,
    caption_ids: &[usize],
    drop: &[bool],
    noise: Option<(f32, &mut Rng)>,
    device: &Device,
) -> Tensor<2> {
    let mut noise = noise.filter(|(scale, _)| *scale > 0.0);
    let rows: Vec<f32> = caption_ids
        .iter()
        .zip(drop)
        .flat_map(|(&i, &d)| {
            let mut row = text
                .get(&set.texts[i])
                .map(<[f32]>::to_vec)
                .unwrap_or_else(|| vec![0.0; text.dim]);
            if d {
                return vec![0.0; text.dim];
            }
            if let Some((scale, rng)) = noise.as_mut() {
                let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
                let sigma = *scale * norm / (text.dim as f32).sqrt();
                for x in &mut row {
                    *x += sigma * rng.normal();
                }
            }
            row
        })
        .collect();
    Tensor::from_data(TensorData::new(rows, [caption_ids.len(), text.dim]), device)
}

fn padding_mask(token_lens: &[usize], n: usize, device: &Device) -> Tensor<2, Bool> {
    let v: Vec<bool> = token_lens
        .iter()
        .flat_map(|&m| (0..n).map(move |t| t >= m))
        .collect();
    Tensor::from_data(TensorData::new(v, [token_lens.len(), n]), device)
}

/// Mask-transformer inputs, targets and weights for one batch (spec §7.2).
fn mask_inputs(batch: &TokenBatch, rng: &mut Rng, v: usize) -> (Vec<i64>, Vec<i64>, Vec<f32>) {
    let (n, q) = (batch.n, batch.q);
    let (mask_id, pad_id) = (v as i64, v as i64 + 1);
    let b = batch.token_lens.len();
    let mut input = vec![pad_id; b * n];
    let mut target = vec![0i64; b * n];
    let mut weight = vec![0f32; b * n];
    for i in 0..b {
        let m = batch.token_lens[i];
        let ratio = (rng.uniform() * std::f64::consts::FRAC_PI_2).cos();
        let k = ((n as f64 * ratio).round() as usize).max(1);
        // k positions uniformly among all N (padded count, as the reference), then ∧ not pad.
        let mut order: Vec<(f32, usize)> = (0..n).map(|t| (rng.uniform_f32(), t)).collect();
        order.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut chosen = vec![false; n];
        for &(_, t) in order.iter().take(k) {
            chosen[t] = true;
        }
        for (t, &is_chosen) in chosen.iter().enumerate().take(m) {
            let idx = i * n + t;
            let id = batch.ids[idx * q];
            input[idx] = id;
            if is_chosen {
                target[idx] = id;
                weight[idx] = 1.0;
                if rng.uniform_f32() < 0.1 {
                    input[idx] = rng.below(v) as i64;
                } else if rng.uniform_f32() < 0.88 {
                    input[idx] = mask_id;
                }
            }
        }
    }
    (input, target, weight)
}

/// The shared set-up of the mask and residual stages.
struct TransformerData {
    train: MotionSet,
    val: MotionSet,
    train_tokens: ClipTokens,
    val_tokens: ClipTokens,
    text: TextFeatures,
}

fn transformer_data(o: &StageOptions, plain: &Device) -> Result<TransformerData, TrainError> {
    let vq_dir = o
        .vq_dir
        .as_ref()
        .ok_or_else(|| TrainError::Invalid("the mask/res stages need --vq <trained VQ run folder>".into()))?;
    let (vq, mean, std) = load_trained_vq(vq_dir, &o.config, plain)?;
    let ds = HumanMl3dDataset::open(&o.data).map_err(super::data::DataError::from)?;
    let train = MotionSet::load(&ds, "train", &mean, &std, MIN_FRAMES, true, o.max_clips)?;
    let val = MotionSet::load(&ds, "val", &mean, &std, MIN_FRAMES, true, o.max_clips)?;
    let unit = o.config.vq.unit_length();
    eprintln!(
        "{}: {} train clips, {} val clips",
        o.stage.name(),
        train.clips.len(),
        val.clips.len()
    );
    let text = text_features(o, plain)?;
    std::fs::create_dir_all(&o.out).map_err(|e| super::common::io_error(&o.out, e))?;
    let train_tokens = ClipTokens::encode(&train, &vq, unit)?;
    let val_tokens = ClipTokens::encode(&val, &vq, unit)?;
    Ok(TransformerData {
        train,
        val,
        train_tokens,
        val_tokens,
        text,
    })
}

/// Trains the masked transformer (spec §7.2).
pub fn train_mask(o: &StageOptions) -> Result<StageReport, TrainError> {
    let plain = Device::flex();
    let device = plain.clone().autodiff();
    let data = transformer_data(o, &plain)?;
    let c = &o.config.mask;
    let run = RunDir::new(&o.out, "mask")?;
    let (state, mut model) = resume_or_init(&run, o, &device, |l| MaskTransformer::load(l, c))?;
    model.position_enc = model.position_enc.clone().set_require_grad(false);
    let (n, unit, v) = (o.config.max_tokens(), o.config.vq.unit_length(), c.num_tokens);
    fit(
        o,
        &run,
        state,
        model,
        |model, rng| {
            let batch = token_batch(
                &data.train,
                &data.train_tokens,
                rng,
                o.batch,
                n,
                unit,
                v as i64 + 1,
            );
            mask_loss(
                model,
                &data.train,
                &data.text,
                &batch,
                rng,
                v,
                o.cond_drop,
                o.cond_noise,
                &device,
            )
        },
        |eval| mask_validation(eval, &data, o, &plain),
        save_mask,
    )
}

fn new_state(stage: &str, o: &StageOptions) -> RunState {
    RunState {
        stage: stage.into(),
        seed: o.seed,
        extra: serde_json::to_value(o).unwrap_or_default(),
        ..Default::default()
    }
}

fn net_map(prefix: &str, save: impl FnOnce(&mut Saver)) -> TensorMap {
    let mut map = TensorMap::default();
    save(&mut Saver::new(&mut map).sub(prefix));
    map
}

#[allow(clippy::too_many_arguments)]
fn mask_loss(
    model: &MaskTransformer,
    set: &MotionSet,
    text: &TextFeatures,
    batch: &TokenBatch,
    rng: &mut Rng,
    v: usize,
    cond_drop: f32,
    cond_noise: f32,
    device: &Device,
) -> (Tensor<1>, f64) {
    let b = batch.token_lens.len();
    let n = batch.n;
    let (input, target, weight) = mask_inputs(batch, rng, v);
    let drop: Vec<bool> = (0..b).map(|_| rng.uniform_f32() < cond_drop).collect();
    let cond = cond_tensor(set, text, &batch.texts, &drop, Some((cond_noise, rng)), device);
    let ids = Tensor::<2, Int>::from_data(TensorData::new(input, [b, n]), device);
    let padding = padding_mask(&batch.token_lens, n, device);
    let logits = model.forward(ids, cond, padding);
    let acc = masked_accuracy(logits.clone().detach(), &target, &weight);
    let (loss, _) = masked_cross_entropy(logits, &target, &weight, device);
    (loss, acc)
}

/// Loss and accuracy on a fixed set of validation batches (no condition dropout).
fn mask_validation(
    model: &MaskTransformer,
    data: &TransformerData,
    o: &StageOptions,
    device: &Device,
) -> (f64, f64) {
    let (mut loss, mut acc) = (0.0, 0.0);
    let batches = 4;
    let n = o.config.max_tokens();
    let v = o.config.mask.num_tokens;
    for k in 0..batches {
        let mut rng = Rng::fork(o.seed ^ 0xBA1, k);
        let batch = token_batch(
            &data.val,
            &data.val_tokens,
            &mut rng,
            64,
            n,
            o.config.vq.unit_length(),
            v as i64 + 1,
        );
        let (l, a) = mask_loss(
            model, &data.val, &data.text, &batch, &mut rng, v, 0.0, 0.0, device,
        );
        loss += scalar(l);
        acc += a;
    }
    (loss / batches as f64, acc / batches as f64)
}

/// Residual-transformer loss for one batch: target layers drawn per sample (spec §7.3), the
/// batch run as one forward per distinct layer.
#[allow(clippy::too_many_arguments)]
fn res_loss(
    model: &ResidualTransformer,
    set: &MotionSet,
    text: &TextFeatures,
    batch: &TokenBatch,
    rng: &mut Rng,
    v: usize,
    cond_drop: f32,
    cond_noise: f32,
    device: &Device,
) -> (Tensor<1>, f64) {
    let (n, q_all) = (batch.n, batch.q);
    let b = batch.token_lens.len();
    let pad = v as i64;
    let layers: Vec<usize> = (0..b)
        .map(|_| {
            let u = rng.uniform();
            ((1.0 - (u * std::f64::consts::FRAC_PI_2).cos()) * (q_all - 2) as f64).round() as usize + 1
        })
        .collect();
    let drop: Vec<bool> = (0..b).map(|_| rng.uniform_f32() < cond_drop).collect();
    let mut total: Option<Tensor<1>> = None;
    let (mut hits, mut count) = (0.0, 0.0);
    for q in 1..q_all {
        let members: Vec<usize> = (0..b).filter(|&i| layers[i] == q).collect();
        if members.is_empty() {
            continue;
        }
        let bm = members.len();
        let lens: Vec<usize> = members.iter().map(|&i| batch.token_lens[i]).collect();
        let texts: Vec<usize> = members.iter().map(|&i| batch.texts[i]).collect();
        let drops: Vec<bool> = members.iter().map(|&i| drop[i]).collect();
        let layer_ids = |j: usize| -> Vec<i64> {
            members
                .iter()
                .flat_map(|&i| (0..n).map(move |t| (i, t)))
                .map(|(i, t)| {
                    if t < batch.token_lens[i] {
                        batch.ids[(i * n + t) * q_all + j]
                    } else {
                        pad
                    }
                })
                .collect()
        };
        let mut history = Tensor::<3>::zeros([bm, n, o_code_dim(model)], device);
        for j in 0..q {
            let ids = Tensor::<2, Int>::from_data(TensorData::new(layer_ids(j), [bm, n]), device);
            history = model.embed_layer(history, j, ids);
        }
        let target = layer_ids(q);
        let weight: Vec<f32> = target.iter().map(|&t| if t == pad { 0.0 } else { 1.0 }).collect();
        let target: Vec<i64> = target.iter().map(|&t| if t == pad { 0 } else { t }).collect();
        let cond = cond_tensor(set, text, &texts, &drops, Some((cond_noise, &mut *rng)), device);
        let logits = model.forward(history, q, cond, padding_mask(&lens, n, device));
        let w: f32 = weight.iter().sum();
        let acc = masked_accuracy(logits.clone().detach(), &target, &weight);
        hits += acc * w as f64;
        count += w as f64;
        // Sum of per-position losses; normalised by the batch's position count below, so the
        // result is the reference's mean over all non-pad positions.
        let (loss, positions) = masked_cross_entropy(logits, &target, &weight, device);
        let loss = loss * positions;
        total = Some(match total {
            Some(t) => t + loss,
            None => loss,
        });
    }
    let total = total.unwrap_or_else(|| Tensor::zeros([1], device)) / count.max(1.0) as f32;
    (total, if count > 0.0 { hits / count } else { 0.0 })
}

fn o_code_dim(model: &ResidualTransformer) -> usize {
    model.pose_embedding.weight.val().dims()[0]
}

/// Trains the residual transformer (spec §7.3).
pub fn train_res(o: &StageOptions) -> Result<StageReport, TrainError> {
    let plain = Device::flex();
    let device = plain.clone().autodiff();
    let data = transformer_data(o, &plain)?;
    let c = &o.config.res;
    let run = RunDir::new(&o.out, "res")?;
    let (state, mut model) = resume_or_init(&run, o, &device, |l| ResidualTransformer::load(l, c))?;
    model.position_enc = model.position_enc.clone().set_require_grad(false);
    let (n, unit, v) = (o.config.max_tokens(), o.config.vq.unit_length(), c.num_tokens);
    fit(
        o,
        &run,
        state,
        model,
        |model, rng| {
            let batch = token_batch(&data.train, &data.train_tokens, rng, o.batch, n, unit, v as i64);
            res_loss(
                model,
                &data.train,
                &data.text,
                &batch,
                rng,
                v,
                o.cond_drop,
                o.cond_noise,
                &device,
            )
        },
        |eval| {
            // A fixed set of validation batches, no condition dropout.
            let batches = 4;
            let (mut l, mut a) = (0.0, 0.0);
            for k in 0..batches {
                let mut rng = Rng::fork(o.seed ^ 0xBA1, k);
                let batch = token_batch(&data.val, &data.val_tokens, &mut rng, 64, n, unit, v as i64);
                let (bl, ba) = res_loss(eval, &data.val, &data.text, &batch, &mut rng, v, 0.0, 0.0, &plain);
                l += scalar(bl);
                a += ba;
            }
            (l / batches as f64, a / batches as f64)
        },
        save_res,
    )
}

/// Trains the length estimator (spec §5): text feature → token length, cross-entropy, Adam with
/// gradient-norm clipping 0.5.
pub fn train_len(o: &StageOptions) -> Result<StageReport, TrainError> {
    let plain = Device::flex();
    let device = plain.clone().autodiff();
    let ds = HumanMl3dDataset::open(&o.data).map_err(super::data::DataError::from)?;
    let (mean, std) = dataset_stats(&ds)?;
    let train = MotionSet::load(&ds, "train", &mean, &std, MIN_FRAMES, false, o.max_clips)?;
    let val = MotionSet::load(&ds, "val", &mean, &std, MIN_FRAMES, false, o.max_clips)?;
    let text = text_features(o, &plain)?;
    let c = o
        .config
        .length_estimator
        .as_ref()
        .ok_or_else(|| TrainError::Invalid("this model config has no length estimator".into()))?;
    let run = RunDir::new(&o.out, "len")?;
    let (state, model) = resume_or_init(&run, o, &device, |l| LengthEstimator::load(l, c))?;
    let unit = o.config.vq.unit_length();
    let classes = c.output_size;
    // (caption, token length) pairs; the target is the clip's length in tokens.
    let items = |set: &MotionSet| -> Vec<(usize, i64)> {
        set.clips
            .iter()
            .flat_map(|clip| {
                let len =
                    ((clip.frames.min(o.config.max_motion_length) / unit) as i64).min(classes as i64 - 1);
                clip.captions.iter().map(move |&t| (t, len))
            })
            .collect()
    };
    let train_items = items(&train);
    let val_items = items(&val);
    let loss_and_accuracy =
        |model: &LengthEstimator, set: &MotionSet, chosen: &[(usize, i64)], dev: &Device| {
            let ids: Vec<usize> = chosen.iter().map(|c| c.0).collect();
            let cond = cond_tensor(set, &text, &ids, &vec![false; ids.len()], None, dev);
            let targets: Vec<i64> = chosen.iter().map(|c| c.1).collect();
            let logits = model.forward(cond).reshape([chosen.len(), 1, classes]);
            let weight = vec![1.0; chosen.len()];
            let acc = masked_accuracy(logits.clone().detach(), &targets, &weight);
            (masked_cross_entropy(logits, &targets, &weight, dev).0, acc)
        };
    fit(
        o,
        &run,
        state,
        model,
        |model, rng| {
            let chosen: Vec<(usize, i64)> = (0..o.batch)
                .map(|_| train_items[rng.below(train_items.len())])
                .collect();
            loss_and_accuracy(model, &train, &chosen, &device)
        },
        |eval| {
            let (loss, acc) = loss_and_accuracy(eval, &val, &val_items, &plain);
            (scalar(loss), acc)
        },
        save_length_estimator,
    )
}

/// A stage's network from its run folder's `latest` checkpoint, or freshly initialised
/// (spec §7's init) with a new run state.
fn resume_or_init<M>(
    run: &RunDir,
    o: &StageOptions,
    device: &Device,
    build: impl FnOnce(&mut Loader) -> Result<M, LoadError>,
) -> Result<(RunState, M), TrainError> {
    let prefix = run.stage.clone();
    match run.resume()? {
        Some((state, mut map)) => Ok((state, from_map(&mut map, &prefix, device, build)?)),
        None => Ok((new_state(&prefix, o), fresh(o, &prefix, device, build)?)),
    }
}

/// The supervised loop of the mask, residual and length stages: `step` gives the loss and
/// accuracy of one training batch → backward → AdamW; every `val_every` steps `validate` (on a
/// plain-device copy) gives validation loss and accuracy and the best checkpoint is kept; a CSV
/// row and the progress bar every step; `latest` every `checkpoint_every` steps.
fn fit<M: Module>(
    o: &StageOptions,
    run: &RunDir,
    mut state: RunState,
    mut model: M,
    mut step: impl FnMut(&M, &mut Rng) -> (Tensor<1>, f64),
    mut validate: impl FnMut(&M) -> (f64, f64),
    save: impl Fn(&mut Saver, &M),
) -> Result<StageReport, TrainError> {
    let name = run.stage.clone();
    let mut optim = optimizer(o);
    let columns = ["loss", "acc", "lr", "val_loss", "val_acc"];
    let mut lp = Loop::new(run, &columns, &state, o.iters)?;
    let mut last = f64::NAN;
    while state.step < o.iters {
        let it = state.step;
        let mut rng = Rng::fork(o.seed, it as u64);
        let (loss, acc) = step(&model, &mut rng);
        let loss_value = scalar(loss.clone().detach());
        if !loss_value.is_finite() {
            return Err(TrainError::Invalid(format!(
                "{name}: loss became {loss_value} at step {it}"
            )));
        }
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let lr = o.schedule.at(it);
        model = optim.step(lr, model, grads);
        state.step += 1;
        last = loss_value;
        let (mut val_loss, mut val_acc) = (f64::NAN, f64::NAN);
        if state.step.is_multiple_of(o.val_every) || state.step == o.iters {
            let eval = model.valid();
            (val_loss, val_acc) = validate(&eval);
            lp.progress.println(format!(
                "{name} step {}: loss {loss_value:.4} acc {acc:.3} | val loss {val_loss:.4} acc {val_acc:.3}",
                state.step
            ));
            if state.best.is_none_or(|(b, _)| val_loss < b) {
                state.best = Some((val_loss, state.step));
                state.seconds = lp.seconds();
                run.save(&net_map(&name, |s| save(s, &eval)), &state, true)?;
            }
        }
        lp.log
            .row(state.step as u64, &[loss_value, acc, lr, val_loss, val_acc])?;
        lp.progress.update(state.step as u64, loss_value);
        if state.step.is_multiple_of(o.checkpoint_every) || state.step == o.iters {
            state.seconds = lp.seconds();
            run.save(&net_map(&name, |s| save(s, &model.valid())), &state, false)?;
        }
    }
    finish(run, o, lp, &state, last, &["loss", "val_loss"])
}

/// Runs one stage.
pub fn train(o: &StageOptions) -> Result<StageReport, TrainError> {
    if o.iters == 0 || o.batch == 0 {
        return Err(TrainError::Invalid("--iters and --batch must be positive".into()));
    }
    if o.checkpoint_every == 0 || o.val_every == 0 {
        return Err(TrainError::Invalid(
            "--checkpoint-every and --val-every must be positive".into(),
        ));
    }
    match o.stage {
        Stage::Vq => train_vq(o),
        Stage::Mask => train_mask(o),
        Stage::Res => train_res(o),
        Stage::Len => train_len(o),
    }
}
