//! `torch.save` / TorchScript zip archives: records, storages and tensors.
//!
//! Layout (torch ≥ 1.6): every record sits under one top-level folder `<stem>/` (any name):
//! `data.pkl` (the pickled object), `data/<key>` (raw little-endian storages), `byteorder`,
//! `version`, and with torch 2.x `.format_version`, `.storage_alignment` and
//! `.data/serialization_id`. A TorchScript archive (`torch.jit.save`) adds `constants.pkl`
//! and `code/__torch__/…` (the module classes as TorchScript source); its `data.pkl` holds the
//! module object tree, with parameters and buffers as attributes.
//!
//! Archives are read one record at a time through [`zip::ZipArchive`], so a 350 MB CLIP file
//! is never copied whole: each storage record is read once, and moved (not copied) into its
//! tensor when the tensor covers it exactly.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io::{Cursor, Read, Seek, SeekFrom};

use zip::ZipArchive;

use super::ConvertError;
use super::pickle::{PickleValue, TensorRef, unpickle};

/// A state dict: parameter/buffer name → tensor.
pub type StateDict = BTreeMap<String, RawTensor>;

/// Element type of a stored tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RawDtype {
    F16,
    BF16,
    F32,
    F64,
    I64,
    I32,
    I16,
    I8,
    U8,
    Bool,
}

impl RawDtype {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            RawDtype::F64 | RawDtype::I64 => 8,
            RawDtype::F32 | RawDtype::I32 => 4,
            RawDtype::F16 | RawDtype::BF16 | RawDtype::I16 => 2,
            RawDtype::I8 | RawDtype::U8 | RawDtype::Bool => 1,
        }
    }

    /// Whether this is a floating-point type.
    pub fn is_float(self) -> bool {
        matches!(
            self,
            RawDtype::F16 | RawDtype::BF16 | RawDtype::F32 | RawDtype::F64
        )
    }
}

/// A tensor read from an archive: contiguous (row-major), little-endian element bytes.
#[derive(Clone, PartialEq)]
pub struct RawTensor {
    /// Size per dimension (empty for a 0-d scalar).
    pub shape: Vec<usize>,
    /// Element type.
    pub dtype: RawDtype,
    /// `numel · dtype.size()` bytes, row-major, little-endian.
    pub data: Vec<u8>,
}

impl fmt::Debug for RawTensor {
    // The bytes are omitted: a CLIP table would print megabytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawTensor")
            .field("shape", &self.shape)
            .field("dtype", &self.dtype)
            .field("bytes", &self.data.len())
            .finish()
    }
}

impl RawTensor {
    /// Number of elements (product of the shape; 1 for a scalar).
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// The elements as `f32`: f16/bf16 widened exactly, f64 rounded, integers and bools
    /// converted by value.
    pub fn to_f32(&self) -> Vec<f32> {
        let d = &self.data;
        match self.dtype {
            RawDtype::F32 => d
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            RawDtype::F16 => d
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            RawDtype::BF16 => d
                .chunks_exact(2)
                .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            RawDtype::F64 => d
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(le8(c)) as f32)
                .collect(),
            RawDtype::I64 => d
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(le8(c)) as f32)
                .collect(),
            RawDtype::I32 => d
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32)
                .collect(),
            RawDtype::I16 => d
                .chunks_exact(2)
                .map(|c| i16::from_le_bytes([c[0], c[1]]) as f32)
                .collect(),
            RawDtype::I8 => d.iter().map(|&b| b as i8 as f32).collect(),
            RawDtype::U8 | RawDtype::Bool => d.iter().map(|&b| b as f32).collect(),
        }
    }

    /// The elements as `i64`, for integer and bool tensors; float tensors are an error.
    pub fn to_i64(&self) -> Result<Vec<i64>, ConvertError> {
        let d = &self.data;
        Ok(match self.dtype {
            RawDtype::I64 => d.chunks_exact(8).map(|c| i64::from_le_bytes(le8(c))).collect(),
            RawDtype::I32 => d
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64)
                .collect(),
            RawDtype::I16 => d
                .chunks_exact(2)
                .map(|c| i16::from_le_bytes([c[0], c[1]]) as i64)
                .collect(),
            RawDtype::I8 => d.iter().map(|&b| b as i8 as i64).collect(),
            RawDtype::U8 | RawDtype::Bool => d.iter().map(|&b| b as i64).collect(),
            other => {
                return Err(ConvertError::BadDtype {
                    tensor: format!("{:?} tensor", self.shape),
                    expected: "an integer or bool dtype".into(),
                    got: other,
                });
            }
        })
    }
}

