//! `momask train evaluator` and `momask eval`: training the procedural-world evaluator, then
//! spec §8's protocol on the test split — ground truth against generated motions, with the
//! evaluator's embeddings feeding the reference metric formulas ([`crate::eval::metrics`]),
//! plus VQ reconstruction MPJPE, action accuracy and foot skating.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::Serialize;

use super::common::{RunState, TrainError, scalar, to_vec};
use super::data::{MIN_FRAMES, MotionSet};
use super::evaluator::{Evaluator, EvaluatorConfig, evaluator_map};
use super::export::TensorMap;
use super::run::{StageOptions, vq_mpjpe};
use super::text::{TextFeatures, minilm_dir};
use crate::generate::{GenerateOptions, Guidance, Hooks, Length, Request, generate};
use crate::model::MoMask;
use crate::nn::weights::Loader;
use crate::sample::rng::Rng;
use crate::synth::dataset::HumanMl3dDataset;
use crate::synth::math::v3;
use crate::synth::metrics::measure;

/// Symmetric InfoNCE over a batch, ignoring off-diagonal pairs with the same caption (templated
/// captions repeat), plus action cross-entropy on labelled items.
fn evaluator_loss(
    model: &Evaluator,
    motion: Tensor<3>,
    lengths: &[usize],
    text: Tensor<2>,
    same_text: &[bool],
    labels: &[Option<usize>],
    device: &Device,
) -> (Tensor<1>, f64, f64) {
    let b = lengths.len();
    let em = model.embed_motion(motion, lengths);
    let et = model.embed_text(text);
    let scale = model.logit_scale.val().clamp(0.0, 4.6).exp().reshape([1, 1]);
    let blocked: Vec<f32> = same_text.iter().map(|&s| if s { -1e9 } else { 0.0 }).collect();
    let blocked = Tensor::<2>::from_data(TensorData::new(blocked, [b, b]), device);
    let logits = em.clone().matmul(et.transpose()) * scale + blocked;
    let diag =
        Tensor::<2, Int>::from_data(TensorData::new((0..b as i64).collect::<Vec<_>>(), [b, 1]), device);
    let l_m2t = log_softmax(logits.clone(), 1)
        .gather(1, diag.clone())
        .mean()
        .neg();
    let l_t2m = log_softmax(logits.clone().transpose(), 1)
        .gather(1, diag)
        .mean()
        .neg();
    let retrieval = to_vec(logits.detach().argmax(1).reshape([b]).float());
    let r1 = retrieval
        .iter()
        .enumerate()
        .filter(|(i, p)| **p as usize == *i)
        .count() as f64
        / b as f64;
    let class_logits = model.classify(em);
    let classes = class_logits.dims()[1];
    let targets: Vec<i64> = labels.iter().map(|l| l.unwrap_or(0) as i64).collect();
    let weight: Vec<f32> = labels
        .iter()
        .map(|l| if l.is_some() { 1.0 } else { 0.0 })
        .collect();
    let (ce, _) = super::common::masked_cross_entropy(
        class_logits.clone().reshape([b, 1, classes]),
        &targets,
        &weight,
        device,
    );
    let acc =
        super::common::masked_accuracy(class_logits.detach().reshape([b, 1, classes]), &targets, &weight);
    ((l_m2t + l_t2m) * 0.5 + ce, r1, acc)
}

