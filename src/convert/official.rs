//! Gathering an official MoMask checkpoints tree (spec §0, §2.9, §3.9, §4.6, §5, §6) and
//! checking that its parts fit together.
//!
//! Files read, with the official folder names as defaults (KIT adds `_k`):
//! * `<ds>/<mask>/opt.txt`, `<ds>/<mask>/model/latest.tar` (`'t2m_transformer'` or `'trans'`);
//! * `<ds>/<res>/opt.txt`, `<ds>/<res>/model/net_best_fid.tar` (`'res_transformer'`);
//! * `<ds>/<vq>/opt.txt`, `<ds>/<vq>/model/net_best_fid.tar` (`'vq_model'` or `'net'`),
//!   `<ds>/<vq>/meta/{mean,std}.npy`, where `<vq>` is the masked transformer's `vq_name`, as
//!   in gen_t2m.py;
//! * `<ds>/length_estimator/model/finest.tar` (`'estimator'`; optional);
//! * the CLIP checkpoint (TorchScript or plain), an optional CLIP config JSON, and the BPE
//!   vocabulary (kept as the gzip bytes).
//!
//! Every file is hashed (SHA-256) and listed in [`OfficialCheckpoints::sources`].

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::ConvertError;
use super::opt::Opt;
use super::torch_zip::{RawTensor, StateDict, clip_state_dict_from_reader, state_dict_from_reader};
use crate::io::npy::NpyArray;

/// Official folder name of the HumanML3D RVQ-VAE.
pub const VQ_NAME: &str = "rvq_nq6_dc512_nc512_noshare_qdp0.2";
/// Official folder name of the HumanML3D masked transformer.
pub const MASK_NAME: &str = "t2m_nlayer8_nhead6_ld384_ff1024_cdp0.1_rvq6ns";
/// Official folder name of the HumanML3D residual transformer.
pub const RES_NAME: &str = "tres_nlayer8_ld384_ff1024_rvq6ns_cdp0.2_sw";
/// Folder name of the length estimator (the same for both datasets).
pub const LEN_NAME: &str = "length_estimator";
/// Width of the CLIP feature the MoMask networks take (`clip_dim` in the reference).
const CLIP_DIM: usize = 512;

/// Where the official files are.
#[derive(Debug, Clone, Default)]
pub struct OfficialSources {
    /// The folder holding `t2m/` and/or `kit/`.
    pub checkpoints: PathBuf,
    /// `"t2m"` or `"kit"`; autodetected when exactly one of them is present.
    pub dataset: Option<String>,
    /// RVQ-VAE folder; default: the masked transformer's `vq_name`.
    pub vq_name: Option<String>,
    /// Masked-transformer folder; default [`MASK_NAME`] (`+ "_k"` for KIT).
    pub mask_name: Option<String>,
    /// Residual-transformer folder; default [`RES_NAME`] (`+ "_k"` for KIT).
    pub res_name: Option<String>,
    /// The CLIP checkpoint (`ViT-B-32.pt`, TorchScript, or a plain state dict).
    pub clip: PathBuf,
    /// Optional CLIP config JSON (`transformer_heads`, …), needed when heads ≠ width / 64.
    pub clip_config: Option<PathBuf>,
    /// `bpe_simple_vocab_16e6.txt.gz`.
    pub clip_vocab: PathBuf,
}

