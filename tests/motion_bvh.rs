//! Joints → BVH (spec §9.2): writer/parser round trip, fit quality, typed errors.
//! The template's bone lengths differ from HumanML3D's, so the fitted positions differ from
//! the input by centimetres; tolerances below are in metres.

use momask::motion::bvh::BVH_JOINT_NAMES;
use momask::motion::synthetic::walk;
use momask::motion::{BvhOptions, JointPositions, MotionError, joints_to_bvh, parse_bvh};

/// Mean and max joint distance (mm) between two position sets of equal shape.
fn distance_mm(a: &JointPositions, b: &JointPositions) -> (f64, f64) {
    let mut sum = 0.0;
    let mut max = 0.0f64;
    let n = a.frames * a.joints;
    for t in 0..a.frames {
        for j in 0..a.joints {
            let (p, q) = (a.get(t, j), b.get(t, j));
            let d = (((p[0] - q[0]) as f64).powi(2)
                + ((p[1] - q[1]) as f64).powi(2)
                + ((p[2] - q[2]) as f64).powi(2))
            .sqrt()
                * 1e3;
            sum += d;
            max = max.max(d);
        }
    }
    (sum / n as f64, max)
}

#[test]
fn fitted_bvh_follows_input() {
    let input = walk(196, 20.0);
    let opts = BvhOptions {
        foot_ik: false,
        iterations: 100,
    };
    let bvh = joints_to_bvh(&input, &opts).unwrap();
    let fitted = bvh.fk_positions();
    assert_eq!((fitted.frames, fitted.joints), (196, 22));
    let (mean, max) = distance_mm(&input, &fitted);
    println!("BVH fit (no foot IK): mean {mean:.1} mm, max {max:.1} mm");
    assert!(mean < 40.0 && max < 120.0, "mean {mean} max {max}");
    // The root is copied, not fitted.
    assert_eq!(fitted.get(10, 0), input.get(10, 0));

    let with_ik = joints_to_bvh(&input, &BvhOptions::default()).unwrap();
    let (mean, max) = distance_mm(&input, &with_ik.fk_positions());
    println!("BVH fit (foot IK): mean {mean:.1} mm, max {max:.1} mm");
    assert!(mean < 80.0, "mean {mean} max {max}");
}

#[test]
fn write_then_parse() {
    let input = walk(40, 20.0);
    let bvh = joints_to_bvh(&input, &BvhOptions::default()).unwrap();
    let text = bvh.to_string();
    assert!(text.starts_with("HIERARCHY\nROOT Hips\n{\n\tOFFSET -0.001795 -0.223333 0.028219\n"));
    assert!(text.contains("\nFrames: 40\nFrame Time: 0.050000\n"));
    assert_eq!(text.matches("End Site").count(), 5);

    let parsed = parse_bvh(&text).unwrap();
    assert_eq!(parsed.joints(), 22);
    assert_eq!(parsed.frames, 40);
    assert_eq!(parsed.channel_count(), 6 + 21 * 3);
    assert_eq!(parsed.names, BVH_JOINT_NAMES.map(String::from).to_vec());
    assert_eq!(parsed.frame_time, 0.05);
    // FK of the parsed file reproduces the fitted positions (6-decimal rounding only).
    let from_file = parsed.fk_positions();
    let fitted = bvh.global_positions();
    let mut err = 0.0f64;
    for t in 0..40 {
        for j in 0..22 {
            let p = from_file.get(t, j);
            let q = fitted[t * 22 + j];
            for a in 0..3 {
                err = err.max((p[a] as f64 - q[a]).abs());
            }
        }
    }
    println!("parsed BVH FK vs fitted positions: max abs error {err:e} m");
    assert!(err < 1e-5, "{err}");
}

#[test]
fn typed_errors() {
    assert!(matches!(
        joints_to_bvh(&JointPositions::zeros(3, 21), &BvhOptions::default()),
        Err(MotionError::WrongJointCount {
            expected: 22,
            got: 21
        })
    ));
    let text = joints_to_bvh(&walk(3, 20.0), &BvhOptions::default())
        .unwrap()
        .to_string();
    // Corrupt one angle on the second frame line.
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let n = lines.len();
    lines[n - 2] = lines[n - 2].replacen(' ', " abc ", 4);
    match parse_bvh(&lines.join("\n")) {
        Err(MotionError::Bvh { line, message }) => {
            assert_eq!(line, n - 1);
            assert!(message.contains("abc"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // Missing frame lines.
    let cut: String = text.lines().take(n - 1).collect::<Vec<_>>().join("\n");
    assert!(matches!(parse_bvh(&cut), Err(MotionError::Bvh { .. })));
    assert!(matches!(
        parse_bvh("nonsense"),
        Err(MotionError::Bvh { line: 1, .. })
    ));
}
