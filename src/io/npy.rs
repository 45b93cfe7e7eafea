//! NumPy `.npy` (format 1.0–3.0) reading and writing for the dtypes MoMask uses.
//!
//! Works on byte slices, so it serves files natively and buffers in the browser alike.
//! Only C-order (row-major) little-endian arrays are accepted; anything else is a typed error.

use thiserror::Error;

/// Errors from parsing or writing `.npy` data.
#[derive(Debug, Error, PartialEq)]
pub enum NpyError {
    #[error("not an .npy file (bad magic bytes)")]
    BadMagic,
    #[error("truncated .npy data: {0}")]
    Truncated(&'static str),
    #[error("unsupported .npy format version {0}.{1}")]
    UnsupportedVersion(u8, u8),
    #[error("malformed .npy header: {0}")]
    BadHeader(String),
    #[error("unsupported .npy dtype '{0}' (supported: <f4, <f8, <i4, <i8, |b1, |u1)")]
    UnsupportedDtype(String),
    #[error("array has {got} elements but its shape {shape:?} needs {want}")]
    SizeMismatch {
        shape: Vec<usize>,
        want: usize,
        got: usize,
    },
    #[error("expected a {want} array, found dtype '{got}'")]
    WrongDtype { want: &'static str, got: String },
}

/// Element type of an `.npy` array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NpyDtype {
    F32,
    F64,
    I32,
    I64,
    Bool,
    U8,
}

impl NpyDtype {
    fn parse(descr: &str) -> Result<Self, NpyError> {
        Ok(match descr {
            "<f4" => Self::F32,
            "<f8" => Self::F64,
            "<i4" => Self::I32,
            "<i8" => Self::I64,
            "|b1" => Self::Bool,
            "|u1" => Self::U8,
            other => return Err(NpyError::UnsupportedDtype(other.to_string())),
        })
    }

    fn descr(self) -> &'static str {
        match self {
            Self::F32 => "<f4",
            Self::F64 => "<f8",
            Self::I32 => "<i4",
            Self::I64 => "<i8",
            Self::Bool => "|b1",
            Self::U8 => "|u1",
        }
    }

    fn size(self) -> usize {
        match self {
            Self::F32 | Self::I32 => 4,
            Self::F64 | Self::I64 => 8,
            Self::Bool | Self::U8 => 1,
        }
    }
}

/// A parsed `.npy` array: shape, dtype and the raw little-endian element bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    pub shape: Vec<usize>,
    pub dtype: NpyDtype,
    bytes: Vec<u8>,
}