/// One file that was read: path (relative to the checkpoints folder when inside it), size
/// and SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// Everything read from an official tree, checked for consistency.
#[derive(Debug, Clone)]
pub struct OfficialCheckpoints {
    /// `"t2m"` or `"kit"`.
    pub dataset: String,
    /// RVQ-VAE folder name actually used.
    pub vq_name: String,
    /// RVQ-VAE state dict (`net_best_fid.tar`).
    pub vq: StateDict,
    /// RVQ-VAE options.
    pub vq_opt: Opt,
    /// Masked-transformer state dict (`latest.tar`).
    pub mask: StateDict,
    /// Masked-transformer options.
    pub mask_opt: Opt,
    /// Residual-transformer state dict (`net_best_fid.tar`).
    pub res: StateDict,
    /// Residual-transformer options.
    pub res_opt: Opt,
    /// Length-estimator state dict, if `finest.tar` exists.
    pub length_estimator: Option<StateDict>,
    /// The whole CLIP state dict (vision tower and int entries included; callers filter).
    pub clip: StateDict,
    /// CLIP text attention heads (config, else width / 64).
    pub clip_heads: usize,
    /// CLIP text layers.
    pub clip_layers: usize,
    /// CLIP text width.
    pub clip_width: usize,
    /// CLIP embedding (text projection output) width.
    pub clip_embed_dim: usize,
    /// CLIP context length (77).
    pub clip_context: usize,
    /// CLIP vocabulary size (49408).
    pub clip_vocab_size: usize,
    /// The gzip-compressed BPE vocabulary, as given.
    pub clip_vocab_gz: Vec<u8>,
    /// Feature mean, `meta/mean.npy` of the VQ folder.
    pub mean: Vec<f32>,
    /// Feature std, `meta/std.npy` of the VQ folder.
    pub std: Vec<f32>,
    /// Every file read.
    pub sources: Vec<SourceFile>,
    /// Non-fatal findings (e.g. a missing length estimator).
    pub warnings: Vec<String>,
}

/// Reads files, recording their sizes and hashes.
struct Reader {
    root: PathBuf,
    sources: Vec<SourceFile>,
}

impl Reader {
    fn label(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }

    fn io_err(path: &Path, source: std::io::Error) -> ConvertError {
        ConvertError::Io {
            path: path.display().to_string(),
            source,
        }
    }

    /// Reads a small file whole.
    fn read(&mut self, path: &Path) -> Result<Vec<u8>, ConvertError> {
        let bytes = std::fs::read(path).map_err(|e| Self::io_err(path, e))?;
        let sha256 = hex(&Sha256::digest(&bytes));
        self.sources.push(SourceFile {
            path: self.label(path),
            size: bytes.len() as u64,
            sha256,
        });
        Ok(bytes)
    }