fn le8(c: &[u8]) -> [u8; 8] {
    let mut a = [0u8; 8];
    a.copy_from_slice(c);
    a
}

/// Largest tensor materialised from a view that is bigger than its storage (stride-0
/// broadcasts): bounds the memory a corrupt size field can claim.
const MAX_EXPANDED_BYTES: usize = 1 << 30;

/// An open `torch.save` or TorchScript zip archive.
pub struct TorchArchive<R: Read + Seek> {
    zip: ZipArchive<R>,
    /// `"<stem>/"` (or `""` when records sit at the root).
    prefix: String,
    torchscript: bool,
    /// Parsed `__parameters__`/`__buffers__` per TorchScript class (None: unknown).
    script_params: HashMap<String, Option<HashSet<String>>>,
}

impl<R: Read + Seek> TorchArchive<R> {
    /// Opens an archive and locates its `<stem>/data.pkl`.
    pub fn open(mut reader: R) -> Result<Self, ConvertError> {
        let mut magic = [0u8; 2];
        let n = read_up_to(&mut reader, &mut magic).map_err(|e| ConvertError::Zip(e.to_string()))?;
        reader
            .seek(SeekFrom::Start(0))
            .map_err(|e| ConvertError::Zip(e.to_string()))?;
        if n == 2 && magic[0] == 0x80 {
            // The pre-1.6 format is a bare sequence of pickles, not a zip.
            return Err(ConvertError::Unsupported(
                "legacy (torch < 1.6, non-zip) torch.save file; re-save it with a newer torch".into(),
            ));
        }
        let zip = ZipArchive::new(reader)?;
        let mut candidates: Vec<String> = zip
            .file_names()
            .filter(|n| *n == "data.pkl" || (n.ends_with("/data.pkl") && n.matches('/').count() == 1))
            .map(|n| n.trim_end_matches("data.pkl").to_string())
            .collect();
        candidates.sort();
        let prefix = match candidates.as_slice() {
            [one] => one.clone(),
            [] => return Err(ConvertError::MissingRecord("<stem>/data.pkl".into())),
            many => {
                return Err(ConvertError::Unsupported(format!(
                    "several top-level data.pkl records: {many:?}"
                )));
            }
        };
        let torchscript = zip.file_names().any(|n| {
            n.strip_prefix(prefix.as_str())
                .is_some_and(|r| r == "constants.pkl" || r.starts_with("code/"))
        });
        let mut archive = Self {
            zip,
            prefix,
            torchscript,
            script_params: HashMap::new(),
        };
        if archive.has_record("byteorder") {
            let order = archive.read_record("byteorder")?;
            if order.trim_ascii() != b"little" {
                return Err(ConvertError::Unsupported(format!(
                    "byteorder '{}' (only little-endian archives are supported)",
                    String::from_utf8_lossy(&order)
                )));
            }
        }
        Ok(archive)
    }

    /// The folder all records sit under, with its trailing `/`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether this is a TorchScript archive (has `constants.pkl` or `code/`).
    pub fn is_torchscript(&self) -> bool {
        self.torchscript
    }

    /// Whether record `name` (relative to the prefix) exists.
    pub fn has_record(&self, name: &str) -> bool {
        self.zip
            .index_for_name(&format!("{}{name}", self.prefix))
            .is_some()
    }

    /// Names of all records, relative to the prefix.
    pub fn record_names(&self) -> Vec<String> {
        self.zip
            .file_names()
            .filter_map(|n| n.strip_prefix(self.prefix.as_str()))
            .map(str::to_string)
            .collect()
    }

