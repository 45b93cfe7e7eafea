//! Per-family physical checks of the procedural corpus: bone lengths, floor, foot skate,
//! smoothness, clip length, feature round trip, and caption/label consistency.

#![cfg(feature = "native")]

use momask::synth::captions::parse_count;
use momask::synth::compose::{MAX_FRAMES, MIN_FRAMES};
use momask::synth::corpus::build_motion;
use momask::synth::families::FAMILIES;
use momask::synth::family_names;

const SAMPLES: u64 = 5;

#[test]
fn every_family_is_physically_clean() {
    let mut table = Vec::new();
    let mut failures = Vec::new();
    for fam in FAMILIES {
        let allowed = vec![fam.name.to_string()];
        let (mut skate_sum, mut skate_n) = (0.0, 0usize);
        let (mut worst_rt, mut worst_bone, mut min_y, mut max_acc) = (0.0f64, 0.0f64, f64::MAX, 0.0f64);
        for i in 0..SAMPLES {
            let b = build_motion(11, i * 31 + 3, &allowed, 0.0).expect("build");
            let m = &b.metrics;
            let f = b.joints.frames;
            if !(MIN_FRAMES..=MAX_FRAMES).contains(&f) {
                failures.push(format!("{}: {f} frames", fam.name));
            }
            skate_sum += m.skate_sum;
            skate_n += m.skate_n;
            worst_rt = worst_rt.max(b.rt_max);
            worst_bone = worst_bone.max(m.bone_err);
            min_y = min_y.min(m.min_y);
            max_acc = max_acc.max(m.max_acc);
            assert_eq!(b.features.len(), (f - 1) * 263);
            assert!(b.features.iter().all(|v| v.is_finite()));
        }
        let skate = if skate_n == 0 {
            0.0
        } else {
            100.0 * skate_sum / skate_n as f64
        };
        table.push(format!(
            "{:<14} skate {:.3} cm/frame  bone {:.4} mm  min_y {:.2} cm  acc {:.0} m/s²  round trip {:.3} mm",
            fam.name,
            skate,
            worst_bone * 1e3,
            min_y * 100.0,
            max_acc,
            worst_rt * 1e3
        ));
        let skate_bound = if fam.locomotion { 0.5 } else { 1.0 };
        let checks = [
            (skate < skate_bound, "foot skate"),
            (worst_bone < 1e-3, "bone length"),
            (min_y > -0.01, "floor penetration"),
            (
                max_acc
                    < if matches!(fam.name, "run" | "sprint") {
                        400.0
                    } else {
                        250.0
                    },
                "acceleration spike",
            ),
            (worst_rt < 0.005, "feature round trip"),
        ];
        for (ok, what) in checks {
            if !ok {
                failures.push(format!("{}: {what}", fam.name));
            }
        }
    }
    println!("{}", table.join("\n"));
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn captions_match_labels() {
    for fam in FAMILIES {
        let allowed = vec![fam.name.to_string()];
        for i in 0..8u64 {
            let b = build_motion(5, i * 13 + 1, &allowed, 0.0).expect("build");
            assert_eq!(b.captions.len(), 3);
            assert_eq!(b.motion.parts.len(), 1);
            let p = &b.motion.parts[0].part;
            let n = p.int("count");
            for c in &b.captions {
                let lc = c.to_lowercase();
                if p.params.contains_key("count") && !matches!(p.family, "side_bend" | "look_around") {
                    assert_eq!(parse_count(&lc), Some(n), "{}: '{c}' vs count {n}", fam.name);
                }
                let side = p.str("side");
                if matches!(side, "left" | "right") && p.family != "walk_circle" {
                    assert!(lc.contains(side), "{}: '{c}' lacks side '{side}'", fam.name);
                    let other = if side == "left" { "right" } else { "left" };
                    assert!(!lc.contains(other), "{}: '{c}' mentions '{other}'", fam.name);
                }
                if side == "both" {
                    assert!(
                        lc.contains("both") || lc.contains("each") || lc.contains("alternating"),
                        "{}: '{c}'",
                        fam.name
                    );
                }
                if p.family == "walk_circle" {
                    let d = p.str("direction");
                    let ok = if d == "counterclockwise" {
                        lc.contains("counterclockwise") || lc.contains("anticlockwise")
                    } else {
                        lc.contains("clockwise") && !lc.contains("counterclockwise") || lc.contains("clock's")
                    };
                    assert!(ok, "'{c}' vs {d}");
                }
                assert!(c.ends_with('.'));
            }
            for line in b.text.lines() {
                assert_eq!(line.split('#').count(), 4, "{line}");
            }
        }
    }
}

#[test]
fn compositions_have_ordered_parts_and_then() {
    let allowed = vec!["sequence".to_string()];
    for i in 0..12u64 {
        let b = build_motion(3, i, &allowed, 1.0).expect("build");
        assert_eq!(b.motion.family, "sequence");
        assert!(b.motion.parts.len() >= 2);
        let mut last = 0;
        for p in &b.motion.parts {
            assert!(p.start >= last && p.end > p.start && p.end <= b.joints.frames);
            last = p.start;
        }
        assert!(b.metrics.bone_err < 1e-3, "bone {}", b.metrics.bone_err);
        assert!(
            b.metrics.min_y > -0.01,
            "{:?}: min y {}",
            b.motion.parts.iter().map(|p| p.part.family).collect::<Vec<_>>(),
            b.metrics.min_y
        );
        assert!(b.captions.iter().any(|c| c.contains("then")
            || c.contains("before")
            || c.contains("after")
            || c.contains("followed")));
    }
    assert!(family_names().len() >= 25);
}