/// Trains the evaluator on the train split (`o.stage` is ignored).
pub fn train_evaluator(o: &StageOptions) -> Result<super::run::StageReport, TrainError> {
    let plain = Device::flex();
    let device = plain.clone().autodiff();
    let ds = HumanMl3dDataset::open(&o.data).map_err(super::data::DataError::from)?;
    let (mean, std) = ds.mean_std().map_err(super::data::DataError::from)?;
    let train = MotionSet::load(&ds, "train", &mean, &std, MIN_FRAMES, true, o.max_clips)?;
    let val = MotionSet::load(&ds, "val", &mean, &std, MIN_FRAMES, false, o.max_clips)?;
    let features = super::run::text_features(o, &plain)?;
    let config = EvaluatorConfig::new(train.dim, features.dim, train.labels.len());
    let run = super::common::RunDir::new(&o.out, "evaluator")?;
    let mut model = match run.resume()? {
        Some((_, mut map)) => Evaluator::load(&mut Loader::new(&mut map, &device).sub("evaluator"), &config)?,
        None => Evaluator::new(&config, &device),
    };
    let mut state = run.resume()?.map(|(s, _)| s).unwrap_or_else(|| RunState {
        stage: "evaluator".into(),
        seed: o.seed,
        extra: serde_json::json!({ "config": config, "labels": train.labels }),
        ..Default::default()
    });
    let mut optim = burn::optim::AdamWConfig::new().with_weight_decay(1e-4).init();
    let columns = ["loss", "r1", "acc", "lr", "val_r3", "val_acc"];
    let mut log = super::log::CsvLog::resume(&run.dir, "evaluator", &columns, state.step as u64)?;
    let mut progress = super::log::Progress::new(o.iters as u64, state.step as u64, "evaluator");
    let started = Instant::now();
    let seconds_before = state.seconds;
    let max_frames = o.config.max_motion_length;
    let mut last = f64::NAN;
    while state.step < o.iters {
        let it = state.step;
        let mut rng = Rng::fork(o.seed, it as u64);
        let batch = train.sample_items(&mut rng, o.batch, 1, max_frames);
        let motion = Tensor::<3>::from_data(
            TensorData::new(batch.motion, [o.batch, max_frames, train.dim]),
            &device,
        );
        let cond = features_for(&train, &features, &batch.texts, &device);
        let same: Vec<bool> = (0..o.batch * o.batch)
            .map(|k| {
                let (i, j) = (k / o.batch, k % o.batch);
                i != j && train.texts[batch.texts[i]] == train.texts[batch.texts[j]]
            })
            .collect();
        let labels: Vec<Option<usize>> = batch.clips.iter().map(|&c| train.clips[c].label).collect();
        let (loss, r1, acc) = evaluator_loss(&model, motion, &batch.lengths, cond, &same, &labels, &device);
        let loss_value = scalar(loss.clone().detach());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let lr = o.schedule.at(it);
        model = optim.step(lr, model, grads);
        state.step += 1;
        last = loss_value;
        let (mut val_r3, mut val_acc) = (f64::NAN, f64::NAN);
        if state.step.is_multiple_of(o.val_every) || state.step == o.iters {
            let eval = model.valid();
            let (r3, acc) = evaluator_validation(&eval, &val, &features, o.seed, max_frames, &plain);
            (val_r3, val_acc) = (r3, acc);
            progress.println(format!(
                "evaluator step {}: loss {loss_value:.4} r1 {r1:.3} acc {acc:.3} | val R@3 {r3:.3} acc {val_acc:.3}",
                state.step
            ));
            let score = -(r3 + val_acc);
            state.seconds = seconds_before + started.elapsed().as_secs_f64();
            let best = state.best.is_none_or(|(b, _)| score < b);
            if best {
                state.best = Some((score, state.step));
            }
            run.save(&evaluator_map(&eval, &config, &train.labels), &state, best)?;
        }
        log.row(state.step as u64, &[loss_value, r1, acc, lr, val_r3, val_acc])?;
        progress.update(state.step as u64, loss_value);
    }
    progress.finish();
    let csv = log.path().to_path_buf();
    let png = run.path("evaluator.png");
    super::plot::plot_csv(&csv, &png, "momask train evaluator", &["loss"])?;
    Ok(super::run::StageReport {
        stage: o.stage,
        steps: state.step,
        seconds: state.seconds,
        final_loss: last,
        best_val: state.best.map(|b| -b.0),
        csv,
        png,
    })
}

