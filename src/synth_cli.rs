//! `momask synth`: writes the procedural corpus and prints its quality table.

use std::io::Write;
use std::path::Path;

use crate::synth::{SynthOptions, family_names, synthesize_corpus};

/// Runs the corpus builder; returns a printable error.
pub fn run(out: &Path, count: usize, seed: u64, families: Option<&str>, list: bool) -> Result<(), String> {
    if list {
        for name in family_names() {
            println!("{name}");
        }
        return Ok(());
    }
    if count == 0 {
        return Err("--count must be at least 1".into());
    }
    let mut opts = SynthOptions::new(out, count, seed);
    if let Some(list) = families {
        let known = family_names();
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if !known.contains(&name) {
                return Err(format!("unknown family '{name}' (see `momask synth --list`)"));
            }
            opts.families.push(name.to_string());
        }
    }
    let report = synthesize_corpus(&opts, |done, total| {
        if done % 200 == 0 || done == total {
            eprint!("\r{done}/{total} motions");
            let _ = std::io::stderr().flush();
        }
    })
    .map_err(|e| e.to_string())?;
    eprintln!();
    println!(
        "wrote {} motions ({} frames; train/val/test {}/{}/{}) to {} in {:.1} s",
        report.count,
        report.frames_total,
        report.train,
        report.val,
        report.test,
        out.display(),
        report.seconds
    );
    println!(
        "features → joints round trip: max {:.3} mm, mean {:.4} mm; bone length error max {:.4} mm; floor penetration max {:.3} cm",
        report.roundtrip_max_mm, report.roundtrip_mean_mm, report.max_bone_err_mm, report.max_penetration_cm
    );
    println!(
        "\n| family | motions | foot skate (cm/frame) | max bone err (mm) | max penetration (cm) | peak accel (m/s²) |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for f in &report.families {
        println!(
            "| {} | {} | {:.3} | {:.4} | {:.3} | {:.1} |",
            f.family, f.count, f.skate_cm_per_frame, f.max_bone_err_mm, f.max_penetration_cm, f.max_acc
        );
    }
    Ok(())
}
