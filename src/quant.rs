//! Weight quantization for bundles (`momask quantize`).
//!
//! * `f16`: every weight matrix stored as IEEE half.
//! * `q8`: symmetric int8 **per output channel** — one f16 scale per row of the reference layout
//!   (Linear `(out, in)` rows, conv out-channels, embedding rows; CLIP's `text_projection` is
//!   `(in, out)`, so it is scaled per column) — `w ≈ scale · q`, `q ∈ [−127, 127]` — for every
//!   weight matrix of more than [`Q8_F16_MAX_ELEMENTS`] values, except MiniLM's layers
//!   (`minilm.*` other than its word-embedding table, which is int8 per token row): those and the
//!   small tensors are stored f16. Why: on the demo model, int8 anywhere else in the token path
//!   flips greedy tokens (see [`Q8_F16_MAX_ELEMENTS`] and `choose`); the official model's large
//!   tensors stay int8 and its q8 bundle within 115 MB.
//! * `q4-mixed`: 4-bit symmetric blocks of [`Q4_BLOCK`] values with one f16 scale each
//!   (`q ∈ [−7, 7]`, two per byte) for every weight matrix, except the codebooks and the VQ
//!   decoder's output layer, which stay q8: their errors land on the features directly; and
//!   except MiniLM (`minilm.*`), which stays q8: at 4 bits its sentence embeddings drift to a
//!   cosine distance of ~0.16 from f32 (q8: ≤ 3.5e-3; see `tests/minilm.rs`).
//!
//! Text encoders at 8 bits: CLIP's token embedding table per row (one scale per token) and its
//! Linear weights per output row in `q8`; MiniLM's likewise in `q4-mixed` (its
//! `query`/`key`/`value`/`dense` are Hugging Face `(out, in)`).
//!
//! Normalisation statistics, biases, LayerNorm parameters and positional tables (MoMask's
//! `position_enc.pe`, CLIP's `positional_embedding`, MiniLM's `position_embeddings` and its
//! 2-row `token_type_embeddings`, which is added to every token) always stay f32.
//! Quantized tensors keep their name; the header's `quantized` map gives the scheme and the
//! original shape, and the scales live in `<name>.__scales`. Everything is dequantized to f32 at
//! load time on the target device (see [`dequantize`]).

use std::collections::BTreeMap;

use half::f16;
use safetensors::tensor::Dtype;
use serde::{Deserialize, Serialize};

use crate::bundle::{Bundle, BundleError, OwnedTensor, write_bundle};
use crate::config::ModelConfig;
use crate::nn::weights::LoadError;

/// Values per q4 block.
pub const Q4_BLOCK: usize = 64;
/// Suffix of the scale tensor of a quantized tensor.
pub const SCALES_SUFFIX: &str = ".__scales";

/// A bundle-wide quantization recipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    F32,
    F16,
    Q8,
    Q4Mixed,
}

impl std::str::FromStr for Scheme {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "f32" => Ok(Self::F32),
            "f16" => Ok(Self::F16),
            "q8" => Ok(Self::Q8),
            "q4-mixed" | "q4" => Ok(Self::Q4Mixed),
            other => Err(format!("unknown scheme '{other}' (use f32, f16, q8 or q4-mixed)")),
        }
    }
}

impl Scheme {
    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::F16 => "f16",
            Self::Q8 => "q8",
            Self::Q4Mixed => "q4-mixed",
        }
    }
}

/// How one tensor is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuantInfo {
    /// `q8` (int8 per row) or `q4` (4-bit blocks).
    pub scheme: String,
    /// Shape of the original f32 tensor.
    pub shape: Vec<usize>,
    /// For `q8`: scale per column instead of per row (tensors stored `(in, out)`).
    #[serde(default)]
    pub per_column: bool,
}

/// Tensors that always stay f32: tiny, or precision-critical and cheap.
fn keep_f32(name: &str, shape: &[usize]) -> bool {
    shape.len() < 2
        || name.starts_with("norm.")
        || name.ends_with("position_enc.pe")
        || name.ends_with("positional_embedding")
        || name.ends_with("embeddings.position_embeddings.weight")
        || name.ends_with("embeddings.token_type_embeddings.weight")
}