fn features_for(set: &MotionSet, features: &TextFeatures, ids: &[usize], device: &Device) -> Tensor<2> {
    let rows: Vec<f32> = ids
        .iter()
        .flat_map(|&i| {
            features
                .get(&set.texts[i])
                .map(<[f32]>::to_vec)
                .unwrap_or_else(|| vec![0.0; features.dim])
        })
        .collect();
    Tensor::from_data(TensorData::new(rows, [ids.len(), features.dim]), device)
}

/// Validation R-precision@3 (batches of 32, as the reference) and action accuracy.
fn evaluator_validation(
    model: &Evaluator,
    val: &MotionSet,
    features: &TextFeatures,
    seed: u64,
    max_frames: usize,
    device: &Device,
) -> (f64, f64) {
    let (mut r3, mut acc, mut batches) = (0.0, 0.0, 0);
    for k in 0..8 {
        let mut rng = Rng::fork(seed ^ 0xE7A1, k);
        let batch = val.sample_items(&mut rng, 32, 1, max_frames);
        let motion = Tensor::<3>::from_data(TensorData::new(batch.motion, [32, max_frames, val.dim]), device);
        let em = model.embed_motion(motion, &batch.lengths);
        let et = model.embed_text(features_for(val, features, &batch.texts, device));
        let em_v = to_vec(em.clone());
        let et_v = to_vec(et);
        let dim = em_v.len() / 32;
        r3 += crate::eval::metrics::r_precision_and_matching(&et_v, &em_v, dim, 32).map_or(0.0, |r| r.0[2]);
        let labels: Vec<Option<usize>> = batch.clips.iter().map(|&c| val.clips[c].label).collect();
        let classes = model.classifier.weight.val().dims()[1];
        let logits = model.classify(em).reshape([32, 1, classes]);
        let targets: Vec<i64> = labels.iter().map(|l| l.unwrap_or(0) as i64).collect();
        let weight: Vec<f32> = labels
            .iter()
            .map(|l| if l.is_some() { 1.0 } else { 0.0 })
            .collect();
        acc += super::common::masked_accuracy(logits, &targets, &weight);
        batches += 1;
    }
    (r3 / batches as f64, acc / batches as f64)
}

/// Options of `momask eval`.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    pub data: PathBuf,
    pub bundle: PathBuf,
    pub evaluator: PathBuf,
    pub minilm: Option<PathBuf>,
    pub split: String,
    pub replications: usize,
    /// Captions for multimodality (each generated `mm_repeats` times).
    pub mm_texts: usize,
    pub mm_repeats: usize,
    pub seed: u64,
    /// Sampling settings; their guidance scales are replaced by the bundle's, then by `guidance`.
    pub generate: GenerateOptions,
    /// Guidance scales given by the caller (override the bundle's recommendation).
    pub guidance: Guidance,
    /// Use only the first N motions of the split.
    pub max_clips: Option<usize>,
}

/// Mean and 95 % confidence interval over replications.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct MeanCi {
    pub mean: f64,
    pub ci95: f64,
}

impl MeanCi {
    fn of(values: &[f64]) -> Self {
        let n = values.len().max(1) as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        Self {
            mean,
            ci95: 1.96 * var.sqrt() / n.sqrt(),
        }
    }
}

impl std::fmt::Display for MeanCi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.3} ± {:.3}", self.mean, self.ci95)
    }
}

/// One side (ground truth or generated) of the report.
#[derive(Debug, Clone, Serialize)]
pub struct SideMetrics {
    pub fid: MeanCi,
    pub diversity: MeanCi,
    pub top1: MeanCi,
    pub top2: MeanCi,
    pub top3: MeanCi,
    pub matching: MeanCi,
    pub action_accuracy: MeanCi,
    pub skate_cm_per_frame: MeanCi,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub split: String,
    pub items: usize,
    pub replications: usize,
    pub ground_truth: SideMetrics,
    /// Ground truth through the VQ (the ceiling of anything generated through its codes).
    pub reconstructed: SideMetrics,
    pub generated: SideMetrics,
    pub multimodality: f64,
    pub vq_mpjpe_mm: f64,
    /// Guidance scales the generated side was sampled with (masked, residual transformer).
    pub cond_scale: f32,
    pub res_cond_scale: f32,
    /// Action accuracy per action label over all replications (generated side), worst first.
    pub per_action: Vec<ActionRow>,
    pub seconds: f64,
}

