//! The bundle is the one thing the browser trusts from the network: every corruption must be a
//! typed error naming what is wrong, never a panic and never a partially loaded model.

mod common;

use std::collections::{BTreeMap, HashMap};

use burn::tensor::Device;
use common::small_bundle;
use momask::bundle::{Bundle, BundleError, BundleHeader, OwnedTensor, read_header, write_bundle};
use momask::nn::weights::LoadError;
use momask::{Error, MoMask};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

/// All tensors of the fixture bundle, owned, plus its header.
fn parts() -> (BundleHeader, BTreeMap<String, OwnedTensor>) {
    let bytes = small_bundle();
    let header = read_header(bytes).unwrap();
    let st = SafeTensors::deserialize(bytes).unwrap();
    let tensors = st
        .tensors()
        .into_iter()
        .map(|(name, v)| {
            (
                name,
                OwnedTensor {
                    dtype: v.dtype(),
                    shape: v.shape().to_vec(),
                    data: v.data().to_vec(),
                },
            )
        })
        .collect();
    (header, tensors)
}

fn load(bytes: &[u8]) -> Result<MoMask, Error> {
    MoMask::from_bundle_bytes(bytes, &Device::flex())
}

#[test]
fn fixture_bundle_round_trips_and_verifies() {
    let bytes = small_bundle();
    let bundle = Bundle::from_bytes(bytes).expect("valid bundle");
    assert_eq!(bundle.header.format, "momask-bundle");
    assert_eq!(bundle.header.quantization, "f32");
    assert_eq!(bundle.header.content_hash.len(), 64);
    // Re-writing the same tensors gives the same content hash.
    let (header, tensors) = parts();
    let again = write_bundle(header.clone(), &tensors).unwrap();
    assert_eq!(read_header(&again).unwrap().content_hash, header.content_hash);
    assert!(load(bytes).is_ok());
}

#[test]
fn truncated_and_foreign_bytes_are_rejected() {
    let bytes = small_bundle();
    for cut in [0, 4, 8, 100, bytes.len() / 2, bytes.len() - 1] {
        let err = load(&bytes[..cut]).expect_err("truncated bundle must fail");
        assert!(
            matches!(err, Error::Bundle(BundleError::NotABundle(_))),
            "cut at {cut}: {err}"
        );
    }
    let err = load(b"GIF89a this is not a model at all").unwrap_err();
    assert!(matches!(err, Error::Bundle(BundleError::NotABundle(_))), "{err}");
}

