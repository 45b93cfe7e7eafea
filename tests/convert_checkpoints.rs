//! Reading the official checkpoint formats from the small MoMask fixture
//! (`$MOMASK_SHARED/fixtures/momask-small`, default `../shared`).
#![cfg(feature = "native")]

use std::collections::BTreeMap;
use std::io::{Cursor, Write};
use std::path::PathBuf;

use momask::convert::{
    ConvertError, OfficialSources, OptValue, PickleValue, RawDtype, read_checkpoint, read_clip_state_dict,
    read_official, state_dict_from_checkpoint,
};
use momask::io::npy::NpyArray;

fn shared() -> PathBuf {
    std::env::var_os("MOMASK_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared")))
}

fn fixture() -> PathBuf {
    shared().join("fixtures/momask-small")
}

fn t2m() -> PathBuf {
    fixture().join("checkpoints/t2m")
}

const VQ: &str = "rvq_nq6_dc512_nc512_noshare_qdp0.2";
const MASK: &str = "t2m_nlayer8_nhead6_ld384_ff1024_cdp0.1_rvq6ns";
const RES: &str = "tres_nlayer8_ld384_ff1024_rvq6ns_cdp0.2_sw";

fn read(p: PathBuf) -> Vec<u8> {
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn sources() -> OfficialSources {
    OfficialSources {
        checkpoints: fixture().join("checkpoints"),
        clip: fixture().join("clip/ViT-B-32-small-jit.pt"),
        clip_config: Some(fixture().join("clip/clip_config.json")),
        clip_vocab: shared().join("fixtures/clip/bpe_simple_vocab_16e6.txt.gz"),
        ..Default::default()
    }
}

#[test]
fn official_tree_small() {
    let t0 = std::time::Instant::now();
    let ck = read_official(&sources()).unwrap();
    eprintln!("read_official: {:?}", t0.elapsed());
    assert_eq!(ck.dataset, "t2m");
    assert_eq!(ck.vq_name, VQ);
    assert_eq!((ck.vq.len(), ck.mask.len(), ck.res.len()), (69, 36, 40));
    assert_eq!(ck.length_estimator.as_ref().map(|l| l.len()), Some(14));
    assert!(ck.warnings.is_empty(), "{:?}", ck.warnings);

    for q in 0..3 {
        let cb = &ck.vq[&format!("quantizer.layers.{q}.codebook")];
        assert_eq!((cb.shape.as_slice(), cb.dtype), (&[64, 32][..], RawDtype::F32));
    }
    assert!(!ck.vq.contains_key("quantizer.layers.3.codebook"));
    assert_eq!(ck.vq["encoder.model.0.weight"].shape, vec![32, 263, 3]);
    assert_eq!(ck.vq["decoder.model.6.weight"].shape, vec![263, 32, 3]);
    assert_eq!(ck.mask["token_emb.weight"].shape, vec![66, 32]);
    assert_eq!(ck.mask["position_enc.pe"].shape, vec![5000, 1, 64]);
    assert_eq!(
        ck.mask["seqTransEncoder.layers.1.self_attn.in_proj_weight"].shape,
        vec![192, 64]
    );
    assert_eq!(ck.mask["output_process.poseFinal.weight"].shape, vec![64, 64]);
    assert_eq!(ck.res["embed_proj_shared_weight"].shape, vec![1, 65, 32]);
    assert_eq!(ck.res["token_embed_weight_"].shape, vec![1, 65, 32]);
    assert_eq!(ck.res["output_proj_weight_"].shape, vec![1, 65, 32]);
    assert_eq!(ck.res["quant_emb.weight"].shape, vec![64, 3]);
    assert!(
        ck.mask
            .keys()
            .chain(ck.res.keys())
            .all(|k| !k.starts_with("clip_model."))
    );
    let le = ck.length_estimator.as_ref().unwrap();
    assert_eq!(le["output.0.weight"].shape, vec![512, 512]);
    assert_eq!(le["output.11.weight"].shape, vec![50, 128]);
    assert_eq!(le["output.9.bias"].shape, vec![128]);

    // opt.txt typing (spec §7.6).
    assert_eq!(ck.vq_opt.get("nb_code"), Some(&OptValue::Int(64)));
    assert_eq!(ck.vq_opt.get("lr"), Some(&OptValue::Float(0.0002)));
    assert_eq!(
        ck.vq_opt.get("milestones"),
        Some(&OptValue::Str("[150000, 250000]".into()))
    );
    assert_eq!(ck.vq_opt.get("vq_norm"), Some(&OptValue::Str("None".into())));
    assert_eq!(ck.vq_opt.get("shared_codebook"), Some(&OptValue::Bool(false)));
    assert_eq!(ck.vq_opt.get("weight_decay"), Some(&OptValue::Float(0.0)));
    assert_eq!(ck.vq_opt.get_usize("num_quantizers").unwrap(), 3);
    assert_eq!(ck.mask_opt.get_str("vq_name").unwrap(), VQ);
    assert_eq!(
        ck.mask_opt.get("milestones"),
        Some(&OptValue::Str("[50000]".into()))
    );
    assert!(ck.res_opt.get_bool("share_weight").unwrap());
    assert!(!ck.mask_opt.get_bool("share_weight").unwrap());
    assert_eq!(ck.res_opt.get_f64("cond_drop_prob").unwrap(), 0.2);

    // CLIP geometry: heads come from the config (width 32 is not a multiple of 64).
    assert_eq!(
        (
            ck.clip_heads,
            ck.clip_layers,
            ck.clip_width,
            ck.clip_embed_dim,
            ck.clip_context,
            ck.clip_vocab_size
        ),
        (2, 2, 32, 512, 77, 49408)
    );
    assert_eq!(ck.clip.len(), 53);
    assert_eq!(&ck.clip_vocab_gz[..2], &[0x1f, 0x8b]);

    // mean/std equal the .npy files read independently.
    let mean = NpyArray::from_bytes(&read(t2m().join(VQ).join("meta/mean.npy")))
        .unwrap()
        .to_f32()
        .unwrap();
    let std = NpyArray::from_bytes(&read(t2m().join(VQ).join("meta/std.npy")))
        .unwrap()
        .to_f32()
        .unwrap();
    assert_eq!((ck.mean.len(), ck.std.len()), (263, 263));
    assert_eq!(ck.mean, mean);
    assert_eq!(ck.std, std);
    assert!(ck.std.iter().all(|&s| s > 0.0));

    // Every file read is listed; sizes and hashes agree with the fixture manifest.
    let manifest: serde_json::Value = serde_json::from_slice(&read(fixture().join("manifest.json"))).unwrap();
    let files = manifest["files"].as_object().unwrap();
    assert_eq!(ck.sources.len(), 12, "{:#?}", ck.sources);
    let mut checked = 0;
    for s in &ck.sources {
        // Tree files are listed relative to the checkpoints folder, others by their path.
        let entry = files
            .iter()
            .find(|(k, _)| format!("checkpoints/{}", s.path) == **k || s.path.ends_with(k.as_str()));
        if let Some((_, m)) = entry {
            assert_eq!(m["bytes"].as_u64(), Some(s.size), "{}", s.path);
            assert_eq!(m["sha256"].as_str(), Some(s.sha256.as_str()), "{}", s.path);
            checked += 1;
        }
    }
    // 9 tree files (the length estimator's opt.txt is not read) and clip_config.json; the
    // TorchScript CLIP and the vocabulary are not in the manifest.
    assert_eq!(checked, 10);
}

#[test]
fn positional_encoding_values() {
    // pe[p, 0, 2i] = sin(p · 10000^(-2i/d)), so column 0 is sin(p) and column 1 cos(p).
    let sd = state_dict_from_checkpoint(
        &read(t2m().join(MASK).join("model/latest.tar")),
        &["t2m_transformer", "trans"],
    )
    .unwrap();
    let pe = &sd["position_enc.pe"];
    let v = pe.to_f32();
    assert_eq!(v.len(), 5000 * 64);
    for p in [0usize, 1, 2, 7, 49, 100, 4999] {
        let (s, c) = (v[p * 64], v[p * 64 + 1]);
        assert!((s - (p as f32).sin()).abs() < 2e-6, "pe[{p},0,0] = {s}");
        assert!((c - (p as f32).cos()).abs() < 2e-6, "pe[{p},0,1] = {c}");
    }
    // The residual transformer has the same buffer.
    let res = state_dict_from_checkpoint(
        &read(t2m().join(RES).join("model/net_best_fid.tar")),
        &["res_transformer"],
    )
    .unwrap();
    assert_eq!(res["position_enc.pe"], *pe);
}

#[test]
fn whole_latest_tar_with_optimizer_and_counter() {
    let v = read_checkpoint(&read(t2m().join(MASK).join("model/latest.tar"))).unwrap();
    assert_eq!(
        v.dict_keys(),
        vec![
            "t2m_transformer",
            "opt_t2m_transformer",
            "scheduler",
            "ep",
            "total_it"
        ]
    );
    assert_eq!(v.get("ep"), Some(&PickleValue::Int(499)));
    assert_eq!(v.get("total_it"), Some(&PickleValue::Int(170000)));
    // MultiStepLR keeps its milestones in a collections.Counter.
    let sched = v.get("scheduler").unwrap();
    assert_eq!(
        sched.get("milestones"),
        Some(&PickleValue::Dict(vec![(
            PickleValue::Int(50000),
            PickleValue::Int(1)
        )]))
    );
    assert_eq!(sched.get("gamma"), Some(&PickleValue::Float(0.1)));
    let opt = v.get("opt_t2m_transformer").unwrap();
    let groups = match opt.get("param_groups") {
        Some(PickleValue::List(g)) => g,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        groups[0].get("betas"),
        Some(&PickleValue::Tuple(vec![
            PickleValue::Float(0.9),
            PickleValue::Float(0.99)
        ]))
    );
    assert_eq!(groups[0].get("foreach"), Some(&PickleValue::None));
    // AdamW state: real tensors, materialised, `step` a 0-d float32.
    let state = opt.get("state").and_then(PickleValue::as_dict).unwrap();
    assert!(!state.is_empty());
    let (_, first) = &state[0];
    match first.get("step") {
        Some(PickleValue::RawTensor(t)) => assert_eq!((t.shape.len(), t.dtype), (0, RawDtype::F32)),
        other => panic!("{other:?}"),
    }
    assert!(matches!(first.get("exp_avg"), Some(PickleValue::RawTensor(_))));
    // The state dict inside equals the one extracted alone.
    let alone = state_dict_from_checkpoint(
        &read(t2m().join(MASK).join("model/latest.tar")),
        &["t2m_transformer"],
    )
    .unwrap();
    let inside = v.get("t2m_transformer").and_then(PickleValue::as_dict).unwrap();
    assert_eq!(inside.len(), alone.len());
    for (k, t) in inside {
        let PickleValue::RawTensor(t) = t else { panic!() };
        assert_eq!(&alone[k.as_str().unwrap()], t);
    }
}

#[test]
fn missing_key_lists_available_keys() {
    let bytes = read(t2m().join(VQ).join("model/net_best_fid.tar"));
    match state_dict_from_checkpoint(&bytes, &["t2m_transformer", "trans"]) {
        Err(ConvertError::MissingKey { available, key, file }) => {
            assert_eq!(available, vec!["vq_model", "ep"]);
            assert!(key.contains("t2m_transformer") && key.contains("trans"), "{key}");
            assert_eq!(file, "net_best_fid/data.pkl");
        }
        other => panic!("{other:?}"),
    }
    // The legacy key 'net' is accepted in second place.
    assert_eq!(
        state_dict_from_checkpoint(&bytes, &["net", "vq_model"])
            .unwrap()
            .len(),
        69
    );
}

#[test]
fn clip_plain_and_torchscript_agree() {
    let t0 = std::time::Instant::now();
    let plain = read_clip_state_dict(&read(fixture().join("clip/ViT-B-32-random.pt"))).unwrap();
    let jit = read_clip_state_dict(&read(fixture().join("clip/ViT-B-32-small-jit.pt"))).unwrap();
    eprintln!("both CLIP files: {:?}", t0.elapsed());
    // The small CLIP (2 text layers, 1 vision layer): 50 fp16 tensors + 3 int64 scalars. (The
    // README's "302 fp16 + 3 int64" counts the full ViT-B/32.)
    assert_eq!(plain.len(), 53);
    let dtypes: BTreeMap<RawDtype, usize> = plain.values().fold(BTreeMap::new(), |mut m, t| {
        *m.entry(t.dtype).or_default() += 1;
        m
    });
    assert_eq!(dtypes, BTreeMap::from([(RawDtype::F16, 50), (RawDtype::I64, 3)]));
    assert_eq!(plain.keys().collect::<Vec<_>>(), jit.keys().collect::<Vec<_>>());
    for (k, a) in &plain {
        let b = &jit[k];
        assert_eq!((&a.shape, a.dtype), (&b.shape, b.dtype), "{k}");
        assert!(a.data == b.data, "{k}: bytes differ");
    }
    assert_eq!(
        plain["transformer.resblocks.0.attn.in_proj_weight"].shape,
        vec![96, 32]
    );
    assert_eq!(plain["token_embedding.weight"].shape, vec![49408, 32]);
    assert_eq!(plain["text_projection"].shape, vec![32, 512]);
    assert_eq!(plain["visual.conv1.weight"].shape.len(), 4);
    for (k, want) in [
        ("context_length", 77),
        ("vocab_size", 49408),
        ("input_resolution", 16),
    ] {
        let t = &plain[k];
        assert_eq!((t.shape.len(), t.to_i64().unwrap()), (0, vec![want]), "{k}");
    }
}

// ---- malformed inputs: typed errors, never panics ----

/// A one-record torch-style zip holding `pkl` as `x/data.pkl`.
fn zip_with(records: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, data) in records {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

#[test]
fn forbidden_global_in_archive() {
    // {'x': os.system('echo pwned')}
    let pkl = b"\x80\x02}q\x00X\x01\x00\x00\x00xcos\nsystem\nX\x0a\x00\x00\x00echo pwned\x85R\x73.";
    let bytes = zip_with(&[("x/data.pkl", pkl)]);
    match read_checkpoint(&bytes) {
        Err(ConvertError::ForbiddenGlobal { module, name }) => {
            assert_eq!((module.as_str(), name.as_str()), ("os", "system"))
        }
        other => panic!("{other:?}"),
    }
    // Also through the state-dict and CLIP entry points.
    assert!(matches!(
        state_dict_from_checkpoint(&bytes, &["x"]),
        Err(ConvertError::ForbiddenGlobal { .. })
    ));
    assert!(matches!(
        read_clip_state_dict(&bytes),
        Err(ConvertError::ForbiddenGlobal { .. })
    ));
}

#[test]
fn bad_memo_index_and_bad_storage() {
    let bytes = zip_with(&[("x/data.pkl", b"\x80\x02}q\x00h\x05.")]);
    match read_checkpoint(&bytes) {
        Err(ConvertError::Pickle { offset, message }) => {
            assert_eq!(offset, 5);
            assert!(message.contains("memo"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // A tensor whose view runs past its 4-element storage.
    let pkl = b"\x80\x02}X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x04tQK\x00K\x03K\x02\x86K\x02K\x01\x86\x89ccollections\nOrderedDict\n)RtRs.";
    let data = [0u8; 16];
    let bytes = zip_with(&[("x/data.pkl", pkl), ("x/data/0", &data)]);
    match state_dict_from_checkpoint(&bytes, &["w"]) {
        Err(ConvertError::Storage { storage, .. }) => assert_eq!(storage, "0"),
        other => panic!("{other:?}"),
    }
    match read_checkpoint(&bytes) {
        Err(ConvertError::Storage { storage, message }) => {
            assert_eq!(storage, "0");
            assert!(message.contains("reaches element"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // The storage record itself is missing.
    let bytes = zip_with(&[("x/data.pkl", pkl)]);
    assert!(matches!(read_checkpoint(&bytes), Err(ConvertError::MissingRecord(r)) if r == "x/data/0"));
    // A storage record shorter than its declared element count.
    let bytes = zip_with(&[("x/data.pkl", pkl), ("x/data/0", &data[..8])]);
    assert!(matches!(
        read_checkpoint(&bytes),
        Err(ConvertError::Storage { .. })
    ));
}

#[test]
fn strided_and_shared_storage_views() {
    // {'a': s[0:6] viewed as (3, 2) with stride (1, 3) (a transpose), 'b': s[3:6]}, both on
    // storage '0' = [0, 1, 2, 3, 4, 5] (f32).
    let mut pkl = b"\x80\x02}(X\x01\x00\x00\x00actorch._utils\n_rebuild_tensor_v2\nq\x00".to_vec();
    pkl.extend_from_slice(b"((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000");
    pkl.extend_from_slice(b"X\x03\x00\x00\x00cpuK\x06tQq\x01");
    pkl.extend_from_slice(b"K\x00K\x03K\x02\x86K\x01K\x03\x86\x89ccollections\nOrderedDict\n)RtR");
    pkl.extend_from_slice(
        b"X\x01\x00\x00\x00bh\x00(h\x01K\x03K\x03\x85K\x01\x85\x89ccollections\nOrderedDict\n)RtR",
    );
    pkl.extend_from_slice(b"u.");
    let data: Vec<u8> = (0..6).flat_map(|i| (i as f32).to_le_bytes()).collect();
    let bytes = zip_with(&[
        ("any_stem/data.pkl", &pkl),
        ("any_stem/byteorder", b"little"),
        ("any_stem/data/0", &data),
    ]);
    let v = read_checkpoint(&bytes).unwrap();
    let (Some(PickleValue::RawTensor(a)), Some(PickleValue::RawTensor(b))) = (v.get("a"), v.get("b")) else {
        panic!("{v:?}")
    };
    assert_eq!(
        (a.shape.as_slice(), a.to_f32()),
        (&[3, 2][..], vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0])
    );
    assert_eq!((b.shape.as_slice(), b.to_f32()), (&[3][..], vec![3.0, 4.0, 5.0]));
    // A big-endian archive is refused rather than misread.
    let bytes = zip_with(&[("x/data.pkl", &pkl), ("x/byteorder", b"big"), ("x/data/0", &data)]);
    assert!(matches!(
        read_checkpoint(&bytes),
        Err(ConvertError::Unsupported(_))
    ));
}

#[test]
fn not_an_archive() {
    assert!(matches!(read_checkpoint(b""), Err(ConvertError::Zip(_))));
    assert!(matches!(
        read_checkpoint(b"hello world, not a zip"),
        Err(ConvertError::Zip(_))
    ));
    // Legacy torch.save files start with a pickle.
    assert!(matches!(
        read_checkpoint(b"\x80\x02\x8a\x0a"),
        Err(ConvertError::Unsupported(_))
    ));
    // A zip without data.pkl.
    let bytes = zip_with(&[("x/other.txt", b"hi")]);
    assert!(matches!(
        read_checkpoint(&bytes),
        Err(ConvertError::MissingRecord(_))
    ));
}

#[test]
fn truncated_and_corrupted_archives_never_panic() {
    for file in [
        t2m().join(VQ).join("model/net_best_fid.tar"),
        t2m().join("length_estimator/model/finest.tar"),
    ] {
        let bytes = read(file);
        // Truncations: everything short of the full file loses the central directory.
        for cut in [
            0,
            1,
            100,
            1000,
            bytes.len() / 2,
            bytes.len() - 30,
            bytes.len() - 1,
        ] {
            assert!(read_checkpoint(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        // Corruptions: flip bytes at pseudo-random positions; any outcome but a panic is fine.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..300 {
            let mut b = bytes.clone();
            for _ in 0..4 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let i = (seed % b.len() as u64) as usize;
                b[i] ^= (seed >> 32) as u8 | 1;
            }
            let _ = read_checkpoint(&b);
            let _ = read_clip_state_dict(&b);
        }
    }
}

#[test]
fn corrupted_pickles_never_panic() {
    // Mutate the real data.pkl of the TorchScript CLIP (the richest pickle) and of latest.tar.
    for (file, rec) in [
        (
            fixture().join("clip/ViT-B-32-small-jit.pt"),
            "ViT-B-32-small-jit/data.pkl",
        ),
        (t2m().join(MASK).join("model/latest.tar"), "latest/data.pkl"),
    ] {
        let mut z = zip::ZipArchive::new(Cursor::new(read(file))).unwrap();
        let mut pkl = Vec::new();
        std::io::Read::read_to_end(&mut z.by_name(rec).unwrap(), &mut pkl).unwrap();
        assert!(momask::convert::unpickle(&pkl).is_ok());
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..2000 {
            let mut b = pkl.clone();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            if round % 4 == 0 {
                b.truncate((seed % b.len() as u64) as usize);
            } else {
                for _ in 0..(1 + round % 3) {
                    let i = (seed % b.len() as u64) as usize;
                    b[i] = (seed >> 40) as u8;
                    seed = seed.rotate_left(9).wrapping_mul(0x2545_f491_4f6c_dd1d);
                }
            }
            let _ = momask::convert::unpickle(&b);
        }
    }
}

#[test]
fn official_tree_errors_name_the_problem() {
    // Wrong VQ folder requested.
    let mut src = sources();
    src.vq_name = Some("rvq_other".into());
    let e = read_official(&src).unwrap_err();
    assert!(matches!(e, ConvertError::Inconsistent(_)), "{e}");
    // Missing folder.
    let mut src = sources();
    src.mask_name = Some("nope".into());
    match read_official(&src).unwrap_err() {
        ConvertError::Io { path, .. } => assert!(path.ends_with("nope/opt.txt"), "{path}"),
        e => panic!("{e}"),
    }
    // No config: width 32 is not a multiple of 64, so the head count cannot be inferred.
    let mut src = sources();
    src.clip_config = None;
    let e = read_official(&src).unwrap_err();
    assert!(e.to_string().contains("multiple of 64"), "{e}");
    // The plain CLIP file works as well as the TorchScript one.
    let mut src = sources();
    src.clip = fixture().join("clip/ViT-B-32-random.pt");
    src.dataset = Some("t2m".into());
    let ck = read_official(&src).unwrap();
    assert_eq!(ck.clip.len(), 53);
    src.dataset = Some("humanml".into());
    assert!(read_official(&src).is_err());
}
