//! Corpus writer: determinism and loading back through the HumanML3D dataset loader.

#![cfg(feature = "native")]

use std::fs;
use std::path::{Path, PathBuf};

use momask::motion::{HUMANML3D, recover_from_ric};
use momask::synth::{DatasetError, HumanMl3dDataset, SynthOptions, synthesize_corpus};

fn tmp(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("momask_synth_{}_{name}", std::process::id()));
    let _ = fs::remove_dir_all(&p);
    p
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((
                    p.strip_prefix(dir).unwrap().display().to_string(),
                    fs::read(&p).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn same_seed_same_bytes_and_loads_back() {
    let a = tmp("a");
    let b = tmp("b");
    let c = tmp("c");
    let mut oa = SynthOptions::new(&a, 30, 42);
    oa.threads = 2;
    let mut ob = SynthOptions::new(&b, 30, 42);
    ob.threads = 1;
    let oc = SynthOptions::new(&c, 30, 43);
    let mut calls = 0;
    let ra = synthesize_corpus(&oa, |_, _| calls += 1).expect("corpus a");
    assert_eq!(calls, 30);
    synthesize_corpus(&ob, |_, _| {}).expect("corpus b");
    synthesize_corpus(&oc, |_, _| {}).expect("corpus c");
    let fa = files(&a);
    let fb = files(&b);
    assert_eq!(fa.len(), fb.len());
    for (x, y) in fa.iter().zip(&fb) {
        assert_eq!(x.0, y.0);
        assert!(x.1 == y.1, "{} differs between identical seeds", x.0);
    }
    let fc = files(&c);
    assert!(
        fa.iter().zip(&fc).any(|(x, y)| x.1 != y.1),
        "different seeds gave identical corpora"
    );

    assert!(
        ra.roundtrip_max_mm < 50.0,
        "round trip {} mm",
        ra.roundtrip_max_mm
    );
    assert!(ra.max_bone_err_mm < 1.0);
    assert_eq!(ra.train + ra.val + ra.test, 30);

    // Load back.
    let ds = HumanMl3dDataset::open(&a).expect("open");
    let mut all = Vec::new();
    for s in ["train", "val", "test"] {
        all.extend(ds.split_ids(s).expect("split"));
    }
    all.sort();
    assert_eq!(all, ds.split_ids("all").unwrap());
    assert_eq!(all.len(), 30);
    for id in &all {
        let (feat, rows) = ds.features(id).expect("features");
        let joints = ds.joints(id).expect("joints");
        assert_eq!(rows + 1, joints.frames);
        assert_eq!(feat.len(), rows * 263);
        let caps = ds.captions(id).expect("captions");
        assert!(caps.len() >= 3);
        assert!(caps[..3].iter().all(|c| c.is_whole() && !c.tokens.is_empty()));
        for c in &caps[3..] {
            let (s, e) = c.frame_range(20.0).expect("sub-clip");
            assert!(e > s && e <= joints.frames, "{s}..{e} of {}", joints.frames);
        }
        // Feature round trip against the stored joints.
        let rec = recover_from_ric(&feat, rows, &HUMANML3D).unwrap();
        let worst = rec
            .data
            .iter()
            .zip(&joints.data)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 0.05, "{id}: round trip {worst} m");
    }
    let (mean, std) = ds.mean_std().expect("stats");
    assert_eq!((mean.len(), std.len()), (263, 263));
    assert!(std.iter().all(|s| *s >= 1e-3));
    let labels = fs::read_to_string(a.join("labels.jsonl")).unwrap();
    assert_eq!(labels.lines().count(), 30);
    for l in labels.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(v["family"].is_string() && v["parts"].is_array());
    }

    // Typed errors for missing and corrupt files.
    assert!(matches!(ds.features("nope"), Err(DatasetError::Missing { .. })));
    let id = &all[0];
    fs::write(a.join("new_joint_vecs").join(format!("{id}.npy")), b"garbage").unwrap();
    assert!(matches!(ds.features(id), Err(DatasetError::Npy { .. })));
    fs::write(a.join("texts").join(format!("{id}.txt")), "bad line\n").unwrap();
    assert!(matches!(ds.captions(id), Err(DatasetError::Caption { .. })));
    fs::remove_file(a.join("Std.npy")).unwrap();
    assert!(matches!(ds.mean_std(), Err(DatasetError::Missing { .. })));
    assert!(matches!(ds.features("../x"), Err(DatasetError::BadId(_))));
    assert!(HumanMl3dDataset::open(a.join("missing")).is_err());
    for d in [a, b, c] {
        let _ = fs::remove_dir_all(d);
    }
}

#[test]
fn unknown_family_is_an_error() {
    let mut o = SynthOptions::new(tmp("x"), 2, 1);
    o.families = vec!["moonwalk".into()];
    assert!(synthesize_corpus(&o, |_, _| {}).is_err());
}