impl NpyArray {
    /// Parses an `.npy` byte buffer.
    pub fn from_bytes(buf: &[u8]) -> Result<Self, NpyError> {
        if buf.len() < 10 {
            return Err(NpyError::Truncated("shorter than the preamble"));
        }
        if &buf[..6] != b"\x93NUMPY" {
            return Err(NpyError::BadMagic);
        }
        let (major, minor) = (buf[6], buf[7]);
        let (header_len, start): (usize, usize) = match major {
            1 => (u16::from_le_bytes([buf[8], buf[9]]) as usize, 10),
            2 | 3 => {
                if buf.len() < 12 {
                    return Err(NpyError::Truncated("shorter than the preamble"));
                }
                (
                    u32::from_le_bytes([buf[8], buf[9], buf[10], buf[11]]) as usize,
                    12,
                )
            }
            _ => return Err(NpyError::UnsupportedVersion(major, minor)),
        };
        let header_end = start
            .checked_add(header_len)
            .filter(|&e| e <= buf.len())
            .ok_or(NpyError::Truncated("header"))?;
        let header = std::str::from_utf8(&buf[start..header_end])
            .map_err(|_| NpyError::BadHeader("header is not UTF-8".into()))?;
        let descr = dict_value(header, "descr")?;
        let descr = descr.trim().trim_matches(|c| c == '\'' || c == '"');
        let dtype = NpyDtype::parse(descr)?;
        let fortran = match dict_value(header, "fortran_order")?.trim() {
            "False" => false,
            "True" => true,
            other => return Err(NpyError::BadHeader(format!("fortran_order is '{other}'"))),
        };
        let shape = parse_shape(dict_value(header, "shape")?)?;
        let count = shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| NpyError::BadHeader("shape overflows".into()))?;
        let nbytes = count
            .checked_mul(dtype.size())
            .ok_or_else(|| NpyError::BadHeader("shape overflows".into()))?;
        let data = &buf[header_end..];
        if data.len() < nbytes {
            return Err(NpyError::SizeMismatch {
                shape,
                want: count,
                got: data.len() / dtype.size(),
            });
        }
        let bytes = if fortran {
            fortran_to_c(&data[..nbytes], &shape, dtype.size())
        } else {
            data[..nbytes].to_vec()
        };
        Ok(Self { shape, dtype, bytes })
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.bytes.len() / self.dtype.size()
    }

    /// Whether the array holds no element.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The elements as `f32`; f64 arrays are narrowed (as numpy's `astype(float32)`).
    pub fn to_f32(&self) -> Result<Vec<f32>, NpyError> {
        match self.dtype {
            NpyDtype::F32 => Ok(self.chunks::<4>().map(f32::from_le_bytes).collect()),
            NpyDtype::F64 => Ok(self.chunks::<8>().map(|b| f64::from_le_bytes(b) as f32).collect()),
            _ => Err(self.wrong("float")),
        }
    }

    /// The elements as `f64` (f32 widened exactly).
    pub fn to_f64(&self) -> Result<Vec<f64>, NpyError> {
        match self.dtype {
            NpyDtype::F32 => Ok(self.chunks::<4>().map(|b| f32::from_le_bytes(b) as f64).collect()),
            NpyDtype::F64 => Ok(self.chunks::<8>().map(f64::from_le_bytes).collect()),
            _ => Err(self.wrong("float")),
        }
    }

    /// The elements as `i64` (integer and bool arrays).
    pub fn to_i64(&self) -> Result<Vec<i64>, NpyError> {
        match self.dtype {
            NpyDtype::I64 => Ok(self.chunks::<8>().map(i64::from_le_bytes).collect()),
            NpyDtype::I32 => Ok(self.chunks::<4>().map(|b| i32::from_le_bytes(b) as i64).collect()),
            NpyDtype::Bool | NpyDtype::U8 => Ok(self.bytes.iter().map(|&b| b as i64).collect()),
            _ => Err(self.wrong("integer")),
        }
    }

    /// The elements as `bool` (nonzero is true).
    pub fn to_bool(&self) -> Result<Vec<bool>, NpyError> {
        Ok(self.to_i64()?.into_iter().map(|v| v != 0).collect())
    }

    fn chunks<const N: usize>(&self) -> impl Iterator<Item = [u8; N]> + '_ {
        self.bytes.chunks_exact(N).map(|c| {
            let mut a = [0u8; N];
            a.copy_from_slice(c);
            a
        })
    }

    fn wrong(&self, want: &'static str) -> NpyError {
        NpyError::WrongDtype {
            want,
            got: self.dtype.descr().to_string(),
        }
    }
}

/// Reorders column-major (Fortran) element bytes into row-major order.
fn fortran_to_c(data: &[u8], shape: &[usize], size: usize) -> Vec<u8> {
    let count: usize = shape.iter().product();
    let mut out = vec![0u8; data.len()];
    // Column-major strides, in elements.
    let mut strides = vec![1usize; shape.len()];
    for k in 1..shape.len() {
        strides[k] = strides[k - 1] * shape[k - 1];
    }
    let mut index = vec![0usize; shape.len()];
    for c_pos in 0..count {
        let f_pos: usize = index.iter().zip(&strides).map(|(i, s)| i * s).sum();
        out[c_pos * size..(c_pos + 1) * size].copy_from_slice(&data[f_pos * size..(f_pos + 1) * size]);
        // Advance the row-major multi-index (last axis fastest).
        for k in (0..shape.len()).rev() {
            index[k] += 1;
            if index[k] < shape[k] {
                break;
            }
            index[k] = 0;
        }
    }
    out
}