/// One action's line of the per-action table.
#[derive(Debug, Clone, Serialize)]
pub struct ActionRow {
    pub action: String,
    pub items: usize,
    pub ground_truth: f64,
    /// Ground truth through the VQ (encode, all layers, decode).
    pub reconstructed: f64,
    pub generated: f64,
    /// The label the evaluator most often gave this action's generated motions instead, and
    /// the fraction of items it did.
    pub confused_with: Option<(String, f64)>,
}

/// Per-label counts: [items, GT correct, generated correct] and generated predictions.
struct ActionCounts {
    gt: Vec<[usize; 2]>,
    rec: Vec<[usize; 2]>,
    gen_: Vec<[usize; 2]>,
    confusion: Vec<Vec<usize>>,
}

impl ActionCounts {
    fn new(classes: usize) -> Self {
        Self {
            gt: vec![[0; 2]; classes],
            rec: vec![[0; 2]; classes],
            gen_: vec![[0; 2]; classes],
            confusion: vec![vec![0; classes]; classes],
        }
    }

    fn add(&mut self, gt: &Embedded, rec: &Embedded, gen_: &Embedded) {
        for (side, counts) in [(gt, &mut self.gt), (rec, &mut self.rec)] {
            for (l, p) in side.labels.iter().zip(&side.predicted) {
                if let (Some(l), Some(p)) = (*l, *p) {
                    counts[l][0] += 1;
                    counts[l][1] += usize::from(l == p);
                }
            }
        }
        for (l, p) in gen_.labels.iter().zip(&gen_.predicted) {
            if let (Some(l), Some(p)) = (*l, *p) {
                self.gen_[l][0] += 1;
                self.gen_[l][1] += usize::from(l == p);
                self.confusion[l][p] += 1;
            }
        }
    }

    fn rows(&self, labels: &[String]) -> Vec<ActionRow> {
        let mut rows: Vec<ActionRow> = labels
            .iter()
            .enumerate()
            .filter(|(l, _)| self.gen_[*l][0] > 0)
            .map(|(l, name)| {
                let n = self.gen_[l][0];
                let confused_with = (0..labels.len())
                    .filter(|&p| p != l && self.confusion[l][p] > 0)
                    .max_by_key(|&p| self.confusion[l][p])
                    .map(|p| (labels[p].clone(), self.confusion[l][p] as f64 / n as f64));
                ActionRow {
                    action: name.clone(),
                    items: n,
                    ground_truth: self.gt[l][1] as f64 / self.gt[l][0].max(1) as f64,
                    reconstructed: self.rec[l][1] as f64 / self.rec[l][0].max(1) as f64,
                    generated: self.gen_[l][1] as f64 / n as f64,
                    confused_with,
                }
            })
            .collect();
        rows.sort_by(|a, b| a.generated.total_cmp(&b.generated));
        rows
    }
}

