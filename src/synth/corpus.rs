//! Writing a corpus directory in the HumanML3D layout.
//!
//! ```text
//! <out>/new_joints/<id>.npy       (F, 22, 3) f32, canonical global positions
//! <out>/new_joint_vecs/<id>.npy   (F-1, 263) f32, joints_to_features
//! <out>/texts/<id>.txt            caption#word/POS ...#from#to   (3 whole-clip lines, plus
//!                                 sub-clip lines for composition parts of ≥ 40 frames)
//! <out>/train.txt val.txt test.txt all.txt
//! <out>/Mean.npy Std.npy          (263,) f32 over all train feature rows
//! <out>/labels.jsonl              one JSON object per motion (family, params, parts, metrics)
//! <out>/stats.txt                 how Mean/Std were computed
//! ```

use std::fs;
use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use super::captions::{Style, captions, part_caption, text_line};
use super::compose::{Motion, generate};
use super::families::{FPS, Params};
use super::math::V3;
use super::metrics::{MotionMetrics, measure};
use super::rng::{Rng, mix64};
use super::{FamilyStats, SynthError, SynthOptions, SynthReport};
use crate::io::npy::write_f32;
use crate::motion::extract::{canonicalize_joints, joints_to_features};
use crate::motion::joints::JointPositions;
use crate::motion::layout::HUMANML3D;
use crate::motion::recover::recover_from_ric;
use crate::motion::skeleton::Skeleton;

/// Per-dimension floor of the written `Std.npy`.
pub const STD_EPS: f64 = 1e-3;

/// Dataset split of a motion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Val,
    Test,
}

/// Deterministic 80/10/10 split by a hash of the motion index (independent of the seed).
pub fn split_of(index: u64) -> Split {
    match mix64(index ^ 0x0053_504C_4954) % 10 {
        0 => Split::Test,
        1 => Split::Val,
        _ => Split::Train,
    }
}

/// The id of motion `index`.
pub fn id_of(index: u64) -> String {
    format!("{index:06}")
}

#[derive(Serialize)]
struct PartLabel<'a> {
    family: &'a str,
    params: &'a Params,
    start: usize,
    end: usize,
}

#[derive(Serialize)]
struct Label<'a> {
    id: &'a str,
    split: Split,
    family: &'a str,
    frames: usize,
    parts: Vec<PartLabel<'a>>,
    captions: &'a [String],
    skate_cm_per_frame: f64,
    roundtrip_max_mm: f64,
}

/// Everything produced for one motion.
pub struct Built {
    pub id: String,
    pub split: Split,
    pub motion: Motion,
    /// Canonical joints (written to `new_joints`).
    pub joints: JointPositions,
    /// `(F−1) × 263` features.
    pub features: Vec<f32>,
    /// Lines of the text file.
    pub text: String,
    /// Whole-clip captions.
    pub captions: Vec<String>,
    pub metrics: MotionMetrics,
    /// Round trip features → joints vs the canonical joints, metres (max, sum, count).
    pub rt_max: f64,
    pub rt_sum: f64,
    pub rt_n: usize,
    /// Feature rows whose yaw rate was corrected by [`fix_heading_flips`].
    pub heading_flips: usize,
}