/// In `q8`, weight tensors of at most this many elements stay f16. Measured on the demo model
/// (`momask bench --fidelity`, greedy): int8 in one part of its small networks alone (mask or
/// residual transformer layers, token embeddings, output heads) flips up to 14 % of the tokens,
/// because the guided logits (CFG ×4 / ×5) have tiny margins (5 % of the base-layer decisions
/// are within 0.045). Up to 2^17 elements f16 costs at most 128 KiB a tensor: that is all of the
/// demo's MoMask networks, but only four tensors of the official model (three length-estimator
/// layers and `res.quant_emb`, 0.17 M values), whose large tensors stay int8 (official q8
/// ≤ 115 MB; `tests/bundle.rs`).
pub const Q8_F16_MAX_ELEMENTS: usize = 1 << 17;

/// MiniLM's token table, the one MiniLM tensor `q8` stores int8 (see `choose`).
pub const MINILM_WORD_EMBEDDINGS: &str = "minilm.embeddings.word_embeddings.weight";

/// How a float tensor is stored under `scheme`: `f32`, `f16`, `q8` or `q4`.
fn encoding(scheme: Scheme, name: &str, shape: &[usize], config: &ModelConfig) -> &'static str {
    if keep_f32(name, shape) {
        return "f32";
    }
    let decoder_out = format!("vq.decoder.model.{}.weight", 4 + config.vq.down_t);
    choose(scheme, name, shape.iter().product(), &decoder_out)
}

/// Bytes the data of a float tensor of `shape` takes in a bundle quantized with `scheme`
/// (codes plus scales; the safetensors header not included). Uses the same per-tensor choice
/// as [`quantize_bundle`], so sizes can be checked from a configuration's shapes alone.
pub fn stored_bytes(scheme: Scheme, name: &str, shape: &[usize], config: &ModelConfig) -> usize {
    let count: usize = shape.iter().product();
    match encoding(scheme, name, shape, config) {
        "f32" => 4 * count,
        "f16" => 2 * count,
        "q8" => {
            let per_column = name.ends_with("text_projection") && shape.len() == 2;
            let rows = if per_column { shape[1] } else { shape[0] };
            count + 2 * rows
        }
        _ => count.div_ceil(2) + 2 * count.div_ceil(Q4_BLOCK),
    }
}

/// Per-tensor choice of a scheme. `decoder_out` names the VQ decoder's output conv.
fn choose(scheme: Scheme, name: &str, elements: usize, decoder_out: &str) -> &'static str {
    match scheme {
        Scheme::F32 => "f32",
        Scheme::F16 => "f16",
        // MiniLM's word-embedding table (11.7 M of its 22.7 M values) is a lookup, one row a
        // token: int8 rows change the demo model's greedy tokens by 0.9 % and its joints by
        // 1.5 mm mean (`momask bench --fidelity`, guidance 2) and save 11.7 MB. Its layers at
        // 8 bits are another matter: the FFN alone flips 5–10 %, q/k/v 8.5 %, all of MiniLM
        // 22 % (joints ~10 cm); f16 flips none.
        Scheme::Q8 if name == MINILM_WORD_EMBEDDINGS => "q8",
        Scheme::Q8 if name.starts_with("minilm.") || elements <= Q8_F16_MAX_ELEMENTS => "f16",
        Scheme::Q8 => "q8",
        // Codebooks and the decoder's output layer write the features directly: 8 bits.
        Scheme::Q4Mixed
            if name.starts_with("vq.quantizer.") || name == decoder_out || name.starts_with("minilm.") =>
        {
            "q8"
        }
        Scheme::Q4Mixed => "q4",
    }
}

/// Quantizes `values` row-wise to int8: returns (codes, f16 scales).
pub fn quantize_q8_rows(values: &[f32], rows: usize) -> (Vec<i8>, Vec<f16>) {
    let cols = values.len() / rows.max(1);
    let mut codes = Vec::with_capacity(values.len());
    let mut scales = Vec::with_capacity(rows);
    for row in values.chunks(cols.max(1)) {
        let amax = row.iter().fold(0f32, |m, v| m.max(v.abs()));
        let scale = f16::from_f32(if amax > 0.0 { amax / 127.0 } else { 1.0 });
        let s = scale.to_f32();
        codes.extend(row.iter().map(|v| (v / s).round().clamp(-127.0, 127.0) as i8));
        scales.push(scale);
    }
    (codes, scales)
}