    /// Hashes a (possibly large) file by streaming it, then reopens it for reading, so that
    /// it is never held in memory whole.
    fn open_streamed(&mut self, path: &Path) -> Result<BufReader<File>, ConvertError> {
        let mut file = File::open(path).map_err(|e| Self::io_err(path, e))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut size = 0u64;
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Self::io_err(path, e)),
            };
            hasher.update(&buf[..n]);
            size += n as u64;
        }
        self.sources.push(SourceFile {
            path: self.label(path),
            size,
            sha256: hex(&hasher.finalize()),
        });
        let file = File::open(path).map_err(|e| Self::io_err(path, e))?;
        Ok(BufReader::with_capacity(1 << 16, file))
    }

    fn opt(&mut self, path: &Path) -> Result<Opt, ConvertError> {
        let bytes = self.read(path)?;
        let text = String::from_utf8(bytes).map_err(|_| ConvertError::Opt {
            file: self.label(path),
            key: String::new(),
            message: "not UTF-8".into(),
        })?;
        Opt::parse(&text, self.label(path))
    }

    fn state_dict(&mut self, path: &Path, keys: &[&str]) -> Result<StateDict, ConvertError> {
        let reader = self.open_streamed(path)?;
        state_dict_from_reader(reader, keys).map_err(|e| e.in_file(self.label(path)))
    }

    fn npy_f32(&mut self, path: &Path) -> Result<Vec<f32>, ConvertError> {
        let bytes = self.read(path)?;
        let npy_err = |source| ConvertError::Npy {
            path: path.display().to_string(),
            source,
        };
        NpyArray::from_bytes(&bytes)
            .and_then(|a| a.to_f32())
            .map_err(npy_err)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads and cross-checks an official checkpoints tree.
pub fn read_official(src: &OfficialSources) -> Result<OfficialCheckpoints, ConvertError> {
    let root = &src.checkpoints;
    let dataset = match &src.dataset {
        Some(d) if d == "t2m" || d == "kit" => d.clone(),
        Some(d) => {
            return Err(ConvertError::Inconsistent(format!(
                "dataset must be 't2m' or 'kit', not '{d}'"
            )));
        }
        None => {
            let present: Vec<&str> = ["t2m", "kit"]
                .into_iter()
                .filter(|d| root.join(d).is_dir())
                .collect();
            match present.as_slice() {
                [one] => one.to_string(),
                [] => {
                    return Err(ConvertError::Io {
                        path: root.display().to_string(),
                        source: std::io::Error::new(
                            std::io::ErrorKind::NotFound,
                            "neither t2m/ nor kit/ is in this folder",
                        ),
                    });
                }
                _ => {
                    return Err(ConvertError::Inconsistent(format!(
                        "both t2m/ and kit/ are in '{}'; choose a dataset",
                        root.display()
                    )));
                }
            }
        }
    };
    let kit = dataset == "kit";
    let suffix = if kit { "_k" } else { "" };
    let dim_pose = if kit { 251 } else { 263 };
    let ds = root.join(&dataset);
    let mut rd = Reader {
        root: root.clone(),
        sources: Vec::new(),
    };
    let mut warnings = Vec::new();

    // Transformer options first: gen_t2m.py takes the VQ folder from the masked
    // transformer's `vq_name`, and asserts that the residual transformer uses the same.
    let mask_name = src
        .mask_name
        .clone()
        .unwrap_or_else(|| format!("{MASK_NAME}{suffix}"));
    let res_name = src
        .res_name
        .clone()
        .unwrap_or_else(|| format!("{RES_NAME}{suffix}"));
    let mask_opt = rd.opt(&ds.join(&mask_name).join("opt.txt"))?;
    let res_opt = rd.opt(&ds.join(&res_name).join("opt.txt"))?;
    let mask_vq = mask_opt.get_str("vq_name")?.to_string();
    let res_vq = res_opt.get_str("vq_name")?.to_string();
    if res_vq != mask_vq {
        return Err(ConvertError::Inconsistent(format!(
            "{} has vq_name '{res_vq}' but {} has '{mask_vq}' (the reference asserts they are equal)",
            res_opt.file, mask_opt.file
        )));
    }
    let vq_name = match &src.vq_name {
        Some(v) if *v != mask_vq => {
            return Err(ConvertError::Inconsistent(format!(
                "VQ folder '{v}' was requested, but the transformers were trained on vq_name '{mask_vq}'"
            )));
        }
        Some(v) => v.clone(),
        None => mask_vq,
    };
    if vq_name != format!("{VQ_NAME}{suffix}") {
        warnings.push(format!(
            "VQ folder '{vq_name}' is not the official '{VQ_NAME}{suffix}'"
        ));
    }

    let vq_dir = ds.join(&vq_name);
    let vq_opt = rd.opt(&vq_dir.join("opt.txt"))?;
    let vq = rd.state_dict(
        &vq_dir.join("model").join("net_best_fid.tar"),
        &["vq_model", "net"],
    )?;
    let mean = rd.npy_f32(&vq_dir.join("meta").join("mean.npy"))?;
    let std = rd.npy_f32(&vq_dir.join("meta").join("std.npy"))?;
    let mask = rd.state_dict(
        &ds.join(&mask_name).join("model").join("latest.tar"),
        &["t2m_transformer", "trans"],
    )?;
    let res = rd.state_dict(
        &ds.join(&res_name).join("model").join("net_best_fid.tar"),
        &["res_transformer"],
    )?;
    let len_path = ds.join(LEN_NAME).join("model").join("finest.tar");
    let length_estimator = if len_path.is_file() {
        Some(rd.state_dict(&len_path, &["estimator"])?)
    } else {
        warnings.push(format!(
            "no length estimator at '{}': prompts will need explicit lengths",
            len_path.display()
        ));
        None
    };

    // CLIP: streamed (the official file is 350 MB).
    let clip_reader = rd.open_streamed(&src.clip)?;
    let clip =
        clip_state_dict_from_reader(clip_reader).map_err(|e| e.in_file(src.clip.display().to_string()))?;
    let clip_config = match &src.clip_config {
        Some(p) => {
            let bytes = rd.read(p)?;
            let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| ConvertError::Json {
                path: p.display().to_string(),
                message: e.to_string(),
            })?;
            Some((p.display().to_string(), v))
        }
        None => None,
    };
    let clip_vocab_gz = rd.read(&src.clip_vocab)?;
    if !clip_vocab_gz.starts_with(&[0x1f, 0x8b]) {
        return Err(ConvertError::Unsupported(format!(
            "'{}' is not gzip data (expected bpe_simple_vocab_16e6.txt.gz)",
            src.clip_vocab.display()
        )));
    }

    let vq_file = format!("{}/{vq_name}/model/net_best_fid.tar", dataset);
    let mask_file = format!("{}/{mask_name}/model/latest.tar", dataset);
    let res_file = format!("{}/{res_name}/model/net_best_fid.tar", dataset);
    let vq_dims = check_vq(&vq, &vq_file, &vq_opt, dim_pose)?;
    for (what, v) in [("meta/mean.npy", &mean), ("meta/std.npy", &std)] {
        if v.len() != dim_pose {
            return Err(ConvertError::BadShape {
                tensor: format!("{dataset}/{vq_name}/{what}"),
                expected: format!("[{dim_pose}]"),
                got: vec![v.len()],
            });
        }
    }
    let clip_dims = check_clip(&clip, &src.clip.display().to_string(), clip_config.as_ref())?;
    if clip_dims.embed_dim != CLIP_DIM {
        return Err(ConvertError::Inconsistent(format!(
            "CLIP embeds to {} dims, but the MoMask networks take {CLIP_DIM}",
            clip_dims.embed_dim
        )));
    }
    check_transformer(&mask, &mask_file, &mask_opt, &vq_dims, false)?;
    check_transformer(&res, &res_file, &res_opt, &vq_dims, true)?;
    if let Some(le) = &length_estimator {
        let f = format!("{dataset}/{LEN_NAME}/model/finest.tar");
        for (k, shape) in [
            ("output.0.weight", [512, CLIP_DIM]),
            ("output.4.weight", [256, 512]),
            ("output.8.weight", [128, 256]),
            ("output.11.weight", [50, 128]),
        ] {
            expect_shape(le, &f, k, &shape)?;
        }
    }

    Ok(OfficialCheckpoints {
        dataset,
        vq_name,
        vq,
        vq_opt,
        mask,
        mask_opt,
        res,
        res_opt,
        length_estimator,
        clip,
        clip_heads: clip_dims.heads,
        clip_layers: clip_dims.layers,
        clip_width: clip_dims.width,
        clip_embed_dim: clip_dims.embed_dim,
        clip_context: clip_dims.context,
        clip_vocab_size: clip_dims.vocab,
        clip_vocab_gz,
        mean,
        std,
        sources: rd.sources,
        warnings,
    })
}