impl EvalReport {
    /// The metrics as a markdown table.
    pub fn table(&self) -> String {
        let mut s = String::from(
            "| | FID ↓ | Diversity → | R-prec top1 ↑ | top2 ↑ | top3 ↑ | MM-dist ↓ | action acc ↑ | skate cm/frame ↓ |\n|---|---|---|---|---|---|---|---|---|\n",
        );
        for (name, m) in [
            ("ground truth", &self.ground_truth),
            ("VQ reconstruction", &self.reconstructed),
            ("generated", &self.generated),
        ] {
            s.push_str(&format!(
                "| {name} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                m.fid,
                m.diversity,
                m.top1,
                m.top2,
                m.top3,
                m.matching,
                m.action_accuracy,
                m.skate_cm_per_frame
            ));
        }
        s.push_str(&format!(
            "\nmultimodality {:.3}; VQ reconstruction MPJPE {:.2} mm; {} items × {} replications; guidance {} / {}; {:.0} s\n",
            self.multimodality,
            self.vq_mpjpe_mm,
            self.items,
            self.replications,
            self.cond_scale,
            self.res_cond_scale,
            self.seconds
        ));
        if !self.per_action.is_empty() {
            s.push_str(
                "\n| action | items | GT acc | VQ round trip acc | generated acc | generated most often taken for |\n|---|---:|---:|---:|---:|---|\n",
            );
            for r in &self.per_action {
                let confused = r.confused_with.as_ref().map_or("-".to_string(), |(name, f)| {
                    format!("{name} ({:.0} %)", 100.0 * f)
                });
                s.push_str(&format!(
                    "| {} | {} | {:.2} | {:.2} | {:.2} | {confused} |\n",
                    r.action, r.items, r.ground_truth, r.reconstructed, r.generated
                ));
            }
        }
        s
    }
}

struct Embedded {
    em: Vec<f32>,
    et: Vec<f32>,
    labels: Vec<Option<usize>>,
    predicted: Vec<Option<usize>>,
    skate: Vec<f64>,
}