/// Quantizes `values` in blocks of [`Q4_BLOCK`]: returns (packed nibbles, f16 scales).
pub fn quantize_q4_blocks(values: &[f32]) -> (Vec<u8>, Vec<f16>) {
    let mut packed = vec![0u8; values.len().div_ceil(2)];
    let mut scales = Vec::with_capacity(values.len().div_ceil(Q4_BLOCK));
    for (b, block) in values.chunks(Q4_BLOCK).enumerate() {
        let amax = block.iter().fold(0f32, |m, v| m.max(v.abs()));
        let scale = f16::from_f32(if amax > 0.0 { amax / 7.0 } else { 1.0 });
        let s = scale.to_f32();
        for (i, v) in block.iter().enumerate() {
            let q = ((v / s).round().clamp(-7.0, 7.0) as i32 + 8) as u8; // 1..15
            let at = b * Q4_BLOCK + i;
            packed[at / 2] |= if at.is_multiple_of(2) { q } else { q << 4 };
        }
        scales.push(scale);
    }
    (packed, scales)
}

fn f16_bytes(v: &[f16]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn transpose2(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    crate::nn::weights::transpose(values, rows, cols)
}

/// Re-encodes an f32 (or any) bundle with `scheme`. The model configuration is untouched.
pub fn quantize_bundle(bytes: &[u8], scheme: Scheme) -> Result<Vec<u8>, BundleError> {
    quantize_bundle_only(bytes, scheme, &[])
}

/// [`quantize_bundle`] restricted to the tensors whose names start with one of `only` (empty:
/// all); every other tensor is written as f32. For sensitivity studies (`momask quantize
/// --only`): quantize one group, compare with `momask bench --fidelity`.
pub fn quantize_bundle_only(bytes: &[u8], scheme: Scheme, only: &[String]) -> Result<Vec<u8>, BundleError> {
    quantize_bundle_study(bytes, scheme, only, &[])
}

/// [`quantize_bundle_only`], and under `q8` the tensors whose names start with one of `int8`
/// are stored int8 even where the q8 rule keeps them f16 (MiniLM, small tensors): what the
/// size/fidelity trade-off studies of `momask quantize --int8` measure. Biases, norms and
/// positional tables stay f32 regardless.
pub fn quantize_bundle_study(
    bytes: &[u8],
    scheme: Scheme,
    only: &[String],
    int8: &[String],
) -> Result<Vec<u8>, BundleError> {
    let bundle = Bundle::from_bytes(bytes)?;
    let mut header = bundle.header.clone();
    header.quantization = scheme.name().into();
    header.quantized.clear();
    let mut out: BTreeMap<String, OwnedTensor> = BTreeMap::new();
    for name in bundle.names() {
        if name.ends_with(SCALES_SUFFIX) {
            continue;
        }
        let (dtype, shape) = bundle.dtype_shape(&name)?;
        if dtype == Dtype::U8 && !bundle.header.quantized.contains_key(&name) {
            out.insert(name.clone(), OwnedTensor::u8(bundle.bytes(&name)?.to_vec()));
            continue;
        }
        let shape = bundle
            .header
            .quantized
            .get(&name)
            .map(|q| q.shape.clone())
            .unwrap_or(shape);
        let values = bundle
            .f32_values(&name, &shape)
            .map_err(|e| BundleError::BadHeader(e.to_string()))?;
        let selected = only.is_empty() || only.iter().any(|p| !p.is_empty() && name.starts_with(p.as_str()));
        let forced = scheme == Scheme::Q8
            && !keep_f32(&name, &shape)
            && int8.iter().any(|p| !p.is_empty() && name.starts_with(p.as_str()));
        let encoding = if !selected {
            "f32"
        } else if forced {
            "q8"
        } else {
            encoding(scheme, &name, &shape, &header.config)
        };
        match encoding {
            "f32" => {
                out.insert(name, OwnedTensor::f32(shape, &values));
            }
            "f16" => {
                let halves: Vec<f16> = values.iter().map(|v| f16::from_f32(*v)).collect();
                out.insert(
                    name,
                    OwnedTensor {
                        dtype: Dtype::F16,
                        shape,
                        data: f16_bytes(&halves),
                    },
                );
            }
            "q8" => {
                // text_projection is (in, out): its output channels are columns.
                let per_column = name.ends_with("text_projection") && shape.len() == 2;
                let rows = if per_column { shape[1] } else { shape[0] };
                let source = if per_column {
                    transpose2(&values, shape[0], shape[1])
                } else {
                    values
                };
                let (codes, scales) = quantize_q8_rows(&source, rows);
                let codes = OwnedTensor {
                    dtype: Dtype::I8,
                    shape: vec![source.len()],
                    data: codes.iter().map(|c| *c as u8).collect(),
                };
                let info = QuantInfo {
                    scheme: "q8".into(),
                    shape,
                    per_column,
                };
                insert_quantized(&mut out, &mut header, name, codes, &scales, info);
            }
            _ => {
                let (packed, scales) = quantize_q4_blocks(&values);
                let codes = OwnedTensor {
                    dtype: Dtype::U8,
                    shape: vec![packed.len()],
                    data: packed,
                };
                let info = QuantInfo {
                    scheme: "q4".into(),
                    shape,
                    per_column: false,
                };
                insert_quantized(&mut out, &mut header, name, codes, &scales, info);
            }
        }
    }
    write_bundle(header, &out)
}

/// Stores a quantized tensor: its codes under `name`, its f16 scales under
/// `name` + [`SCALES_SUFFIX`], and how to read them back in the header.
fn insert_quantized(
    out: &mut BTreeMap<String, OwnedTensor>,
    header: &mut crate::bundle::BundleHeader,
    name: String,
    codes: OwnedTensor,
    scales: &[f16],
    info: QuantInfo,
) {
    out.insert(
        format!("{name}{SCALES_SUFFIX}"),
        OwnedTensor {
            dtype: Dtype::F16,
            shape: vec![scales.len()],
            data: f16_bytes(scales),
        },
    );
    out.insert(name.clone(), codes);
    header.quantized.insert(name, info);
}

fn read_scales(name: &str, raw: &[u8], expected: usize) -> Result<Vec<f32>, LoadError> {
    if raw.len() != expected * 2 {
        return Err(LoadError::Shape {
            name: format!("{name}{SCALES_SUFFIX}"),
            expected: vec![expected],
            got: vec![raw.len() / 2],
        });
    }
    let scales: Vec<f32> = raw
        .chunks_exact(2)
        .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32())
        .collect();
    if let Some(index) = scales.iter().position(|s| !s.is_finite()) {
        return Err(LoadError::NonFinite {
            name: format!("{name}{SCALES_SUFFIX}"),
            index,
        });
    }
    Ok(scales)
}