/// Looks up `key` in a state dict, naming the file and the available keys if it is absent.
pub fn get_tensor<'a>(sd: &'a StateDict, file: &str, key: &str) -> Result<&'a RawTensor, ConvertError> {
    sd.get(key).ok_or_else(|| {
        const SHOWN: usize = 40;
        let mut available: Vec<String> = sd.keys().take(SHOWN).cloned().collect();
        if sd.len() > SHOWN {
            available.push(format!("… ({} more)", sd.len() - SHOWN));
        }
        ConvertError::MissingKey {
            file: file.into(),
            key: format!("'{key}'"),
            available,
        }
    })
}

/// Checks that `key` exists with shape `want`.
pub fn expect_shape<'a>(
    sd: &'a StateDict,
    file: &str,
    key: &str,
    want: &[usize],
) -> Result<&'a RawTensor, ConvertError> {
    let t = get_tensor(sd, file, key)?;
    if t.shape != want {
        return Err(ConvertError::BadShape {
            tensor: format!("{file}: {key}"),
            expected: format!("{want:?}"),
            got: t.shape.clone(),
        });
    }
    Ok(t)
}

/// VQ sizes that the transformers must agree with.
struct VqDims {
    nb_code: usize,
    code_dim: usize,
    num_quantizers: usize,
}

