//! `momask convert`: official checkpoints → one f32 bundle (see [`crate::bundle`]).
//!
//! Reading the torch files is [`crate::convert`]'s job; this module maps what it read onto the
//! bundle's names and the [`ModelConfig`] taken from the `opt.txt` files (head counts and
//! dilations are not in the shapes).

use std::collections::BTreeMap;

use crate::bundle::{BundleHeader, CLIP_BPE_TENSOR, OwnedTensor, SourceFile, write_bundle};
use crate::config::{
    ClipTextConfig, Dataset, LengthEstimatorConfig, MaskTransformerConfig, ModelConfig, PE_ROWS,
    ResidualTransformerConfig, TextEncoderConfig, VqActivation, VqConfig,
};
use crate::convert::ConvertError;
use crate::convert::official::{OfficialCheckpoints, OfficialSources, read_official};
use crate::convert::torch_zip::RawTensor;

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
