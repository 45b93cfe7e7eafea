//! Root-relative validation MPJPE of a VQ run folder's latest checkpoint:
//! `cargo run --example vq_check -- <corpus> <vq run dir>`.
use burn::tensor::Device;
use momask::sample::rng::Rng;
use momask::synth::dataset::HumanMl3dDataset;
use momask::train::data::MotionSet;
use momask::train::run::{load_trained_vq, vq_mpjpe};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (data, dir) = (&args[1], &args[2]);
    let device = Device::flex();
    let (vq, mean, std) = load_trained_vq(std::path::Path::new(dir), &momask::ModelConfig::demo(), &device)?;
    let ds = HumanMl3dDataset::open(data)?;
    let val = MotionSet::load(&ds, "val", &mean, &std, 64, false, None)?;
    let windows = val.sample_windows(&mut Rng::new(3407 ^ 0x5A1), 128, 64);
    println!(
        "root-relative val MPJPE: {:.2} mm",
        vq_mpjpe(&vq, &windows, 64, &mean, &std)?
    );
    Ok(())
}