fn check_vq(sd: &StateDict, file: &str, opt: &Opt, dim_pose: usize) -> Result<VqDims, ConvertError> {
    let nb_code = opt.get_usize("nb_code")?;
    let code_dim = opt.get_usize("code_dim")?;
    let q_opt = opt.get_usize("num_quantizers")?;
    let width = opt.get_usize("width")?;
    let down_t = opt.get_usize("down_t")?;
    let emb = opt.get_usize("output_emb_width")?;
    // The number of quantizers is the number of codebooks.
    let q = (0..)
        .take_while(|q| sd.contains_key(&format!("quantizer.layers.{q}.codebook")))
        .count();
    if q != q_opt {
        return Err(ConvertError::Inconsistent(format!(
            "{file} has {q} codebooks but {} says num_quantizers {q_opt}",
            opt.file
        )));
    }
    for i in 0..q {
        expect_shape(
            sd,
            file,
            &format!("quantizer.layers.{i}.codebook"),
            &[nb_code, code_dim],
        )?;
    }
    expect_shape(sd, file, "encoder.model.0.weight", &[width, dim_pose, 3])?;
    // encoder.model: conv, relu, down_t blocks, final conv (width → output_emb_width).
    expect_shape(
        sd,
        file,
        &format!("encoder.model.{}.weight", 2 + down_t),
        &[emb, width, 3],
    )?;
    expect_shape(sd, file, "decoder.model.0.weight", &[width, emb, 3])?;
    // decoder.model: conv, relu, down_t blocks, conv, relu, final conv (width → dim_pose).
    expect_shape(
        sd,
        file,
        &format!("decoder.model.{}.weight", 4 + down_t),
        &[dim_pose, width, 3],
    )?;
    if emb != code_dim {
        return Err(ConvertError::Inconsistent(format!(
            "{}: output_emb_width {emb} differs from code_dim {code_dim}",
            opt.file
        )));
    }
    Ok(VqDims {
        nb_code,
        code_dim,
        num_quantizers: q,
    })
}

fn check_transformer(
    sd: &StateDict,
    file: &str,
    opt: &Opt,
    vq: &VqDims,
    residual: bool,
) -> Result<(), ConvertError> {
    let latent = opt.get_usize("latent_dim")?;
    let ff = opt.get_usize("ff_size")?;
    let n_layers = opt.get_usize("n_layers")?;
    let n_heads = opt.get_usize("n_heads")?;
    if n_heads == 0 || latent % n_heads != 0 {
        return Err(ConvertError::Opt {
            file: opt.file.clone(),
            key: "n_heads".into(),
            message: format!("{n_heads} heads do not divide latent_dim {latent}"),
        });
    }
    let (k, cd, q) = (vq.nb_code, vq.code_dim, vq.num_quantizers);
    expect_shape(sd, file, "input_process.poseEmbedding.weight", &[latent, cd])?;
    expect_shape(sd, file, "cond_emb.weight", &[latent, CLIP_DIM])?;
    expect_shape(sd, file, "output_process.dense.weight", &[latent, latent])?;
    let pe = get_tensor(sd, file, "position_enc.pe")?;
    if pe.shape.len() != 3 || pe.shape[0] == 0 || pe.shape[1] != 1 || pe.shape[2] != latent {
        return Err(ConvertError::BadShape {
            tensor: format!("{file}: position_enc.pe"),
            expected: format!("[max_len, 1, {latent}]"),
            got: pe.shape.clone(),
        });
    }
    for i in 0..n_layers {
        let p = format!("seqTransEncoder.layers.{i}");
        expect_shape(
            sd,
            file,
            &format!("{p}.self_attn.in_proj_weight"),
            &[3 * latent, latent],
        )?;
        expect_shape(
            sd,
            file,
            &format!("{p}.self_attn.out_proj.weight"),
            &[latent, latent],
        )?;
        expect_shape(sd, file, &format!("{p}.linear1.weight"), &[ff, latent])?;
        expect_shape(sd, file, &format!("{p}.linear2.weight"), &[latent, ff])?;
    }
    let extra = format!("seqTransEncoder.layers.{n_layers}.");
    if sd.keys().any(|key| key.starts_with(&extra)) {
        return Err(ConvertError::Inconsistent(format!(
            "{file} has more than the {n_layers} layers of {}",
            opt.file
        )));
    }
    if residual {
        let classes = k + 1; // codes + pad
        if q < 2 {
            return Err(ConvertError::Inconsistent(format!(
                "a residual transformer needs ≥ 2 quantizers, the VQ has {q}"
            )));
        }
        expect_shape(sd, file, "quant_emb.weight", &[latent, q])?;
        expect_shape(sd, file, "output_process.poseFinal.weight", &[cd, latent])?;
        if opt.get_bool("share_weight")? {
            expect_shape(sd, file, "token_embed_weight_", &[1, classes, cd])?;
            expect_shape(sd, file, "output_proj_weight_", &[1, classes, cd])?;
            expect_shape(sd, file, "embed_proj_shared_weight", &[q - 2, classes, cd])?;
        } else {
            expect_shape(sd, file, "token_embed_weight", &[q - 1, classes, cd])?;
            expect_shape(sd, file, "output_proj_weight", &[q - 1, classes, cd])?;
        }
    } else {
        expect_shape(sd, file, "token_emb.weight", &[k + 2, cd])?; // codes + mask + pad
        expect_shape(sd, file, "output_process.poseFinal.weight", &[k, latent])?;
    }
    Ok(())
}