/// Runs the protocol.
pub fn evaluate(o: &EvalOptions) -> Result<EvalReport, TrainError> {
    let started = Instant::now();
    let device = Device::flex();
    let bytes = std::fs::read(&o.bundle).map_err(|e| super::common::io_error(&o.bundle, e))?;
    let model = MoMask::from_bundle_bytes(&bytes, &device)?;
    let sampling = o.guidance.apply(model.guidance().apply(o.generate.clone()));
    sampling.validate()?;
    let ds = HumanMl3dDataset::open(&o.data).map_err(super::data::DataError::from)?;
    let (mean, std) = ds.mean_std().map_err(super::data::DataError::from)?;
    let set = MotionSet::load(&ds, &o.split, &mean, &std, MIN_FRAMES, false, o.max_clips)?;
    let (evaluator, labels) = load_evaluator(&o.evaluator, &device)?;
    if labels != set.labels {
        return Err(TrainError::Invalid(format!(
            "the evaluator knows actions {labels:?}, the dataset {:?}",
            set.labels
        )));
    }
    let minilm = minilm_dir(o.minilm.as_deref())?;
    let features = super::text::dataset_features(&ds, &minilm, &o.evaluator, &device)?;
    let max_frames = model.config.max_motion_length;
    let unit = model.unit_length();
    let batch = 32;
    let per_rep = set.clips.len() / batch * batch;
    if per_rep == 0 {
        return Err(TrainError::Invalid(format!(
            "split '{}' has fewer than 32 clips",
            o.split
        )));
    }
    let mut gt_side: Vec<[f64; 8]> = Vec::new();
    let mut gen_side: Vec<[f64; 8]> = Vec::new();
    let mut rec_side: Vec<[f64; 8]> = Vec::new();
    let mut actions = ActionCounts::new(labels.len());
    for r in 0..o.replications {
        let mut rng = Rng::fork(o.seed, r as u64);
        let mut order: Vec<usize> = (0..set.clips.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        let mut gt = Embedded::new();
        let mut gen_ = Embedded::new();
        let mut rec = Embedded::new();
        for chunk in order[..per_rep].chunks(batch) {
            // §7.5: random caption, the 1/3 "one unit shorter" crop, a random offset.
            let mut motion = vec![0f32; batch * max_frames * set.dim];
            let mut lengths = Vec::with_capacity(batch);
            let mut captions = Vec::with_capacity(batch);
            for (b, &ci) in chunk.iter().enumerate() {
                let c = &set.clips[ci];
                let units = c.frames.min(max_frames) / unit;
                let m = if units > 1 && rng.below(3) == 0 {
                    units - 1
                } else {
                    units
                } * unit;
                let start = rng.below(c.frames - m + 1);
                motion[b * max_frames * set.dim..][..m * set.dim]
                    .copy_from_slice(&c.features[start * set.dim..(start + m) * set.dim]);
                lengths.push(m);
                captions.push(c.captions[rng.below(c.captions.len())]);
            }
            let labels: Vec<Option<usize>> = chunk.iter().map(|&ci| set.clips[ci].label).collect();
            let et = to_vec(evaluator.embed_text(features_for(&set, &features, &captions, &device)));
            let reconstructed = vq_round_trip(&model, &motion, &lengths, max_frames, set.dim, &device)?;
            gt.add(
                &evaluator, motion, &lengths, max_frames, set.dim, &et, &labels, &mean, &std, &device,
            )?;
            rec.add(
                &evaluator,
                reconstructed,
                &lengths,
                max_frames,
                set.dim,
                &et,
                &labels,
                &mean,
                &std,
                &device,
            )?;
            // Generated: same captions and lengths.
            let requests: Vec<Request> = captions
                .iter()
                .zip(&lengths)
                .map(|(&t, &m)| Request::new(set.texts[t].clone(), Length::Frames(m)))
                .collect();
            let mut opts = sampling.clone();
            opts.seed = rng.next_u64();
            let motions = Hooks::silent(|h| pollster::block_on(generate(&model, &requests, &opts, h, None)))?;
            let mut gmotion = vec![0f32; batch * max_frames * set.dim];
            for (b, m) in motions.iter().enumerate() {
                let frames = m.features.len() / set.dim;
                for (t, row) in m
                    .features
                    .chunks_exact(set.dim)
                    .enumerate()
                    .take(frames.min(max_frames))
                {
                    for (d, v) in row.iter().enumerate() {
                        gmotion[(b * max_frames + t) * set.dim + d] = (v - mean[d]) / std[d];
                    }
                }
            }
            gen_.add(
                &evaluator, gmotion, &lengths, max_frames, set.dim, &et, &labels, &mean, &std, &device,
            )?;
        }
        actions.add(&gt, &rec, &gen_);
        let fid_rec = crate::eval::metrics::frechet_distance_of(&gt.em, &rec.em, gt.dim())?;
        rec_side.push(rec.row(fid_rec, &mut rng)?);
        let fid_gt = crate::eval::metrics::frechet_distance_of(&gt.em, &gt.em, gt.dim())?;
        let fid_gen = crate::eval::metrics::frechet_distance_of(&gt.em, &gen_.em, gt.dim())?;
        gt_side.push(gt.row(fid_gt, &mut rng)?);
        gen_side.push(gen_.row(fid_gen, &mut rng)?);
        eprintln!(
            "  replication {}/{}: FID {:.3}, top3 gt {:.3} gen {:.3}, action acc gt {:.3} gen {:.3}",
            r + 1,
            o.replications,
            fid_gen,
            gt_side[r][4],
            gen_side[r][4],
            gt_side[r][6],
            gen_side[r][6]
        );
    }
    // Multimodality: the same caption generated mm_repeats times.
    let mut mm_emb = Vec::new();
    let mm_n = o.mm_texts.min(set.clips.len());
    let mut rng = Rng::fork(o.seed, 0x3131);
    for i in 0..mm_n {
        let c = &set.clips[i * set.clips.len() / mm_n.max(1)];
        let text = set.texts[c.captions[0]].clone();
        let m = c.frames.min(max_frames) / unit * unit;
        let requests: Vec<Request> = (0..o.mm_repeats)
            .map(|_| Request::new(text.clone(), Length::Frames(m)))
            .collect();
        let mut opts = sampling.clone();
        opts.seed = rng.next_u64();
        let motions = Hooks::silent(|h| pollster::block_on(generate(&model, &requests, &opts, h, None)))?;
        let mut gmotion = vec![0f32; o.mm_repeats * max_frames * set.dim];
        for (b, mo) in motions.iter().enumerate() {
            for (t, row) in mo.features.chunks_exact(set.dim).enumerate().take(max_frames) {
                for (d, v) in row.iter().enumerate() {
                    gmotion[(b * max_frames + t) * set.dim + d] = (v - mean[d]) / std[d];
                }
            }
        }
        let x = Tensor::<3>::from_data(
            TensorData::new(gmotion, [o.mm_repeats, max_frames, set.dim]),
            &device,
        );
        mm_emb.extend(to_vec(evaluator.embed_motion(x, &vec![m; o.mm_repeats])));
    }
    let dim = mm_emb.len() / (mm_n * o.mm_repeats).max(1);
    let multimodality = if mm_n > 0 {
        crate::eval::metrics::multimodality(&mm_emb, o.mm_repeats, dim, (o.mm_repeats - 1).min(10), &mut rng)?
    } else {
        f64::NAN
    };
    // VQ reconstruction on whole test clips (64-frame windows, all codebook layers).
    let mut windows = Vec::new();
    for c in &set.clips {
        let mut k = 0;
        while k + 64 <= c.frames {
            windows.extend_from_slice(&c.features[k * set.dim..(k + 64) * set.dim]);
            k += 64;
        }
    }
    let vq_mpjpe_mm = vq_mpjpe(&model.vq, &windows, 64, &mean, &std)?;
    let side = |rows: &[[f64; 8]]| {
        let col = |k: usize| MeanCi::of(&rows.iter().map(|r| r[k]).collect::<Vec<_>>());
        SideMetrics {
            fid: col(0),
            diversity: col(1),
            top1: col(2),
            top2: col(3),
            top3: col(4),
            matching: col(5),
            action_accuracy: col(6),
            skate_cm_per_frame: col(7),
        }
    };
    Ok(EvalReport {
        split: o.split.clone(),
        items: per_rep,
        replications: o.replications,
        ground_truth: side(&gt_side),
        reconstructed: side(&rec_side),
        generated: side(&gen_side),
        multimodality,
        vq_mpjpe_mm,
        cond_scale: sampling.cond_scale,
        res_cond_scale: sampling.res_cond_scale,
        per_action: actions.rows(&labels),
        seconds: started.elapsed().as_secs_f64(),
    })
}

impl Embedded {
    fn new() -> Self {
        Self {
            em: Vec::new(),
            et: Vec::new(),
            labels: Vec::new(),
            predicted: Vec::new(),
            skate: Vec::new(),
        }
    }

    fn dim(&self) -> usize {
        self.em.len() / self.labels.len().max(1)
    }

    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        evaluator: &Evaluator,
        motion: Vec<f32>,
        lengths: &[usize],
        max_frames: usize,
        dim: usize,
        et: &[f32],
        labels: &[Option<usize>],
        mean: &[f32],
        std: &[f32],
        device: &Device,
    ) -> Result<(), TrainError> {
        let b = lengths.len();
        for (i, &m) in lengths.iter().enumerate() {
            let rows = &motion[i * max_frames * dim..][..m * dim];
            let feats = crate::motion::recover::denormalize(rows, mean, std).map_err(crate::Error::from)?;
            let joints =
                crate::motion::recover::recover_from_ric(&feats, m, &crate::motion::layout::HUMANML3D)
                    .map_err(crate::Error::from)?;
            let frames: Vec<[crate::synth::math::V3; 22]> = joints
                .data
                .chunks_exact(22 * 3)
                .map(|f| {
                    std::array::from_fn(|j| v3(f[j * 3] as f64, f[j * 3 + 1] as f64, f[j * 3 + 2] as f64))
                })
                .collect();
            self.skate.push(measure(&frames, 20.0).skate_cm());
        }
        let x = Tensor::<3>::from_data(TensorData::new(motion, [b, max_frames, dim]), device);
        let em = evaluator.embed_motion(x, lengths);
        let classes = evaluator.classifier.weight.val().dims()[1];
        let pred = to_vec(evaluator.classify(em.clone()).argmax(1).reshape([b]).float());
        self.em.extend(to_vec(em));
        self.et.extend_from_slice(et);
        self.labels.extend_from_slice(labels);
        self.predicted
            .extend(pred.iter().map(|&p| Some((p as usize).min(classes - 1))));
        Ok(())
    }

    /// FID, diversity, top1..3, matching, action accuracy, skate.
    fn row(&self, fid: f64, rng: &mut Rng) -> Result<[f64; 8], TrainError> {
        let dim = self.dim();
        let n = self.labels.len();
        let diversity = crate::eval::metrics::diversity_with_times(&self.em, dim, 300.min(n - 1), rng)?;
        let (top, matching) = crate::eval::metrics::r_precision_and_matching(&self.et, &self.em, dim, 32)?;
        let labelled: Vec<(usize, usize)> = self
            .labels
            .iter()
            .zip(&self.predicted)
            .filter_map(|(l, p)| Some(((*l)?, (*p)?)))
            .collect();
        let acc = labelled.iter().filter(|(l, p)| l == p).count() as f64 / labelled.len().max(1) as f64;
        let skate = self.skate.iter().sum::<f64>() / self.skate.len().max(1) as f64;
        Ok([fid, diversity, top[0], top[1], top[2], matching, acc, skate])
    }
}

