//! Joints → features (spec §1.8): round trip through `recover_from_ric`, layout sanity, and
//! speed. Round-trip tolerance: 1e-4 m on clean motion (float32 cumulative sums).

use std::path::PathBuf;
use std::time::Instant;

use momask::io::npy::NpyArray;
use momask::motion::quat::{Vec3, normalize, sub3};
use momask::motion::synthetic::walk;
use momask::motion::{
    HUMANML3D, JointPositions, MotionError, Skeleton, canonicalize_joints, joints_to_features,
    recover_from_ric,
};

fn shared() -> PathBuf {
    std::env::var_os("MOMASK_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared")))
}

fn load_joints(case: &str) -> JointPositions {
    let path = shared().join(format!("fixtures/momask-small/expected/{case}/joints.npy"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let arr = NpyArray::from_bytes(&bytes).unwrap();
    JointPositions::new(arr.shape[0], arr.shape[1], arr.to_f32().unwrap()).unwrap()
}

/// Max abs difference between recovered joints and the canonical joints (first T−1 frames).
fn round_trip_error(joints: &JointPositions) -> f32 {
    let skel = Skeleton::humanml3d();
    let feats = joints_to_features(joints, &HUMANML3D, &skel).unwrap();
    let rows = joints.frames - 1;
    assert_eq!(feats.len(), rows * 263);
    let rec = recover_from_ric(&feats, rows, &HUMANML3D).unwrap();
    let canon = canonicalize_joints(joints, &skel).unwrap();
    rec.data
        .iter()
        .zip(&canon.data[..rows * 22 * 3])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}

#[test]
fn synthetic_walk_round_trip() {
    let j = walk(196, 20.0);
    let err = round_trip_error(&j);
    println!("synthetic walk (196 frames): round-trip max abs error {err:e} m");
    assert!(err < 1e-4, "{err}");

    // The canonical motion of a skeleton with target bone lengths is the input itself, moved
    // onto the floor, to the origin and turned to face +Z: the shape is untouched.
    let canon = canonicalize_joints(&j, &Skeleton::humanml3d()).unwrap();
    let dist = |p: &JointPositions, t: usize, a: usize, b: usize| {
        let d = sub3(p.get(t, a), p.get(t, b));
        (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt()
    };
    let mut shape_err = 0.0f32;
    for t in 0..j.frames {
        for (a, b) in [(0, 10), (15, 20), (11, 21), (7, 8)] {
            shape_err = shape_err.max((dist(&j, t, a, b) - dist(&canon, t, a, b)).abs());
        }
    }
    println!("synthetic walk: canonicalisation changes distances by {shape_err:e} m");
    assert!(shape_err < 1e-5);
}

#[test]
fn fixture_joints_round_trip() {
    // Network output from random weights: bone lengths vary, so the retarget changes the
    // motion, but features → joints must still reproduce the canonical (retargeted) motion.
    let mut worst = 0.0f32;
    for i in 0..8 {
        let case = format!("prompt_{i:02}");
        let err = round_trip_error(&load_joints(&case));
        println!("{case}: round-trip max abs error {err:e} m");
        worst = worst.max(err);
    }
    println!("fixture worst: {worst:e} m");
    assert!(worst < 1e-4, "{worst}");
}

#[test]
fn feature_layout_sanity() {
    let j = walk(120, 20.0);
    let skel = Skeleton::humanml3d();
    let feats = joints_to_features(&j, &HUMANML3D, &skel).unwrap();
    let canon = canonicalize_joints(&j, &skel).unwrap();
    let rows = j.frames - 1;
    let mut contacts = 0;
    let floor = canon
        .data
        .iter()
        .skip(1)
        .step_by(3)
        .fold(f32::INFINITY, |m, &y| m.min(y));
    assert_eq!(floor, 0.0, "motion is put on the floor");
    let r0 = canon.get(0, 0);
    assert_eq!((r0[0], r0[2]), (0.0, 0.0), "frame 0 root at the xz origin");
    // Frame 0 faces +Z: left hip minus right hip points along +X.
    let across: Vec3 = normalize(sub3(canon.get(0, 1), canon.get(0, 2)));
    assert!(across[0] > 0.99, "{across:?}");
    for t in 0..rows {
        let row = &feats[t * 263..(t + 1) * 263];
        // Contacts are exactly 0 or 1.
        for &c in &row[259..263] {
            assert!(c == 0.0 || c == 1.0);
            contacts += c as usize;
        }
        // Root height and RIC heights are the absolute y of the canonical joints.
        assert_eq!(row[3], canon.get(t, 0)[1]);
        for k in 1..22 {
            assert!((row[4 + (k - 1) * 3 + 1] - canon.get(t, k)[1]).abs() < 1e-6);
        }
        // 6-D rotations have unit columns.
        for k in 0..21 {
            let c = &row[67 + k * 6..67 + k * 6 + 6];
            let n0 = (c[0] * c[0] + c[1] * c[1] + c[2] * c[2]).sqrt();
            let n1 = (c[3] * c[3] + c[4] * c[4] + c[5] * c[5]).sqrt();
            assert!((n0 - 1.0).abs() < 1e-5 && (n1 - 1.0).abs() < 1e-5);
        }
        // Joint velocities keep the length of the world displacement.
        for k in 0..22 {
            let v = &row[193 + k * 3..193 + k * 3 + 3];
            let d = sub3(canon.get(t + 1, k), canon.get(t, k));
            let (a, b) = (
                (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt(),
                (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt(),
            );
            assert!((a - b).abs() < 1e-6);
        }
        // Forward root speed ≈ 1.1 m/s / 20 fps along +Z of the heading frame.
        if t > 30 {
            assert!((row[2] - 0.055).abs() < 0.02, "t {t}: {}", row[2]);
        }
    }
    println!("synthetic walk: {contacts} contact flags set over {rows} rows");
    assert!(contacts > 0, "a walk has foot contacts");
}

#[test]
fn typed_errors() {
    let skel = Skeleton::humanml3d();
    let one = walk(1, 20.0);
    assert!(matches!(
        joints_to_features(&one, &HUMANML3D, &skel),
        Err(MotionError::TooFewFrames { needed: 2, got: 1 })
    ));
    let mut bad = walk(10, 20.0);
    bad.set(4, 7, [f32::NAN, 0.0, 0.0]);
    assert!(matches!(
        joints_to_features(&bad, &HUMANML3D, &skel),
        Err(MotionError::NonFinite { frame: 4, joint: 7 })
    ));
    let mut collapsed = walk(10, 20.0);
    let p = collapsed.get(3, 4);
    collapsed.set(3, 7, p);
    assert!(matches!(
        joints_to_features(&collapsed, &HUMANML3D, &skel),
        Err(MotionError::DegenerateBone { frame: 3, joint: 7 })
    ));
    assert!(matches!(
        joints_to_features(&walk(10, 20.0), &HUMANML3D, &Skeleton::kit()),
        Err(MotionError::LayoutMismatch { .. })
    ));
}

#[test]
fn extraction_is_fast() {
    let j = walk(196, 20.0);
    let skel = Skeleton::humanml3d();
    let _ = joints_to_features(&j, &HUMANML3D, &skel).unwrap();
    let n = 20;
    let start = Instant::now();
    for _ in 0..n {
        std::hint::black_box(joints_to_features(&j, &HUMANML3D, &skel).unwrap());
    }
    let ms = start.elapsed().as_secs_f64() * 1e3 / n as f64;
    println!("joints_to_features, 196 frames: {ms:.3} ms per clip");
    // Generous bound so that unoptimised test builds pass; release is far below 10 ms.
    assert!(ms < 200.0);
}