/// Corrects the sign of the root yaw-rate feature where the reference extraction gets it wrong.
///
/// The extraction's heading quaternion `r_rot[t] = qbetween(forward_t, +Z)` always has
/// `w ≥ 0`, so when the smoothed heading passes through facing −Z, consecutive quaternions
/// flip sign; `q_rel = r_rot[t+1]·r_rot[t]⁻¹` then has `w < 0` and `asin(q_rel.y)` is the
/// *negated* half-angle. `recover_from_ric` would spin the rest of the motion by twice the
/// yaw step at every such row (tens of cm on circles, spins and 180° turns). This recomputes
/// the extraction's smoothed heading exactly as `joints_to_features` does (same precision and
/// operation order) and negates row `t`'s yaw rate wherever `r_rot[t]·r_rot[t+1] < 0`, so the
/// features describe the joints they came from. Returns the number of corrected rows.
pub fn fix_heading_flips(canon: &JointPositions, features: &mut [f32]) -> usize {
    use crate::motion::extract::gaussian_filter1d_nearest;
    use crate::motion::quat::{cross, normalize, qbetween, sub3};
    let nf = canon.frames;
    if nf < 2 || features.len() < (nf - 1) * HUMANML3D.dim {
        return 0;
    }
    // Same face joints and quirk as the extraction: across = (r_hip − l_hip) + (r_sdr − l_sdr)
    // with (l_hip, r_hip) read from (2, 1), i.e. (p1 − p2) + (p17 − p16).
    let [l_hip, r_hip, sdr_r, sdr_l] = [2usize, 1, 17, 16];
    let p = |t: usize, j: usize| canon.get(t, j);
    let mut fwd: Vec<[f64; 3]> = (0..nf)
        .map(|t| {
            let a = sub3(p(t, r_hip), p(t, l_hip));
            let b = sub3(p(t, sdr_r), p(t, sdr_l));
            let across = normalize([a[0] + b[0], a[1] + b[1], a[2] + b[2]]);
            let across64 = [across[0] as f64, across[1] as f64, across[2] as f64];
            cross([0.0f64, 1.0, 0.0], across64)
        })
        .collect();
    for axis in 0..3 {
        let col: Vec<f64> = fwd.iter().map(|v| v[axis]).collect();
        let sm = gaussian_filter1d_nearest(&col, 20.0, 4.0);
        for (v, s) in fwd.iter_mut().zip(sm) {
            v[axis] = s;
        }
    }
    let quats: Vec<[f32; 4]> = (0..nf)
        .map(|t| {
            if t == 0 {
                return [1.0, 0.0, 0.0, 0.0];
            }
            let f = normalize(fwd[t]);
            qbetween([f[0] as f32, f[1] as f32, f[2] as f32], [0.0f32, 0.0, 1.0])
        })
        .collect();
    let mut n = 0;
    for t in 0..nf - 1 {
        let (a, b) = (quats[t], quats[t + 1]);
        let dot = a[0] * b[0] + a[1] * b[1] + a[2] * b[2] + a[3] * b[3];
        if dot < 0.0 {
            let v = &mut features[t * HUMANML3D.dim];
            *v = -*v;
            n += 1;
        }
    }
    n
}

/// Builds motion `index` (generation, resolution, features, captions, metrics).
pub fn build_motion(
    seed: u64,
    index: u64,
    allowed: &[String],
    composite_fraction: f64,
) -> Result<Built, SynthError> {
    let motion = generate(seed, index, allowed, composite_fraction);
    let raw = motion.joints();
    let metrics = measure(&raw, FPS);
    let frames = raw.len();
    let data: Vec<f32> = raw
        .iter()
        .flat_map(|p| p.iter().flat_map(|v| v.to_f32()))
        .collect();
    let skel = Skeleton::humanml3d();
    let jp = JointPositions::new(frames, 22, data)?;
    let canon = canonicalize_joints(&jp, &skel)?;
    let mut features = joints_to_features(&canon, &HUMANML3D, &skel)?;
    let flips = fix_heading_flips(&canon, &mut features);
    let rec = recover_from_ric(&features, frames - 1, &HUMANML3D)?;
    let (mut rt_max, mut rt_sum, mut rt_n) = (0.0f64, 0.0f64, 0usize);
    for (a, b) in rec.data.chunks_exact(3).zip(canon.data.chunks_exact(3)) {
        let d = V3 {
            x: (a[0] - b[0]) as f64,
            y: (a[1] - b[1]) as f64,
            z: (a[2] - b[2]) as f64,
        }
        .len();
        rt_max = rt_max.max(d);
        rt_sum += d;
        rt_n += 1;
    }
    let split = split_of(index);
    let style = if split == Split::Test {
        Style::Test
    } else {
        Style::Train
    };
    let mut crng = Rng::for_item(seed ^ 0xCA97_1085, index);
    let parts: Vec<_> = motion.parts.iter().map(|p| p.part.clone()).collect();
    let caps = captions(&parts, &mut crng, style);
    let mut text = String::new();
    for c in &caps {
        text.push_str(&text_line(c, 0.0, 0.0));
        text.push('\n');
    }
    if motion.parts.len() > 1 {
        for p in &motion.parts {
            if p.end - p.start >= 40 {
                let c = part_caption(&p.part, &mut crng, style);
                text.push_str(&text_line(&c, p.start as f64 / FPS, p.end as f64 / FPS));
                text.push('\n');
            }
        }
    }
    Ok(Built {
        id: id_of(index),
        split,
        motion,
        joints: canon,
        features,
        text,
        captions: caps,
        metrics,
        rt_max,
        rt_sum,
        rt_n,
        heading_flips: flips,
    })
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), SynthError> {
    fs::write(path, bytes).map_err(|e| SynthError::Io {
        path: path.display().to_string(),
        source: e,
    })
}