/// Each clip of a normalised `[B, max_frames, dim]` batch through the VQ at its own length
/// (encode with all layers, decode), zero-padded like the input.
fn vq_round_trip(
    model: &MoMask,
    motion: &[f32],
    lengths: &[usize],
    max_frames: usize,
    dim: usize,
    device: &Device,
) -> Result<Vec<f32>, TrainError> {
    let mut out = vec![0f32; motion.len()];
    for (b, &m) in lengths.iter().enumerate() {
        let clip = motion[b * max_frames * dim..][..m * dim].to_vec();
        let x = Tensor::<3>::from_data(TensorData::new(clip, [1, m, dim]), device);
        let (ids, [_, n, q]) = pollster::block_on(model.vq.encode(x))?;
        let rec = to_vec(model.vq.decode_ids(&ids, 1, n, q));
        let frames = (rec.len() / dim).min(m);
        out[b * max_frames * dim..][..frames * dim].copy_from_slice(&rec[..frames * dim]);
    }
    Ok(out)
}

/// Loads an evaluator run folder (best checkpoint) and its action labels.
pub fn load_evaluator(dir: &Path, device: &Device) -> Result<(Evaluator, Vec<String>), TrainError> {
    let state_path = dir.join("state.json");
    let text = std::fs::read_to_string(&state_path).map_err(|e| super::common::io_error(&state_path, e))?;
    let state: RunState = serde_json::from_str(&text).map_err(|e| super::common::io_error(&state_path, e))?;
    let config: EvaluatorConfig = serde_json::from_value(state.extra["config"].clone())
        .map_err(|e| TrainError::Invalid(format!("{}: evaluator config: {e}", state_path.display())))?;
    let labels: Vec<String> = serde_json::from_value(state.extra["labels"].clone())
        .map_err(|e| TrainError::Invalid(format!("{}: labels: {e}", state_path.display())))?;
    let path = if dir.join("best.safetensors").exists() {
        dir.join("best.safetensors")
    } else {
        dir.join("latest.safetensors")
    };
    let mut map = TensorMap::open(&path)?;
    let evaluator = Evaluator::load(&mut Loader::new(&mut map, device).sub("evaluator"), &config)?;
    Ok((evaluator, labels))
}