/// Dequantizes a stored tensor to f32 (row-major, original shape).
pub fn dequantize(name: &str, info: &QuantInfo, data: &[u8], scales: &[u8]) -> Result<Vec<f32>, LoadError> {
    let count: usize = info.shape.iter().product();
    match info.scheme.as_str() {
        "q8" => {
            if data.len() != count {
                return Err(LoadError::Shape {
                    name: name.into(),
                    expected: vec![count],
                    got: vec![data.len()],
                });
            }
            let rows = if info.per_column {
                *info.shape.get(1).unwrap_or(&1)
            } else {
                *info.shape.first().unwrap_or(&1)
            };
            let cols = count / rows.max(1);
            let scales = read_scales(name, scales, rows)?;
            let mut values: Vec<f32> = data
                .iter()
                .enumerate()
                .map(|(i, &q)| (q as i8) as f32 * scales[i / cols.max(1)])
                .collect();
            if info.per_column {
                values = transpose2(&values, rows, cols);
            }
            Ok(values)
        }
        "q4" => {
            if data.len() != count.div_ceil(2) {
                return Err(LoadError::Shape {
                    name: name.into(),
                    expected: vec![count.div_ceil(2)],
                    got: vec![data.len()],
                });
            }
            let scales = read_scales(name, scales, count.div_ceil(Q4_BLOCK))?;
            Ok((0..count)
                .map(|i| {
                    let byte = data[i / 2];
                    let q = if i.is_multiple_of(2) {
                        byte & 0x0f
                    } else {
                        byte >> 4
                    };
                    (q as i32 - 8) as f32 * scales[i / Q4_BLOCK]
                })
                .collect())
        }
        other => Err(LoadError::Bad {
            name: name.into(),
            message: format!("unknown quantization scheme '{other}'"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q8_and_q4_round_trip_within_half_a_step() {
        let values: Vec<f32> = (0..256).map(|i| ((i * 37 % 101) as f32 - 50.0) / 17.0).collect();
        let (codes, scales) = quantize_q8_rows(&values, 4);
        let info = QuantInfo {
            scheme: "q8".into(),
            shape: vec![4, 64],
            per_column: false,
        };
        let data: Vec<u8> = codes.iter().map(|c| *c as u8).collect();
        let back = dequantize("w", &info, &data, &f16_bytes(&scales)).unwrap();
        for (row, (a, b)) in values.chunks(64).zip(back.chunks(64)).enumerate() {
            let step = scales[row].to_f32();
            assert!(a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 0.5 * step + 1e-6));
        }
        let (packed, scales) = quantize_q4_blocks(&values);
        let info = QuantInfo {
            scheme: "q4".into(),
            shape: vec![256],
            per_column: false,
        };
        let back = dequantize("w", &info, &packed, &f16_bytes(&scales)).unwrap();
        for (i, (x, y)) in values.iter().zip(&back).enumerate() {
            assert!((x - y).abs() <= 0.5 * scales[i / Q4_BLOCK].to_f32() + 1e-6);
        }
    }

    #[test]
    fn q8_keeps_minilm_layers_and_small_tensors_in_f16() {
        let config = ModelConfig::humanml3d();
        let q8 = |name: &str, shape: &[usize]| encoding(Scheme::Q8, name, shape, &config);
        assert_eq!(
            q8("minilm.encoder.layer.0.intermediate.dense.weight", &[1536, 384]),
            "f16"
        );
        // …but its token table is int8, one scale per token row.
        assert_eq!(q8(MINILM_WORD_EMBEDDINGS, &[30522, 384]), "q8");
        assert_eq!(
            stored_bytes(Scheme::Q8, MINILM_WORD_EMBEDDINGS, &[30522, 384], &config),
            30522 * 386
        );
        assert_eq!(q8("mask.output_process.poseFinal.weight", &[256, 128]), "f16");
        // 2^17 elements is the last size kept in f16.
        assert_eq!(q8("len.output.4.weight", &[256, 512]), "f16");
        assert_eq!(q8("len.output.0.weight", &[512, 257]), "q8");
        assert_eq!(
            q8("mask.seqTransEncoder.layers.0.linear1.weight", &[1024, 384]),
            "q8"
        );
        assert_eq!(q8("clip.token_embedding.weight", &[49408, 512]), "q8");
        assert_eq!(q8("mask.position_enc.pe", &[196, 1, 384]), "f32");
        assert_eq!(q8("vq.decoder.model.0.bias", &[512]), "f32");
        // q4-mixed keeps MiniLM 8-bit and small tensors 4-bit (its size budget is the point).
        let q4 = |name: &str, shape: &[usize]| encoding(Scheme::Q4Mixed, name, shape, &config);
        assert_eq!(
            q4("minilm.encoder.layer.0.intermediate.dense.weight", &[1536, 384]),
            "q8"
        );
        assert_eq!(q4("mask.output_process.poseFinal.weight", &[256, 128]), "q4");
        // stored_bytes follows the choice: f16 two bytes a value, int8 one plus a scale a row.
        assert_eq!(
            stored_bytes(Scheme::Q8, "minilm.x.weight", &[10, 10], &config),
            200
        );
        assert_eq!(
            stored_bytes(Scheme::Q8, "clip.token_embedding.weight", &[49408, 512], &config),
            49408 * 514
        );
    }

    #[test]
    fn bad_scales_are_errors() {
        let info = QuantInfo {
            scheme: "q8".into(),
            shape: vec![2, 2],
            per_column: false,
        };
        let nan = f16_bytes(&[f16::NAN, f16::ONE]);
        assert!(matches!(
            dequantize("w", &info, &[1, 2, 3, 4], &nan),
            Err(LoadError::NonFinite { .. })
        ));
        assert!(matches!(
            dequantize("w", &info, &[1, 2, 3], &nan),
            Err(LoadError::Shape { .. })
        ));
    }
}