/// Per-motion summary kept for the aggregate statistics.
struct Summary {
    id: String,
    split: Split,
    family: String,
    frames: usize,
    label: String,
    metrics: MotionMetrics,
    rt_max: f64,
    rt_sum: f64,
    rt_n: usize,
    /// Feature sums / sums of squares (train motions only), rows.
    sums: Option<(Vec<f64>, Vec<f64>, usize)>,
    heading_flips: usize,
}

fn summarise(b: &Built) -> Result<Summary, SynthError> {
    let parts: Vec<PartLabel> = b
        .motion
        .parts
        .iter()
        .map(|p| PartLabel {
            family: p.part.family,
            params: &p.part.params,
            start: p.start,
            end: p.end,
        })
        .collect();
    let label = Label {
        id: &b.id,
        split: b.split,
        family: &b.motion.family,
        frames: b.joints.frames,
        parts,
        captions: &b.captions,
        skate_cm_per_frame: (b.metrics.skate_cm() * 1000.0).round() / 1000.0,
        roundtrip_max_mm: (b.rt_max * 1e6).round() / 1000.0,
    };
    let label = serde_json::to_string(&label).map_err(|e| SynthError::Json(e.to_string()))?;
    let dim = HUMANML3D.dim;
    let sums = if b.split == Split::Train {
        let mut s = vec![0.0f64; dim];
        let mut q = vec![0.0f64; dim];
        let rows = b.features.len() / dim;
        for r in b.features.chunks_exact(dim) {
            for (k, &v) in r.iter().enumerate() {
                s[k] += v as f64;
                q[k] += (v as f64) * (v as f64);
            }
        }
        Some((s, q, rows))
    } else {
        None
    };
    Ok(Summary {
        id: b.id.clone(),
        split: b.split,
        family: b.motion.family.clone(),
        frames: b.joints.frames,
        label,
        metrics: b.metrics,
        rt_max: b.rt_max,
        rt_sum: b.rt_sum,
        rt_n: b.rt_n,
        sums,
        heading_flips: b.heading_flips,
    })
}

fn write_motion(out: &Path, b: &Built) -> Result<(), SynthError> {
    let f = b.joints.frames;
    write(
        &out.join("new_joints").join(format!("{}.npy", b.id)),
        &write_f32(&[f, 22, 3], &b.joints.data)?,
    )?;
    write(
        &out.join("new_joint_vecs").join(format!("{}.npy", b.id)),
        &write_f32(&[f - 1, HUMANML3D.dim], &b.features)?,
    )?;
    write(
        &out.join("texts").join(format!("{}.txt", b.id)),
        b.text.as_bytes(),
    )?;
    Ok(())
}