    /// Reads record `name` (relative to the prefix).
    pub fn read_record(&mut self, name: &str) -> Result<Vec<u8>, ConvertError> {
        let full = format!("{}{name}", self.prefix);
        let mut file = match self.zip.by_name(&full) {
            Ok(f) => f,
            Err(zip::result::ZipError::FileNotFound) => return Err(ConvertError::MissingRecord(full)),
            Err(e) => return Err(ConvertError::Zip(format!("{full}: {e}"))),
        };
        // The declared size only pre-sizes the buffer (capped, since it may lie).
        let mut buf = Vec::with_capacity(usize::try_from(file.size()).unwrap_or(0).min(1 << 30));
        file.read_to_end(&mut buf)
            .map_err(|e| ConvertError::Zip(format!("{full}: {e}")))?;
        Ok(buf)
    }

    /// Unpickles record `name` (e.g. `"data.pkl"`); tensors stay unread [`PickleValue::Tensor`]s.
    pub fn unpickle_record(&mut self, name: &str) -> Result<PickleValue, ConvertError> {
        let bytes = self.read_record(name)?;
        unpickle(&bytes).map_err(|e| match e {
            ConvertError::Pickle { offset, message } => ConvertError::Pickle {
                offset,
                message: format!("{}{name}: {message}", self.prefix),
            },
            e => e,
        })
    }

    /// Replaces every [`PickleValue::Tensor`] in `value` by a [`PickleValue::RawTensor`] read
    /// from the archive. Each storage record is read once, however many tensors view it.
    pub fn materialize(&mut self, mut value: PickleValue) -> Result<PickleValue, ConvertError> {
        let mut uses = HashMap::new();
        count_storage_uses(&value, &mut uses);
        let mut cache = HashMap::new();
        self.materialize_in(&mut value, &mut uses, &mut cache)?;
        Ok(value)
    }

    fn materialize_in(
        &mut self,
        v: &mut PickleValue,
        uses: &mut HashMap<String, usize>,
        cache: &mut HashMap<String, Vec<u8>>,
    ) -> Result<(), ConvertError> {
        match v {
            PickleValue::Tensor(t) => {
                let raw = self.load_tensor(t, uses, cache)?;
                *v = PickleValue::RawTensor(raw);
            }
            PickleValue::Tuple(items) | PickleValue::List(items) | PickleValue::Set(items) => {
                for it in items {
                    self.materialize_in(it, uses, cache)?;
                }
            }
            PickleValue::Dict(entries) => {
                for (k, val) in entries {
                    self.materialize_in(k, uses, cache)?;
                    self.materialize_in(val, uses, cache)?;
                }
            }
            PickleValue::Object { state, .. } => self.materialize_in(state, uses, cache)?,
            _ => {}
        }
        Ok(())
    }

    /// Reads one tensor (its storage is read and dropped again).
    pub fn read_tensor(&mut self, t: &TensorRef) -> Result<RawTensor, ConvertError> {
        let mut uses = HashMap::from([(t.storage.key.clone(), 1)]);
        self.load_tensor(t, &mut uses, &mut HashMap::new())
    }

    fn load_tensor(
        &mut self,
        t: &TensorRef,
        uses: &mut HashMap<String, usize>,
        cache: &mut HashMap<String, Vec<u8>>,
    ) -> Result<RawTensor, ConvertError> {
        let key = &t.storage.key;
        let serr = |message: String| ConvertError::Storage {
            storage: key.clone(),
            message,
        };
        let remaining = uses.get(key).copied().unwrap_or(1).saturating_sub(1);
        uses.insert(key.clone(), remaining);
        let bytes = match cache.remove(key) {
            Some(b) => b,
            None => {
                if key.contains('/') || key.contains("..") {
                    return Err(serr("storage key is not a plain record name".into()));
                }
                self.read_record(&format!("data/{key}"))?
            }
        };
        let es = t.storage.dtype.size();
        let numel_storage = usize::try_from(t.storage.numel).map_err(|_| serr("storage too large".into()))?;
        let storage_bytes = numel_storage
            .checked_mul(es)
            .ok_or_else(|| serr("storage too large".into()))?;
        if bytes.len() < storage_bytes {
            return Err(serr(format!(
                "record has {} bytes, but {} elements of {:?} need {storage_bytes}",
                bytes.len(),
                t.storage.numel,
                t.storage.dtype
            )));
        }
        let view = view_layout(t, numel_storage).map_err(serr)?;
        let out_bytes = view
            .numel
            .checked_mul(es)
            .ok_or_else(|| serr("tensor too large".into()))?;
        if out_bytes > storage_bytes.max(MAX_EXPANDED_BYTES) {
            return Err(serr(format!(
                "tensor of {out_bytes} bytes is implausibly larger than its storage"
            )));
        }
        let data = if view.contiguous && t.offset == 0 && out_bytes == bytes.len() && remaining == 0 {
            // The common case: one tensor owning its whole storage. Move, don't copy.
            bytes
        } else {
            let data = gather(&bytes, t, es, out_bytes);
            if remaining > 0 {
                cache.insert(key.clone(), bytes);
            }
            data
        };
        Ok(RawTensor {
            shape: t.shape.clone(),
            dtype: t.storage.dtype,
            data,
        })
    }

