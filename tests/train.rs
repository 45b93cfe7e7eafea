//! The trainers (spec §7) on a tiny procedural corpus: the schedule, the export/load round
//! trip, that the VQ actually learns, resume, and the whole four-stage pipeline into a bundle
//! that generates (the last needs the MiniLM weights, see tests/minilm.rs).

use std::path::{Path, PathBuf};

use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use momask::config::{DemoSizes, ModelConfig};
use momask::nn::length_estimator::LengthEstimator;
use momask::nn::mask_transformer::MaskTransformer;
use momask::nn::residual_transformer::ResidualTransformer;
use momask::nn::vq::RvqVae;
use momask::nn::weights::{Loader, WeightSource};
use momask::sample::rng::Rng;
use momask::synth::dataset::HumanMl3dDataset;
use momask::synth::{SynthOptions, synthesize_corpus};
use momask::train::common::{LrSchedule, TrainInit, to_vec};
use momask::train::data::MotionSet;
use momask::train::export::{Saver, TensorMap, save_length_estimator, save_mask, save_res, save_vq};
use momask::train::run::{Stage, StageOptions, train};
use momask::train::vq::{QuantizerTraining, TrainingQuantizer, vq_step};

fn tiny_config() -> ModelConfig {
    DemoSizes {
        nb_code: 32,
        code_dim: 16,
        width: 16,
        down_t: 2,
        stride_t: 2,
        depth: 1,
        dilation_growth_rate: 3,
        num_quantizers: 3,
        latent_dim: 32,
        ff_size: 64,
        n_layers: 1,
        n_heads: 2,
    }
    .config()
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("momask-train-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A 60-motion corpus (seconds to build).
fn corpus(name: &str) -> PathBuf {
    let dir = tmp(name);
    synthesize_corpus(&SynthOptions::new(&dir, 60, 7), |_, _| {}).expect("corpus");
    dir
}

fn minilm_dir() -> Option<PathBuf> {
    match std::env::var_os("MOMASK_MINILM_DIR") {
        Some(d) => Some(PathBuf::from(d)),
        None if std::env::var("MOMASK_REQUIRE_MINILM").is_ok_and(|v| v == "1") => {
            panic!("MOMASK_REQUIRE_MINILM=1 but MOMASK_MINILM_DIR is unset")
        }
        None => {
            eprintln!("skipped: MOMASK_MINILM_DIR unset");
            None
        }
    }
}

#[test]
fn lr_schedule_follows_the_spec() {
    let s = LrSchedule {
        base: 2e-4,
        warmup: 2000,
        milestones: vec![50_000],
        gamma: 0.1,
    };
    assert!((s.at(0) - 2e-4 / 2001.0).abs() < 1e-15);
    assert!((s.at(1999) - 2e-4 * 2000.0 / 2001.0).abs() < 1e-15);
    assert_eq!(s.at(2000), 2e-4);
    assert!((s.at(50_000) - 2e-5).abs() < 1e-15);
}

#[test]
fn exported_networks_load_back_identically() {
    let c = tiny_config();
    let device = Device::flex();
    let mut init = TrainInit::new(5);
    let mut l = Loader::new(&mut init, &device);
    let vq = RvqVae::load(&mut l.sub("vq"), &c.vq).unwrap();
    let mask = MaskTransformer::load(&mut l.sub("mask"), &c.mask).unwrap();
    let res = ResidualTransformer::load(&mut l.sub("res"), &c.res).unwrap();
    let len = LengthEstimator::load(&mut l.sub("len"), c.length_estimator.as_ref().unwrap()).unwrap();
    let mut map = TensorMap::default();
    let mut s = Saver::new(&mut map);
    save_vq(&mut s.sub("vq"), &vq);
    save_mask(&mut s.sub("mask"), &mask);
    save_res(&mut s.sub("res"), &res);
    save_length_estimator(&mut s.sub("len"), &len);
    let mut l = Loader::new(&mut map, &device);
    let vq2 = RvqVae::load(&mut l.sub("vq"), &c.vq).unwrap();
    let mask2 = MaskTransformer::load(&mut l.sub("mask"), &c.mask).unwrap();
    let res2 = ResidualTransformer::load(&mut l.sub("res"), &c.res).unwrap();
    let len2 = LengthEstimator::load(&mut l.sub("len"), c.length_estimator.as_ref().unwrap()).unwrap();

    let ids: Vec<i64> = (0..6 * 3).map(|i| (i * 7 % 32) as i64).collect();
    assert_eq!(
        to_vec(vq.decode_ids(&ids, 1, 6, 3)),
        to_vec(vq2.decode_ids(&ids, 1, 6, 3))
    );
    let tok = || Tensor::<2, Int>::from_data(TensorData::new(vec![1i64, 5, 32, 7], [1, 4]), &device);
    let cond = || Tensor::<2>::from_data(TensorData::new(vec![0.1f32; 384], [1, 384]), &device);
    let pad =
        || Tensor::<2, Bool>::from_data(TensorData::new(vec![false, false, false, true], [1, 4]), &device);
    assert_eq!(
        to_vec(mask.forward(tok(), cond(), pad())),
        to_vec(mask2.forward(tok(), cond(), pad()))
    );
    let hist = || Tensor::<3>::from_data(TensorData::new(vec![0.3f32; 4 * 16], [1, 4, 16]), &device);
    assert_eq!(
        to_vec(res.forward(hist(), 1, cond(), pad())),
        to_vec(res2.forward(hist(), 1, cond(), pad()))
    );
    assert_eq!(to_vec(len.forward(cond())), to_vec(len2.forward(cond())));
}

#[test]
fn vq_learns_a_fixed_batch() {
    let dir = corpus("overfit");
    let ds = HumanMl3dDataset::open(&dir).unwrap();
    let (mean, std) = ds.mean_std().unwrap();
    let set = MotionSet::load(&ds, "train", &mean, &std, 64, false, None).unwrap();
    let c = tiny_config();
    let device = Device::flex().autodiff();
    let mut init = TrainInit::new(1);
    let mut vq = RvqVae::load(&mut Loader::new(&mut init, &device).sub("vq"), &c.vq).unwrap();
    let mut quantizer = TrainingQuantizer::new(&vq, false, QuantizerTraining::default());
    let mut optim = AdamWConfig::new().with_weight_decay(0.0).init();
    let windows = set.sample_windows(&mut Rng::new(3), 8, 64);
    let mut rng = Rng::new(9);
    let mut losses = Vec::new();
    for _ in 0..60 {
        let x = Tensor::<3>::from_data(TensorData::new(windows.clone(), [8, 64, 263]), &device);
        let l = vq_step(&vq, &mut quantizer, x, &mut rng, 4..67).unwrap();
        losses.push(l.rec);
        let grads = GradientsParams::from_grads(l.total.backward(), &vq);
        vq = optim.step(3e-3, vq, grads);
    }
    let first: f64 = losses[..5].iter().sum::<f64>() / 5.0;
    let last: f64 = losses[55..].iter().sum::<f64>() / 5.0;
    assert!(last < 0.85 * first, "reconstruction loss {first:.4} → {last:.4}");
    let _ = std::fs::remove_dir_all(dir);
}

fn options(stage: Stage, data: &Path, out: &Path, iters: usize) -> StageOptions {
    let mut o = StageOptions::defaults(stage, data.to_path_buf(), out.to_path_buf(), tiny_config(), iters);
    o.batch = 4;
    o.checkpoint_every = 3;
    o.val_every = 3;
    o.schedule.warmup = 1;
    o
}

#[test]
fn a_run_resumes_where_it_stopped() {
    let data = corpus("resume");
    let out = data.join("run-vq");
    let report = train(&options(Stage::Vq, &data, &out, 6)).unwrap();
    assert_eq!(report.steps, 6);
    let report = train(&options(Stage::Vq, &data, &out, 10)).unwrap();
    assert_eq!(report.steps, 10);
    let (_, rows) = momask::train::log::read_csv(out.join("vq.csv")).unwrap();
    let steps: Vec<u64> = rows.iter().map(|r| r[0] as u64).collect();
    assert_eq!(steps, (1..=10).collect::<Vec<_>>());
    assert!(report.png.is_file());
    // A folder of another stage is refused, not overwritten.
    assert!(train(&options(Stage::Len, &data, &out, 2)).is_err());
    let _ = std::fs::remove_dir_all(data);
}

#[test]
fn four_stages_train_into_a_bundle_that_generates() {
    let Some(minilm) = minilm_dir() else { return };
    let data = corpus("pipeline");
    let runs = data.join("runs");
    train(&options(Stage::Vq, &data, &runs.join("vq"), 3)).unwrap();
    for stage in [Stage::Mask, Stage::Res, Stage::Len] {
        let mut o = options(stage, &data, &runs.join(stage.name()), 3);
        o.vq_dir = Some(runs.join("vq"));
        o.minilm = Some(minilm.clone());
        let report = train(&o).unwrap();
        assert!(report.final_loss.is_finite(), "{stage:?}");
    }
    let dirs = momask::train::assemble::StageDirs {
        vq: runs.join("vq"),
        mask: runs.join("mask"),
        res: runs.join("res"),
        len: Some(runs.join("len")),
    };
    let guidance = momask::Guidance {
        cond_scale: Some(2.5),
        res_cond_scale: None,
    };
    let bytes =
        momask::train::assemble::assemble(tiny_config(), &dirs, &minilm, Default::default(), guidance)
            .unwrap();
    let model = momask::MoMask::from_bundle_bytes(&bytes, &Device::flex()).unwrap();
    assert_eq!(model.guidance(), guidance);
    let bad = momask::Guidance {
        cond_scale: Some(-1.0),
        res_cond_scale: None,
    };
    assert!(
        momask::train::assemble::assemble(tiny_config(), &dirs, &minilm, Default::default(), bad).is_err()
    );
    let requests = [momask::Request::new("a person waves", momask::Length::Frames(40))];
    let motions = momask::generate::Hooks::silent(|h| {
        pollster::block_on(momask::generate(
            &model,
            &requests,
            &momask::GenerateOptions::default(),
            h,
            None,
        ))
    })
    .unwrap();
    assert_eq!(motions[0].frames(), 40);

    // Continuing from a bundle (`--init`, `--vq <bundle>`, `--decoder-only`).
    let bundle = data.join("model.safetensors");
    std::fs::write(&bundle, &bytes).unwrap();
    let mut shipped = TensorMap::from_safetensors(&bytes).unwrap();
    // At lr 0 a run started from the bundle holds exactly the bundle's network.
    let mut o = options(Stage::Mask, &data, &runs.join("mask-init"), 1);
    o.init = Some(bundle.clone());
    o.vq_dir = Some(bundle.clone());
    o.minilm = Some(minilm.clone());
    o.schedule.base = 0.0;
    train(&o).unwrap();
    let mut continued = TensorMap::open(&runs.join("mask-init").join("latest.safetensors")).unwrap();
    let names = continued.names();
    assert!(names.len() > 10);
    for name in &names {
        let shape = continued.shape(name).unwrap();
        assert_eq!(
            continued.take(name, &shape).unwrap(),
            shipped.take(name, &shape).unwrap(),
            "{name}"
        );
    }
    // Decoder-only: encoder and codebooks bit-identical to the bundle's, the decoder trained.
    let mut o = options(Stage::Vq, &data, &runs.join("vq-decoder"), 3);
    o.init = Some(bundle.clone());
    o.decoder_only = true;
    let report = train(&o).unwrap();
    assert!(report.final_loss.is_finite());
    let mut tuned = TensorMap::open(&runs.join("vq-decoder").join("latest.safetensors")).unwrap();
    let (mut frozen, mut trained) = (0, 0);
    for name in tuned.names() {
        let shape = tuned.shape(&name).unwrap();
        let (a, b) = (
            tuned.take(&name, &shape).unwrap(),
            shipped.take(&name, &shape).unwrap(),
        );
        if name.starts_with("vq.encoder.") || name.starts_with("vq.quantizer.") || name.starts_with("norm.") {
            assert_eq!(a, b, "{name} must stay frozen");
            frozen += 1;
        } else if name.starts_with("vq.decoder.") && name.ends_with("weight") {
            assert_ne!(a, b, "{name} was not trained");
            trained += 1;
        }
    }
    assert!(frozen > 5 && trained > 5, "{frozen} frozen, {trained} trained");
    // Typed refusals: decoder-only from random weights, a bundle of another configuration.
    let mut o = options(Stage::Vq, &data, &runs.join("vq-fresh"), 2);
    o.decoder_only = true;
    let err = train(&o).unwrap_err();
    assert!(
        err.to_string().contains("--decoder-only needs a trained VQ"),
        "{err}"
    );
    let mut o = options(Stage::Vq, &data, &runs.join("vq-other"), 2);
    o.config = ModelConfig::demo();
    o.init = Some(bundle);
    let err = train(&o).unwrap_err();
    assert!(err.to_string().contains("configuration differs"), "{err}");
    let _ = std::fs::remove_dir_all(data);
}