/// Writes the corpus described by `opts`; `progress(done, total)` is called as motions finish.
pub fn synthesize(
    opts: &SynthOptions,
    mut progress: impl FnMut(usize, usize),
) -> Result<SynthReport, SynthError> {
    let t0 = Instant::now();
    for f in &opts.families {
        if !super::family_names().contains(&f.as_str()) {
            return Err(SynthError::UnknownFamily(f.clone()));
        }
    }
    if opts.count == 0 {
        return Err(SynthError::Invalid("count must be at least 1".into()));
    }
    let out = opts.out.as_path();
    for d in ["new_joints", "new_joint_vecs", "texts"] {
        let p = out.join(d);
        fs::create_dir_all(&p).map_err(|e| SynthError::Io {
            path: p.display().to_string(),
            source: e,
        })?;
    }
    let n = opts.count;
    let workers = if opts.threads == 0 {
        std::thread::available_parallelism()
            .map(|v| v.get())
            .unwrap_or(1)
            .min(8)
    } else {
        opts.threads
    }
    .max(1)
    .min(n);
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Result<Summary, SynthError>)>();
    let mut slots: Vec<Option<Summary>> = (0..n).map(|_| None).collect();
    let mut first_err: Option<SynthError> = None;
    std::thread::scope(|s| {
        for w in 0..workers {
            let tx = tx.clone();
            let fams = &opts.families;
            let seed = opts.seed;
            let frac = opts.composite_fraction;
            s.spawn(move || {
                let mut i = w;
                while i < n {
                    let r = build_motion(seed, i as u64, fams, frac).and_then(|b| {
                        write_motion(out, &b)?;
                        summarise(&b)
                    });
                    let failed = r.is_err();
                    if tx.send((i, r)).is_err() || failed {
                        break;
                    }
                    i += workers;
                }
            });
        }
        drop(tx);
        let mut done = 0;
        for (i, r) in rx {
            match r {
                Ok(sm) => slots[i] = Some(sm),
                Err(e) => {
                    if first_err.is_none() {
                        first_err = Some(e);
                    }
                }
            }
            done += 1;
            progress(done, n);
        }
    });
    if let Some(e) = first_err {
        return Err(e);
    }
    let summaries: Vec<Summary> = slots
        .into_iter()
        .enumerate()
        .map(|(i, s)| s.ok_or_else(|| SynthError::Invalid(format!("motion {i} was not produced"))))
        .collect::<Result<_, _>>()?;
    // Split lists, labels.
    let mut lists = [String::new(), String::new(), String::new(), String::new()];
    let mut labels = String::new();
    for s in &summaries {
        let k = match s.split {
            Split::Train => 0,
            Split::Val => 1,
            Split::Test => 2,
        };
        lists[k].push_str(&s.id);
        lists[k].push('\n');
        lists[3].push_str(&s.id);
        lists[3].push('\n');
        labels.push_str(&s.label);
        labels.push('\n');
    }
    for (name, body) in ["train.txt", "val.txt", "test.txt", "all.txt"].iter().zip(&lists) {
        write(&out.join(name), body.as_bytes())?;
    }
    write(&out.join("labels.jsonl"), labels.as_bytes())?;
    // Mean / Std over train rows (all rows if the train split is empty), summed in id order.
    let dim = HUMANML3D.dim;
    let mut sum = vec![0.0f64; dim];
    let mut sq = vec![0.0f64; dim];
    let mut rows = 0usize;
    let any_train = summaries.iter().any(|s| s.sums.is_some());
    for s in &summaries {
        if let Some((a, b, r)) = &s.sums {
            for k in 0..dim {
                sum[k] += a[k];
                sq[k] += b[k];
            }
            rows += r;
        }
    }
    if !any_train {
        // Tiny corpora: fall back to every motion's rows.
        for i in 0..n {
            let b = build_motion(opts.seed, i as u64, &opts.families, opts.composite_fraction)?;
            for r in b.features.chunks_exact(dim) {
                for (k, &v) in r.iter().enumerate() {
                    sum[k] += v as f64;
                    sq[k] += (v as f64) * (v as f64);
                }
            }
            rows += b.features.len() / dim;
        }
    }
    let rows_f = rows.max(1) as f64;
    let mean: Vec<f32> = sum.iter().map(|s| (s / rows_f) as f32).collect();
    let mut floored = 0;
    let std: Vec<f32> = sum
        .iter()
        .zip(&sq)
        .map(|(s, q)| {
            let m = s / rows_f;
            let v = (q / rows_f - m * m).max(0.0).sqrt();
            if v < STD_EPS {
                floored += 1;
            }
            v.max(STD_EPS) as f32
        })
        .collect();
    write(&out.join("Mean.npy"), &write_f32(&[dim], &mean)?)?;
    write(&out.join("Std.npy"), &write_f32(&[dim], &std)?)?;
    let note = format!(
        "Mean.npy / Std.npy: per-dimension mean and population standard deviation (ddof = 0) over \
         all {rows} feature rows of the {} split ({} motions), accumulated in float64 in id order.\n\
         Std is floored at {STD_EPS} ({floored} of {dim} dimensions were below it).\n\
         Unlike HumanML3D's cal_mean_variance, no per-group averaging of Std is applied.\n\
         seed = {}, count = {n}\n",
        if any_train {
            "train"
        } else {
            "whole (no train motions)"
        },
        summaries.iter().filter(|s| s.sums.is_some()).count(),
        opts.seed,
    );
    write(&out.join("stats.txt"), note.as_bytes())?;
    // Report.
    let mut fams: Vec<FamilyStats> = Vec::new();
    let mut names: Vec<String> = super::family_names().iter().map(|s| s.to_string()).collect();
    names.sort();
    for name in names {
        let mine: Vec<&Summary> = summaries.iter().filter(|s| s.family == name).collect();
        if mine.is_empty() {
            continue;
        }
        let skate_sum: f64 = mine.iter().map(|s| s.metrics.skate_sum).sum();
        let skate_n: usize = mine.iter().map(|s| s.metrics.skate_n).sum();
        fams.push(FamilyStats {
            family: name.clone(),
            count: mine.len(),
            skate_cm_per_frame: if skate_n == 0 {
                0.0
            } else {
                100.0 * skate_sum / skate_n as f64
            },
            max_bone_err_mm: mine.iter().map(|s| s.metrics.bone_err).fold(0.0, f64::max) * 1000.0,
            max_penetration_cm: mine
                .iter()
                .map(|s| (-s.metrics.min_y).max(0.0))
                .fold(0.0, f64::max)
                * 100.0,
            max_acc: mine.iter().map(|s| s.metrics.max_acc).fold(0.0, f64::max),
            roundtrip_max_mm: mine.iter().map(|s| s.rt_max).fold(0.0, f64::max) * 1000.0,
        });
    }
    let rt_n: usize = summaries.iter().map(|s| s.rt_n).sum();
    let frames_total: usize = summaries.iter().map(|s| s.frames).sum();
    Ok(SynthReport {
        count: n,
        frames_total,
        train: summaries.iter().filter(|s| s.split == Split::Train).count(),
        val: summaries.iter().filter(|s| s.split == Split::Val).count(),
        test: summaries.iter().filter(|s| s.split == Split::Test).count(),
        roundtrip_max_mm: summaries.iter().map(|s| s.rt_max).fold(0.0, f64::max) * 1000.0,
        roundtrip_mean_mm: summaries.iter().map(|s| s.rt_sum).sum::<f64>() / rt_n.max(1) as f64 * 1000.0,
        max_bone_err_mm: summaries.iter().map(|s| s.metrics.bone_err).fold(0.0, f64::max) * 1000.0,
        max_penetration_cm: summaries
            .iter()
            .map(|s| (-s.metrics.min_y).max(0.0))
            .fold(0.0, f64::max)
            * 100.0,
        families: fams,
        std_floored: floored,
        heading_flips_fixed: summaries.iter().map(|s| s.heading_flips).sum(),
        seconds: t0.elapsed().as_secs_f64(),
    })
}