    /// Names of the parameters and buffers declared by TorchScript class `class`
    /// (`__parameters__`/`__buffers__` in its `code/` source), if that source can be found.
    fn script_param_names(&mut self, class: &str) -> Option<HashSet<String>> {
        if let Some(cached) = self.script_params.get(class) {
            return cached.clone();
        }
        let parsed = class.rsplit_once('.').and_then(|(module, name)| {
            let path = format!("code/{}.py", module.replace('.', "/"));
            let src = self.read_record(&path).ok()?;
            parse_script_params(&String::from_utf8_lossy(&src), name)
        });
        self.script_params.insert(class.to_string(), parsed.clone());
        parsed
    }

    /// The `model.state_dict()` of a TorchScript archive: walks the module tree of
    /// `data.pkl`, naming each parameter/buffer by its dotted attribute path.
    pub fn script_state_dict(&mut self) -> Result<StateDict, ConvertError> {
        let root = self.unpickle_record("data.pkl")?;
        if !matches!(root, PickleValue::Object { .. }) {
            return Err(ConvertError::Structure {
                context: format!("{}data.pkl", self.prefix),
                message: format!("TorchScript root is a {}, not a module object", root.kind()),
            });
        }
        let mut named = Vec::new();
        self.walk_module(&root, "", &mut named, 0)?;
        let mut seen = HashSet::new();
        for (name, _) in &named {
            if !seen.insert(name.as_str()) {
                return Err(ConvertError::Structure {
                    context: format!("{}data.pkl", self.prefix),
                    message: format!("state-dict name '{name}' occurs twice"),
                });
            }
        }
        let dict = PickleValue::Dict(
            named
                .into_iter()
                .map(|(n, t)| (PickleValue::Str(n), PickleValue::Tensor(t)))
                .collect(),
        );
        let dict = self.materialize(dict)?;
        let context = format!("{}data.pkl", self.prefix);
        state_dict_from_value(dict, &context)
    }