/// Serialises an array as `.npy` version 1.0 bytes.
fn write(shape: &[usize], dtype: NpyDtype, data: Vec<u8>) -> Result<Vec<u8>, NpyError> {
    let want: usize = shape.iter().product();
    if want * dtype.size() != data.len() {
        return Err(NpyError::SizeMismatch {
            shape: shape.to_vec(),
            want,
            got: data.len() / dtype.size(),
        });
    }
    let shape_str = match shape {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
        ),
    };
    let mut header = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}",
        dtype.descr(),
        shape_str
    );
    // Pad so that the data starts on a 64-byte boundary, ending the header with '\n'.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + data.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&data);
    Ok(out)
}

/// Serialises `f32` values with the given shape.
pub fn write_f32(shape: &[usize], values: &[f32]) -> Result<Vec<u8>, NpyError> {
    write(
        shape,
        NpyDtype::F32,
        values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    )
}

/// Serialises `i64` values with the given shape.
pub fn write_i64(shape: &[usize], values: &[i64]) -> Result<Vec<u8>, NpyError> {
    write(
        shape,
        NpyDtype::I64,
        values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    )
}

/// Returns the raw text of `key`'s value in a Python dict literal such as numpy writes.
fn dict_value<'a>(header: &'a str, key: &str) -> Result<&'a str, NpyError> {
    let pat_a = format!("'{key}':");
    let pat_b = format!("\"{key}\":");
    let pos = header
        .find(&pat_a)
        .map(|p| p + pat_a.len())
        .or_else(|| header.find(&pat_b).map(|p| p + pat_b.len()))
        .ok_or_else(|| NpyError::BadHeader(format!("missing key '{key}'")))?;
    let rest = &header[pos..];
    // A value ends at the first comma outside parentheses, or at the closing brace.
    let mut depth = 0i32;
    for (i, c) in rest.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' | '}' if depth == 0 => return Ok(rest[..i].trim()),
            _ => {}
        }
    }
    Err(NpyError::BadHeader(format!("unterminated value for '{key}'")))
}

fn parse_shape(text: &str) -> Result<Vec<usize>, NpyError> {
    let inner = text
        .trim()
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .ok_or_else(|| NpyError::BadHeader(format!("shape '{text}' is not a tuple")))?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| NpyError::BadHeader(format!("bad dimension '{s}'")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_f32_and_i64() {
        let bytes = write_f32(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.5]).unwrap();
        assert_eq!((bytes.len() - 24) % 64, 0); // header padded to 64 bytes, then 24 bytes of data
        let arr = NpyArray::from_bytes(&bytes).unwrap();
        assert_eq!(arr.shape, vec![2, 3]);
        assert_eq!(arr.to_f32().unwrap(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.5]);
        let bytes = write_i64(&[3], &[-1, 0, 7]).unwrap();
        let arr = NpyArray::from_bytes(&bytes).unwrap();
        assert_eq!(arr.shape, vec![3]);
        assert_eq!(arr.to_i64().unwrap(), vec![-1, 0, 7]);
    }

    #[test]
    fn fortran_order_is_reordered() {
        // shape (2, 3), column-major storage of [[1, 2, 3], [4, 5, 6]].
        let mut bytes = write_f32(&[2, 3], &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]).unwrap();
        let text = String::from_utf8_lossy(&bytes[10..64])
            .replace("'fortran_order': False", "'fortran_order': True ");
        bytes[10..64].copy_from_slice(text.as_bytes());
        let arr = NpyArray::from_bytes(&bytes).unwrap();
        assert_eq!(arr.to_f32().unwrap(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(NpyArray::from_bytes(b"hello world!"), Err(NpyError::BadMagic));
        let mut bytes = write_f32(&[4], &[1.0, 2.0, 3.0, 4.0]).unwrap();
        bytes.truncate(bytes.len() - 3);
        assert!(matches!(
            NpyArray::from_bytes(&bytes),
            Err(NpyError::SizeMismatch { .. })
        ));
        assert!(matches!(
            NpyArray::from_bytes(&bytes[..20]),
            Err(NpyError::Truncated(_))
        ));
    }
}