struct ClipDims {
    heads: usize,
    layers: usize,
    width: usize,
    embed_dim: usize,
    context: usize,
    vocab: usize,
}

fn check_clip(
    sd: &StateDict,
    file: &str,
    config: Option<&(String, serde_json::Value)>,
) -> Result<ClipDims, ConvertError> {
    let dim = |key: &str, axis: usize| -> Result<usize, ConvertError> {
        let t = get_tensor(sd, file, key)?;
        t.shape.get(axis).copied().ok_or_else(|| ConvertError::BadShape {
            tensor: format!("{file}: {key}"),
            expected: format!("at least {} dims", axis + 1),
            got: t.shape.clone(),
        })
    };
    // The same inference as clip.model.build_model.
    let width = dim("ln_final.weight", 0)?;
    let embed_dim = dim("text_projection", 1)?;
    let context = dim("positional_embedding", 0)?;
    let vocab = dim("token_embedding.weight", 0)?;
    let layers: BTreeSet<&str> = sd
        .keys()
        .filter_map(|k| k.strip_prefix("transformer.resblocks."))
        .filter_map(|rest| rest.split('.').next())
        .collect();
    let n_layers = layers.len();
    let heads_from_config = match config {
        Some((path, cfg)) => {
            let get = |key: &str| {
                cfg.get(key)
                    .and_then(serde_json::Value::as_u64)
                    .map(|v| v as usize)
            };
            for (key, have) in [
                ("transformer_width", width),
                ("transformer_layers", n_layers),
                ("embed_dim", embed_dim),
                ("context_length", context),
                ("vocab_size", vocab),
            ] {
                if let Some(want) = get(key)
                    && want != have
                {
                    return Err(ConvertError::Inconsistent(format!(
                        "CLIP config '{path}' says {key} = {want}, the checkpoint has {have}"
                    )));
                }
            }
            Some(get("transformer_heads").ok_or_else(|| ConvertError::Json {
                path: path.clone(),
                message: "no integer 'transformer_heads'".into(),
            })?)
        }
        None => None,
    };
    let heads = match heads_from_config {
        Some(h) => h,
        None if width % 64 == 0 => width / 64,
        None => {
            return Err(ConvertError::Inconsistent(format!(
                "CLIP text width {width} is not a multiple of 64, so the head count cannot be inferred; pass the CLIP config"
            )));
        }
    };
    if heads == 0 || width % heads != 0 {
        return Err(ConvertError::Inconsistent(format!(
            "CLIP: {heads} heads do not divide width {width}"
        )));
    }
    expect_shape(sd, file, "token_embedding.weight", &[vocab, width])?;
    expect_shape(sd, file, "positional_embedding", &[context, width])?;
    expect_shape(sd, file, "text_projection", &[width, embed_dim])?;
    for i in 0..n_layers {
        let p = format!("transformer.resblocks.{i}");
        expect_shape(sd, file, &format!("{p}.attn.in_proj_weight"), &[3 * width, width])?;
        expect_shape(sd, file, &format!("{p}.attn.in_proj_bias"), &[3 * width])?;
        expect_shape(sd, file, &format!("{p}.attn.out_proj.weight"), &[width, width])?;
        expect_shape(sd, file, &format!("{p}.ln_1.weight"), &[width])?;
        expect_shape(sd, file, &format!("{p}.mlp.c_fc.weight"), &[4 * width, width])?;
        expect_shape(sd, file, &format!("{p}.mlp.c_proj.weight"), &[width, 4 * width])?;
        expect_shape(sd, file, &format!("{p}.ln_2.weight"), &[width])?;
    }
    Ok(ClipDims {
        heads,
        layers: n_layers,
        width,
        embed_dim,
        context,
        vocab,
    })
}