    fn walk_module(
        &mut self,
        obj: &PickleValue,
        prefix: &str,
        out: &mut Vec<(String, TensorRef)>,
        depth: usize,
    ) -> Result<(), ConvertError> {
        let PickleValue::Object { class, state } = obj else {
            return Ok(());
        };
        // Modules always pickle their attributes as a dict; other script objects carry no
        // parameters that `state_dict()` would report.
        let Some(entries) = state.as_dict() else {
            return Ok(());
        };
        if depth > 64 {
            return Err(ConvertError::Structure {
                context: class.clone(),
                message: "module tree too deep".into(),
            });
        }
        let declared = self.script_param_names(class);
        for (k, v) in entries {
            let Some(k) = k.as_str() else { continue };
            match v {
                // Without the class source, every tensor attribute counts (traced modules
                // keep only parameters and buffers as tensor attributes anyway).
                PickleValue::Tensor(t) if declared.as_ref().is_none_or(|d| d.contains(k)) => {
                    out.push((format!("{prefix}{k}"), t.clone()));
                }
                PickleValue::Object { .. } => {
                    self.walk_module(v, &format!("{prefix}{k}."), out, depth + 1)?
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Reads up to `buf.len()` bytes (fewer only at end of input).
fn read_up_to<R: Read>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Finds `class <name>(` in TorchScript source and parses its `__parameters__` and
/// `__buffers__` lists, e.g. `__parameters__ = ["weight", "bias", ]`.
fn parse_script_params(src: &str, name: &str) -> Option<HashSet<String>> {
    let header = format!("class {name}(");
    let mut lines = src.lines().skip_while(|l| !l.starts_with(&header));
    lines.next()?;
    let mut names = HashSet::new();
    let mut found = false;
    for line in lines.take_while(|l| !l.starts_with("class ")) {
        let t = line.trim();
        let list = t
            .strip_prefix("__parameters__ = [")
            .or_else(|| t.strip_prefix("__buffers__ = ["));
        if let Some(list) = list {
            found = true;
            let list = list.trim_end_matches(']');
            for item in list.split(',') {
                let item = item.trim().trim_matches('"').trim_matches('\'');
                if !item.is_empty() {
                    names.insert(item.to_string());
                }
            }
        }
    }
    found.then_some(names)
}

struct ViewLayout {
    numel: usize,
    contiguous: bool,
}

/// Validates a view against its storage: every addressed element must lie inside it.
fn view_layout(t: &TensorRef, storage_numel: usize) -> Result<ViewLayout, String> {
    let mut numel: usize = 1;
    for &d in &t.shape {
        numel = numel.checked_mul(d).ok_or("tensor size overflows")?;
    }
    if numel > 0 {
        // Largest addressed element: offset + Σ (size_i − 1)·stride_i, in u128 to avoid overflow.
        let mut last = t.offset as u128;
        for (&d, &s) in t.shape.iter().zip(&t.stride) {
            last += (d as u128 - 1) * s as u128;
        }
        if last >= storage_numel as u128 {
            return Err(format!(
                "view (offset {}, size {:?}, stride {:?}) reaches element {last} of a {storage_numel}-element storage",
                t.offset, t.shape, t.stride
            ));
        }
    }
    // Row-major contiguity; dimensions of size 1 may carry any stride.
    let mut expect: u64 = 1;
    let mut contiguous = true;
    for (&d, &s) in t.shape.iter().zip(&t.stride).rev() {
        if d != 1 && s != expect {
            contiguous = false;
        }
        expect = expect.saturating_mul(d as u64);
    }
    Ok(ViewLayout { numel, contiguous })
}

/// Copies a (validated) strided view into a contiguous buffer of `out_bytes` bytes.
fn gather(storage: &[u8], t: &TensorRef, es: usize, out_bytes: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(out_bytes);
    if out_bytes == 0 {
        return out;
    }
    // All offsets below were bounded by `view_layout`, so they fit in usize and in `storage`.
    let offset = t.offset as usize;
    let shape = &t.shape;
    let stride: Vec<usize> = t.stride.iter().map(|&s| s as usize).collect();
    // Merge the innermost run: if the last dim is unit-stride, copy whole rows at once.
    let (outer_dims, row_elems) = match (shape.last(), stride.last()) {
        (Some(&d), Some(&1)) => (shape.len() - 1, d),
        (Some(_), Some(_)) => (shape.len(), 1),
        _ => (0, 1),
    };
    let row_bytes = row_elems * es;
    let mut idx = vec![0usize; outer_dims];
    loop {
        let base = offset + idx.iter().zip(&stride).map(|(i, s)| i * s).sum::<usize>();
        let start = base * es;
        out.extend_from_slice(&storage[start..start + row_bytes]);
        // Odometer increment over the outer dims.
        let mut dim = outer_dims;
        loop {
            if dim == 0 {
                return out;
            }
            dim -= 1;
            idx[dim] += 1;
            if idx[dim] < shape[dim] {
                break;
            }
            idx[dim] = 0;
        }
    }
}

fn count_storage_uses(v: &PickleValue, uses: &mut HashMap<String, usize>) {
    match v {
        PickleValue::Tensor(t) => *uses.entry(t.storage.key.clone()).or_insert(0) += 1,
        PickleValue::Tuple(items) | PickleValue::List(items) | PickleValue::Set(items) => {
            items.iter().for_each(|i| count_storage_uses(i, uses))
        }
        PickleValue::Dict(entries) => entries.iter().for_each(|(k, v)| {
            count_storage_uses(k, uses);
            count_storage_uses(v, uses);
        }),
        PickleValue::Object { state, .. } => count_storage_uses(state, uses),
        _ => {}
    }
}

/// Converts a dict of name → materialised tensor into a [`StateDict`].
fn state_dict_from_value(v: PickleValue, context: &str) -> Result<StateDict, ConvertError> {
    let kind = v.kind();
    let PickleValue::Dict(entries) = v else {
        return Err(ConvertError::Structure {
            context: context.into(),
            message: format!("state dict is a {kind}, not a dict"),
        });
    };
    let mut out = StateDict::new();
    for (k, val) in entries {
        let PickleValue::Str(name) = k else {
            return Err(ConvertError::Structure {
                context: context.into(),
                message: format!("state-dict key is a {}, not a string", k.kind()),
            });
        };
        let PickleValue::RawTensor(t) = val else {
            return Err(ConvertError::Structure {
                context: context.into(),
                message: format!("state-dict entry '{name}' is a {}, not a tensor", val.kind()),
            });
        };
        if out.insert(name.clone(), t).is_some() {
            return Err(ConvertError::Structure {
                context: context.into(),
                message: format!("duplicate key '{name}'"),
            });
        }
    }
    Ok(out)
}

/// Reads a whole `torch.save` archive: the top-level object with every tensor materialised.
pub fn read_checkpoint(bytes: &[u8]) -> Result<PickleValue, ConvertError> {
    let mut ar = TorchArchive::open(Cursor::new(bytes))?;
    let v = ar.unpickle_record("data.pkl")?;
    ar.materialize(v)
}

/// Extracts the state dict stored under the first of `keys` present in the top-level dict
/// of a `torch.save` archive (e.g. `&["vq_model", "net"]`). Only that state dict's storages
/// are read: optimizer and scheduler state are parsed but never materialised.
pub fn state_dict_from_checkpoint(bytes: &[u8], keys: &[&str]) -> Result<StateDict, ConvertError> {
    state_dict_from_reader(Cursor::new(bytes), keys)
}

/// [`state_dict_from_checkpoint`] over any seekable reader (e.g. a `BufReader<File>`).
pub fn state_dict_from_reader<R: Read + Seek>(reader: R, keys: &[&str]) -> Result<StateDict, ConvertError> {
    let mut ar = TorchArchive::open(reader)?;
    let context = format!("{}data.pkl", ar.prefix());
    let top = ar.unpickle_record("data.pkl")?;
    let PickleValue::Dict(entries) = top else {
        return Err(ConvertError::Structure {
            context,
            message: format!("top level is a {}, not a dict", top.kind()),
        });
    };
    let available: Vec<String> = entries
        .iter()
        .map(|(k, _)| k.as_str().map_or_else(|| format!("{k:?}"), str::to_string))
        .collect();
    let found = keys
        .iter()
        .find_map(|want| entries.iter().position(|(k, _)| k.as_str() == Some(want)));
    let Some(pos) = found else {
        let key = keys
            .iter()
            .map(|k| format!("'{k}'"))
            .collect::<Vec<_>>()
            .join(" or ");
        return Err(ConvertError::MissingKey {
            file: context,
            key,
            available,
        });
    };
    let Some((_, sd)) = entries.into_iter().nth(pos) else {
        return Err(ConvertError::Structure {
            context,
            message: "state dict vanished".into(),
        });
    };
    let sd = ar.materialize(sd)?;
    state_dict_from_value(sd, &context)
}

/// Reads a CLIP checkpoint as a state dict, whether it is the official TorchScript archive
/// (`ViT-B-32.pt`, module tree walked like `model.state_dict()`) or a plain
/// `torch.save(state_dict)`. The int64 0-d entries (`input_resolution`, `context_length`,
/// `vocab_size`) are kept.
pub fn read_clip_state_dict(bytes: &[u8]) -> Result<StateDict, ConvertError> {
    clip_state_dict_from_reader(Cursor::new(bytes))
}

/// [`read_clip_state_dict`] over any seekable reader, so that a 350 MB file is streamed.
pub fn clip_state_dict_from_reader<R: Read + Seek>(reader: R) -> Result<StateDict, ConvertError> {
    let mut ar = TorchArchive::open(reader)?;
    if ar.is_torchscript() {
        return ar.script_state_dict();
    }
    let context = format!("{}data.pkl", ar.prefix());
    let top = ar.unpickle_record("data.pkl")?;
    // Some re-saved CLIP files wrap the weights as {'state_dict': …}.
    let top = match top {
        PickleValue::Dict(ref e) if e.len() == 1 && top.get("state_dict").is_some() => {
            top.get("state_dict").cloned().unwrap_or(PickleValue::None)
        }
        other => other,
    };
    let sd = ar.materialize(top)?;
    state_dict_from_value(sd, &context)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::pickle::StorageRef;

    fn tref(shape: &[usize], stride: &[u64], offset: u64, numel: u64) -> TensorRef {
        TensorRef {
            storage: StorageRef {
                key: "0".into(),
                dtype: RawDtype::I32,
                location: "cpu".into(),
                numel,
            },
            offset,
            shape: shape.to_vec(),
            stride: stride.to_vec(),
            requires_grad: false,
        }
    }

    fn storage(n: i32) -> Vec<u8> {
        (0..n).flat_map(|i| i.to_le_bytes()).collect()
    }

    fn ints(b: &[u8]) -> Vec<i32> {
        b.chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    }

    #[test]
    fn gather_transposed_and_offset_views() {
        let s = storage(12);
        // A (3, 4) row-major matrix viewed transposed: shape (4, 3), stride (1, 4).
        let t = tref(&[4, 3], &[1, 4], 0, 12);
        let l = view_layout(&t, 12).unwrap();
        assert!(!l.contiguous);
        assert_eq!(
            ints(&gather(&s, &t, 4, l.numel * 4)),
            vec![0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]
        );
        // Row 1 of the matrix, with an offset.
        let t = tref(&[4], &[1], 4, 12);
        assert_eq!(ints(&gather(&s, &t, 4, 16)), vec![4, 5, 6, 7]);
        // A column with stride.
        let t = tref(&[3, 1], &[4, 1], 2, 12);
        assert_eq!(ints(&gather(&s, &t, 4, 12)), vec![2, 6, 10]);
        // A 0-d scalar at offset 5.
        let t = tref(&[], &[], 5, 12);
        assert_eq!(view_layout(&t, 12).unwrap().numel, 1);
        assert_eq!(ints(&gather(&s, &t, 4, 4)), vec![5]);
        // Stride-0 broadcast.
        let t = tref(&[2, 3], &[0, 1], 0, 12);
        assert_eq!(ints(&gather(&s, &t, 4, 24)), vec![0, 1, 2, 0, 1, 2]);
        // Empty.
        let t = tref(&[0, 3], &[3, 1], 0, 12);
        assert_eq!(gather(&s, &t, 4, 0), Vec::<u8>::new());
    }

    #[test]
    fn out_of_bounds_views_are_rejected() {
        assert!(view_layout(&tref(&[4, 4], &[4, 1], 0, 12), 12).is_err());
        assert!(view_layout(&tref(&[1], &[1], 12, 12), 12).is_err());
        assert!(view_layout(&tref(&[usize::MAX, 2], &[1, 1], 0, 12), 12).is_err());
        assert!(view_layout(&tref(&[2], &[u64::MAX], 0, 12), 12).is_err());
        assert!(view_layout(&tref(&[0], &[1], 100, 12), 12).is_ok());
    }

    #[test]
    fn script_params_parsing() {
        let src = "class A(Module):\n  __parameters__ = [\"weight\", \"bias\", ]\n  __buffers__ = [\"running\", ]\n  x : int\nclass B(Module):\n  __parameters__ = []\n  __buffers__ = []\n";
        let a = parse_script_params(src, "A").unwrap();
        assert_eq!(
            a,
            HashSet::from(["weight".to_string(), "bias".into(), "running".into()])
        );
        assert!(parse_script_params(src, "B").unwrap().is_empty());
        assert!(parse_script_params(src, "C").is_none());
    }

    #[test]
    fn conversions() {
        let t = RawTensor {
            shape: vec![3],
            dtype: RawDtype::F16,
            data: [1.0f32, -2.5, 0.1]
                .iter()
                .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
                .collect(),
        };
        assert_eq!(t.to_f32(), vec![1.0, -2.5, half::f16::from_f32(0.1).to_f32()]);
        assert!(t.to_i64().is_err());
        let t = RawTensor {
            shape: vec![],
            dtype: RawDtype::I64,
            data: 77i64.to_le_bytes().to_vec(),
        };
        assert_eq!(t.to_i64().unwrap(), vec![77]);
        assert_eq!(t.numel(), 1);
    }
}