#[test]
fn header_problems_are_typed() {
    let (_, tensors) = parts();
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|(n, t)| {
            (
                n.clone(),
                TensorView::new(t.dtype, t.shape.clone(), &t.data).unwrap(),
            )
        })
        .collect();
    // No momask header at all.
    let plain = safetensors::serialize(views.clone(), None).unwrap();
    assert!(matches!(
        load(&plain).unwrap_err(),
        Error::Bundle(BundleError::NotABundle(_))
    ));
    // Header that is not JSON.
    let meta = HashMap::from([("momask".to_string(), "{not json".to_string())]);
    let bad = safetensors::serialize(views.clone(), Some(meta)).unwrap();
    assert!(matches!(
        load(&bad).unwrap_err(),
        Error::Bundle(BundleError::BadHeader(_))
    ));
    // A newer major version names the supported one.
    let (mut header, tensors) = parts();
    header.version = "2.0".into();
    let newer = write_bundle(header, &tensors).unwrap();
    let err = load(&newer).unwrap_err();
    assert!(
        matches!(err, Error::Bundle(BundleError::UnsupportedVersion { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("1.x"), "{err}");
}

#[test]
fn hash_mismatch_is_detected() {
    let (header, mut tensors) = parts();
    let good = write_bundle(header.clone(), &tensors).unwrap();
    let expected = read_header(&good).unwrap().content_hash;
    // Flip one weight byte but keep the old hash in the header.
    let t = tensors.get_mut("mask.cond_emb.weight").unwrap();
    t.data[0] ^= 0x01;
    let mut tampered = write_bundle(header, &tensors).unwrap();
    let new_hash = read_header(&tampered).unwrap().content_hash;
    let at = tampered
        .windows(64)
        .position(|w| w == new_hash.as_bytes())
        .unwrap();
    tampered[at..at + 64].copy_from_slice(expected.as_bytes());
    let err = load(&tampered).unwrap_err();
    assert!(
        matches!(err, Error::Bundle(BundleError::HashMismatch { .. })),
        "{err}"
    );
}

#[test]
fn missing_extra_misshapen_and_non_finite_tensors_name_the_tensor() {
    let (header, tensors) = parts();
    let mut missing = tensors.clone();
    missing.remove("res.quant_emb.weight");
    let err = load(&write_bundle(header.clone(), &missing).unwrap()).unwrap_err();
    assert!(
        matches!(&err, Error::Load(LoadError::Missing(n)) if n == "res.quant_emb.weight"),
        "{err}"
    );

    let mut extra = tensors.clone();
    extra.insert(
        "mask.mystery.weight".into(),
        OwnedTensor::f32(vec![2], &[1.0, 2.0]),
    );
    let err = load(&write_bundle(header.clone(), &extra).unwrap()).unwrap_err();
    assert!(
        matches!(&err, Error::Load(LoadError::Unused(names)) if names == &["mask.mystery.weight"]),
        "{err}"
    );

    let mut misshapen = tensors.clone();
    let t = misshapen.get_mut("len.output.0.bias").unwrap();
    t.shape = vec![t.shape[0] / 2, 2];
    let err = load(&write_bundle(header.clone(), &misshapen).unwrap()).unwrap_err();
    assert!(
        matches!(&err, Error::Load(LoadError::Shape { name, .. }) if name == "len.output.0.bias"),
        "{err}"
    );

    let mut nan = tensors.clone();
    let t = nan.get_mut("vq.decoder.model.0.bias").unwrap();
    t.data[4..8].copy_from_slice(&f32::NAN.to_le_bytes());
    let err = load(&write_bundle(header.clone(), &nan).unwrap()).unwrap_err();
    assert!(
        matches!(&err, Error::Load(LoadError::NonFinite { name, index: 1 }) if name == "vq.decoder.model.0.bias"),
        "{err}"
    );

    let mut wrong_dtype = tensors;
    let t = wrong_dtype.get_mut("norm.mean").unwrap();
    t.dtype = Dtype::I32;
    let err = load(&write_bundle(header, &wrong_dtype).unwrap()).unwrap_err();
    assert!(
        matches!(&err, Error::Load(LoadError::Bad { name, .. }) if name == "norm.mean"),
        "{err}"
    );
}

#[test]
fn quantized_bundles_load_and_stay_close_to_f32() {
    use momask::generate::{GenerateOptions, Hooks, Length, Request};
    use momask::quant::{Scheme, quantize_bundle};
    let f32_bytes = small_bundle();
    let requests = [Request::new(
        "a person walks forward and turns left.",
        Length::Frames(120),
    )];
    let opts = GenerateOptions::greedy();
    let run = |bytes: &[u8]| {
        let model = load(bytes).unwrap();
        Hooks::silent(|h| pollster::block_on(momask::generate(&model, &requests, &opts, h, None)))
            .unwrap()
            .remove(0)
    };
    let reference = run(f32_bytes);
    for (scheme, max_ratio) in [(Scheme::F16, 0.62), (Scheme::Q8, 0.40), (Scheme::Q4Mixed, 0.28)] {
        let bytes = quantize_bundle(f32_bytes, scheme).unwrap();
        assert!(
            (bytes.len() as f64) < max_ratio * f32_bytes.len() as f64,
            "{scheme:?}: {} bytes vs f32 {}",
            bytes.len(),
            f32_bytes.len()
        );
        let header = read_header(&bytes).unwrap();
        assert_eq!(header.quantization, scheme.name());
        let motion = run(&bytes);
        assert_eq!(motion.frames(), reference.frames());
        // Random weights have tiny logit margins, so ids may differ; joints must stay sane.
        assert!(motion.joints.data.iter().all(|v| v.is_finite()));
    }
    // Corrupt a q8 scale into NaN: a typed error naming the scales tensor.
    let q8 = quantize_bundle(f32_bytes, Scheme::Q8).unwrap();
    let st = SafeTensors::deserialize(&q8).unwrap();
    let header = read_header(&q8).unwrap();
    let mut tensors: BTreeMap<String, OwnedTensor> = st
        .tensors()
        .into_iter()
        .map(|(n, v)| {
            (
                n,
                OwnedTensor {
                    dtype: v.dtype(),
                    shape: v.shape().to_vec(),
                    data: v.data().to_vec(),
                },
            )
        })
        .collect();
    let scales = tensors.get_mut("mask.cond_emb.weight.__scales").unwrap();
    scales.data[0..2].copy_from_slice(&half::f16::NAN.to_le_bytes());
    let err = load(&write_bundle(header, &tensors).unwrap()).unwrap_err();
    assert!(
        matches!(&err, Error::Load(LoadError::NonFinite { name, .. }) if name == "mask.cond_emb.weight.__scales"),
        "{err}"
    );
}

#[test]
fn clip_bundles_name_their_text_encoder_and_disagreeing_headers_are_refused() {
    let bytes = small_bundle();
    let header = read_header(bytes).unwrap();
    assert_eq!(
        (header.text_encoder.as_str(), header.tokenizer.as_str()),
        ("clip", "clip-bpe")
    );
    let model = load(bytes).unwrap();
    assert_eq!(model.text_encoder.kind(), "clip");
    assert_eq!(model.tokenizer.as_ref().map(|t| t.kind()), Some("clip-bpe"));

    // A header claiming MiniLM over a CLIP config is refused before any tensor is read.
    let (mut header, tensors) = parts();
    header.text_encoder = "minilm".into();
    header.tokenizer = "wordpiece".into();
    let err = load(&write_bundle(header, &tensors).unwrap()).unwrap_err();
    assert!(matches!(err, Error::Bundle(BundleError::BadHeader(_))), "{err}");

    // A MiniLM config over CLIP tensors: the WordPiece vocabulary tensor is missing.
    let (header, tensors) = parts();
    let mut config = header.config;
    config.text = momask::config::TextEncoderConfig::MiniLm(momask::config::MiniLmConfig::all_minilm_l6_v2());
    let header = BundleHeader::new(config, "f32");
    let err = load(&write_bundle(header, &tensors).unwrap()).unwrap_err();
    assert!(
        matches!(&err, Error::Bundle(BundleError::MissingTensor(n)) if n == "tokenizer.minilm_json_gz"),
        "{err}"
    );

    // Text widths that disagree with the encoder's output are a typed error, not a panic.
    let (mut header, tensors) = parts();
    header.config.mask.clip_dim += 1;
    let err = load(&write_bundle(header, &tensors).unwrap()).unwrap_err();
    assert!(
        matches!(&err, Error::Load(LoadError::Bad { name, .. }) if name == "config.mask.clip_dim"),
        "{err}"
    );
}
