//! Timing of a 10 000-motion corpus (release): `cargo test --release --test synth_speed -- --ignored --nocapture`.

#![cfg(feature = "native")]

use momask::synth::{SynthOptions, synthesize_corpus};

#[test]
#[ignore]
fn ten_thousand_motions() {
    let n: usize = std::env::var("SYNTH_COUNT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let dir = std::env::temp_dir().join(format!("momask_synth_speed_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut o = SynthOptions::new(&dir, n, 2024);
    o.threads = 2;
    let r = synthesize_corpus(&o, |d, t| {
        if d % 1000 == 0 {
            eprintln!("{d}/{t}");
        }
    })
    .expect("corpus");
    println!("{n} motions, {} frames in {:.1} s", r.frames_total, r.seconds);
    println!("splits train/val/test = {}/{}/{}", r.train, r.val, r.test);
    println!(
        "round trip max {:.3} mm mean {:.4} mm; bone error max {:.4} mm; penetration max {:.3} cm; std floored {}",
        r.roundtrip_max_mm, r.roundtrip_mean_mm, r.max_bone_err_mm, r.max_penetration_cm, r.std_floored
    );
    println!("yaw-rate feature rows sign-corrected: {}", r.heading_flips_fixed);
    println!("| family | motions | foot skate (cm/frame) | max accel (m/s²) | round trip max (mm) |");
    for f in &r.families {
        println!(
            "| {} | {} | {:.3} | {:.1} | {:.2} |",
            f.family, f.count, f.skate_cm_per_frame, f.max_acc, f.roundtrip_max_mm
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(r.seconds < 300.0, "took {} s", r.seconds);
}
