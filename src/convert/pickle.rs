//! An allow-list unpickler for the pickles that `torch.save` and TorchScript write.
//!
//! Python's pickle format is a small stack machine whose `GLOBAL`/`REDUCE` opcodes can call any
//! importable function. This reader never calls anything: each `GLOBAL` is resolved against a
//! fixed allow-list of the names that appear in PyTorch checkpoints (`collections.OrderedDict`,
//! `torch._utils._rebuild_tensor_v2`, the `torch.*Storage` types, TorchScript `__torch__.*`
//! module classes, …) and turned into a plain data value. Any other global is rejected with
//! [`ConvertError::ForbiddenGlobal`].
//!
//! Objects live in an arena while unpickling, because pickles mutate containers after
//! memoising them (`EMPTY_DICT`, `BINPUT`, then `SETITEMS`); the final value is copied out of
//! the arena with limits on depth and total size, so that cyclic or exponentially shared
//! (malicious) pickles yield errors rather than stack overflows or memory exhaustion.
//!
//! Malformed input of any kind (stack underflow, bad memo index, truncated data, …) gives a
//! [`ConvertError::Pickle`] carrying the byte offset of the offending opcode; nothing panics.

use std::collections::HashMap;

use super::ConvertError;
use super::torch_zip::{RawDtype, RawTensor};

/// A reference to a tensor storage record of a torch zip archive (`<stem>/data/<key>`), as
/// given by the persistent id `('storage', storage_type, key, location, numel)`.
#[derive(Debug, Clone, PartialEq)]
pub struct StorageRef {
    /// Record name under `<stem>/data/`.
    pub key: String,
    /// Element type, from the storage class (`torch.FloatStorage` → F32, …).
    pub dtype: RawDtype,
    /// Device string saved with the storage (`"cpu"`, `"cuda:0"`, …); informational only.
    pub location: String,
    /// Number of elements of the storage.
    pub numel: u64,
}

/// A tensor as pickled: a strided view into a storage, not yet read from the archive.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorRef {
    /// The storage the view reads from.
    pub storage: StorageRef,
    /// Offset of element 0, in elements.
    pub offset: u64,
    /// Size per dimension.
    pub shape: Vec<usize>,
    /// Stride per dimension, in elements.
    pub stride: Vec<u64>,
    /// The saved `requires_grad` flag (true for parameters saved as `nn.Parameter`).
    pub requires_grad: bool,
}

/// A decoded pickle value. Only plain data: no Python object is ever constructed.
#[derive(Debug, Clone, PartialEq)]
pub enum PickleValue {
    /// `None`.
    None,
    /// `True`/`False`.
    Bool(bool),
    /// An integer that fits in `i64`.
    Int(i64),
    /// A float.
    Float(f64),
    /// A `str` (or a protocol-0/1 byte string decoded as Latin-1).
    Str(String),
    /// A `bytes` or `bytearray`.
    Bytes(Vec<u8>),
    /// A tuple (also `torch.Size`).
    Tuple(Vec<PickleValue>),
    /// A list.
    List(Vec<PickleValue>),
    /// A `dict`, `OrderedDict` or `Counter`, in insertion order.
    Dict(Vec<(PickleValue, PickleValue)>),
    /// A `set` or `frozenset`.
    Set(Vec<PickleValue>),
    /// An allow-listed global that was referenced but not applied (a storage type, a dtype).
    Global { module: String, name: String },
    /// A storage reference that no tensor wraps.
    Storage(StorageRef),
    /// A tensor view, not yet read from the archive.
    Tensor(TensorRef),
    /// A tensor whose data has been read ("materialised") from the archive.
    RawTensor(RawTensor),
    /// An instance of a TorchScript class (`__torch__.…`): its class name and its `BUILD`
    /// state (for modules, a dict of attribute name → value). `None` if it was never built.
    Object { class: String, state: Box<PickleValue> },
}

impl PickleValue {
    /// A short name of the value's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            PickleValue::None => "None",
            PickleValue::Bool(_) => "bool",
            PickleValue::Int(_) => "int",
            PickleValue::Float(_) => "float",
            PickleValue::Str(_) => "str",
            PickleValue::Bytes(_) => "bytes",
            PickleValue::Tuple(_) => "tuple",
            PickleValue::List(_) => "list",
            PickleValue::Dict(_) => "dict",
            PickleValue::Set(_) => "set",
            PickleValue::Global { .. } => "global",
            PickleValue::Storage(_) => "storage",
            PickleValue::Tensor(_) => "tensor",
            PickleValue::RawTensor(_) => "tensor",
            PickleValue::Object { .. } => "object",
        }
    }

    /// The string, if this is a `Str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            PickleValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is an `Int` (or a `Bool`, as in Python).
    pub fn as_int(&self) -> Option<i64> {
        match self {
            PickleValue::Int(i) => Some(*i),
            PickleValue::Bool(b) => Some(*b as i64),
            _ => None,
        }
    }

    /// The float, if this is a `Float` or an `Int`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            PickleValue::Float(f) => Some(*f),
            PickleValue::Int(i) => Some(*i as f64),
            _ => None,
        }
    }

    /// The entries, if this is a `Dict`.
    pub fn as_dict(&self) -> Option<&[(PickleValue, PickleValue)]> {
        match self {
            PickleValue::Dict(d) => Some(d),
            _ => None,
        }
    }

    /// The value of string key `key`, if this is a `Dict` that has it.
    pub fn get(&self, key: &str) -> Option<&PickleValue> {
        self.as_dict()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// The keys of a `Dict`, rendered as strings (string keys verbatim, others debug-printed).
    pub fn dict_keys(&self) -> Vec<String> {
        self.as_dict()
            .map(|d| {
                d.iter()
                    .map(|(k, _)| k.as_str().map_or_else(|| format!("{k:?}"), str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Decodes one pickle (up to its `STOP` opcode) into a [`PickleValue`].
///
/// Storages appear as [`PickleValue::Storage`] and tensors as [`PickleValue::Tensor`]; reading
/// their data is the job of [`super::torch_zip`].
pub fn unpickle(data: &[u8]) -> Result<PickleValue, ConvertError> {
    let mut u = Unpickler::new(data);
    let root = u.run()?;
    // Copy-out budget: generous for real pickles (which reference memoised values a few times
    // each), small enough to stop "billion laughs" style sharing bombs.
    let mut budget = data.len().saturating_mul(64).saturating_add(1 << 20);
    u.copy_out(root, 0, &mut budget)
}

/// Arena index of a node.
type Id = usize;

/// Maximum nesting depth of the decoded value (torch pickles nest a few levels deep; a
/// TorchScript module tree perhaps twenty).
const MAX_DEPTH: usize = 256;

/// An allow-listed global, resolved.
#[derive(Debug, Clone, PartialEq)]
enum Global {
    OrderedDict,
    Counter,
    RebuildTensorV2,
    RebuildTensor,
    RebuildParameter,
    RebuildParameterWithState,
    RebuildFromTypeV2,
    /// `torch.Tensor` / `torch.nn.parameter.Parameter`: only usable as the `new_type`
    /// argument of `_rebuild_from_type_v2`.
    TensorClass,
    StorageType(RawDtype),
    Dtype(RawDtype),
    Set,
    FrozenSet,
    TorchSize,
    /// A TorchScript class, by its qualified name.
    ScriptClass(String),
    /// `torch.jit._pickle.restore_type_tag(value, type_str)`: returns `value`.
    RestoreTypeTag,
    /// `torch.jit._pickle.build_{int,double,bool,tensor}list(list)`: returns the list.
    BuildList,
}

/// Resolves `module.name` against the allow-list.
fn resolve_global(module: &str, name: &str) -> Result<Global, ConvertError> {
    let storage = |name: &str| -> Option<RawDtype> {
        Some(match name {
            "FloatStorage" => RawDtype::F32,
            "HalfStorage" => RawDtype::F16,
            "BFloat16Storage" => RawDtype::BF16,
            "DoubleStorage" => RawDtype::F64,
            "LongStorage" => RawDtype::I64,
            "IntStorage" => RawDtype::I32,
            "ShortStorage" => RawDtype::I16,
            "CharStorage" => RawDtype::I8,
            "ByteStorage" => RawDtype::U8,
            "BoolStorage" => RawDtype::Bool,
            // Untyped storages are byte arrays.
            "UntypedStorage" => RawDtype::U8,
            _ => return None,
        })
    };
    let dtype = |name: &str| -> Option<RawDtype> {
        Some(match name {
            "float32" | "float" => RawDtype::F32,
            "float16" | "half" => RawDtype::F16,
            "bfloat16" => RawDtype::BF16,
            "float64" | "double" => RawDtype::F64,
            "int64" | "long" => RawDtype::I64,
            "int32" | "int" => RawDtype::I32,
            "int16" | "short" => RawDtype::I16,
            "int8" => RawDtype::I8,
            "uint8" => RawDtype::U8,
            "bool" => RawDtype::Bool,
            _ => return None,
        })
    };
    let g = match (module, name) {
        ("collections", "OrderedDict") => Global::OrderedDict,
        ("collections", "Counter") => Global::Counter,
        ("torch._utils", "_rebuild_tensor_v2") => Global::RebuildTensorV2,
        ("torch._utils", "_rebuild_tensor") => Global::RebuildTensor,
        ("torch._utils", "_rebuild_parameter") => Global::RebuildParameter,
        ("torch._utils", "_rebuild_parameter_with_state") => Global::RebuildParameterWithState,
        ("torch._tensor", "_rebuild_from_type_v2") => Global::RebuildFromTypeV2,
        ("torch", "Tensor") | ("torch.nn.parameter", "Parameter") => Global::TensorClass,
        ("torch", "Size") => Global::TorchSize,
        ("builtins" | "__builtin__", "set") => Global::Set,
        ("builtins" | "__builtin__", "frozenset") => Global::FrozenSet,
        ("torch.jit._pickle", "restore_type_tag") => Global::RestoreTypeTag,
        (
            "torch.jit._pickle",
            "build_intlist" | "build_doublelist" | "build_boollist" | "build_tensorlist",
        ) => Global::BuildList,
        ("torch" | "torch.storage", n) if let Some(d) = storage(n) => Global::StorageType(d),
        ("torch", n) if let Some(d) = dtype(n) => Global::Dtype(d),
        (m, n) if (m == "__torch__" || m.starts_with("__torch__.")) && is_identifier(n) => {
            Global::ScriptClass(format!("{m}.{n}"))
        }
        _ => {
            return Err(ConvertError::ForbiddenGlobal {
                module: module.to_string(),
                name: name.to_string(),
            });
        }
    };
    Ok(g)
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A value under construction, in the arena.
#[derive(Debug, Clone)]
enum Node {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Tuple(Vec<Id>),
    List(Vec<Id>),
    Dict(Vec<(Id, Id)>),
    Set(Vec<Id>),
    Global {
        module: String,
        name: String,
        kind: Global,
    },
    Storage(StorageRef),
    Tensor(TensorRef),
    Object {
        class: String,
        state: Option<Id>,
    },
}

struct Unpickler<'a> {
    data: &'a [u8],
    pos: usize,
    /// Offset of the opcode being executed, for error messages.
    op_start: usize,
    nodes: Vec<Node>,
    stack: Vec<Id>,
    /// Stack heights at each open `MARK`.
    marks: Vec<usize>,
    memo: HashMap<u64, Id>,
}

impl<'a> Unpickler<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self {
            data,
            pos: 0,
            op_start: 0,
            nodes: Vec::new(),
            stack: Vec::new(),
            marks: Vec::new(),
            memo: HashMap::new(),
        }
    }

    fn err(&self, message: impl Into<String>) -> ConvertError {
        ConvertError::Pickle {
            offset: self.op_start,
            message: message.into(),
        }
    }

    // ---- reading the byte stream ----

    fn take(&mut self, n: usize) -> Result<&'a [u8], ConvertError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        match end {
            Some(end) => {
                let s = &self.data[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(self.err(format!(
                "truncated pickle: need {n} bytes, {} left",
                self.data.len().saturating_sub(self.pos)
            ))),
        }
    }

    fn byte(&mut self) -> Result<u8, ConvertError> {
        Ok(self.take(1)?[0])
    }

    fn arr<const N: usize>(&mut self) -> Result<[u8; N], ConvertError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    /// A length prefix, checked against the bytes remaining (so that a corrupt length can
    /// never trigger a huge allocation).
    fn len_checked(&self, n: u64) -> Result<usize, ConvertError> {
        let left = self.data.len().saturating_sub(self.pos);
        usize::try_from(n).ok().filter(|&n| n <= left).ok_or_else(|| {
            self.err(format!(
                "truncated pickle: length {n} exceeds the {left} bytes left"
            ))
        })
    }

    /// A newline-terminated line (protocol-0 text arguments), without the newline.
    fn line(&mut self) -> Result<&'a str, ConvertError> {
        let rest = &self.data[self.pos.min(self.data.len())..];
        let nl = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| self.err("truncated pickle: unterminated line"))?;
        let line = &rest[..nl];
        self.pos += nl + 1;
        std::str::from_utf8(line).map_err(|_| self.err("text argument is not UTF-8"))
    }

    // ---- arena and stack ----

    fn alloc(&mut self, node: Node) -> Id {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    fn push(&mut self, node: Node) {
        let id = self.alloc(node);
        self.stack.push(id);
    }

    fn floor(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    fn pop(&mut self) -> Result<Id, ConvertError> {
        if self.stack.len() <= self.floor() {
            return Err(self.err("stack underflow"));
        }
        self.stack.pop().ok_or_else(|| self.err("stack underflow"))
    }

    fn top(&self) -> Result<Id, ConvertError> {
        if self.stack.len() <= self.floor() {
            return Err(self.err("stack underflow (no object to modify)"));
        }
        self.stack
            .last()
            .copied()
            .ok_or_else(|| self.err("stack underflow"))
    }

    /// Pops everything above the last `MARK`, and the mark itself.
    fn pop_mark(&mut self) -> Result<Vec<Id>, ConvertError> {
        let m = self
            .marks
            .pop()
            .ok_or_else(|| self.err("MARK expected but none is open"))?;
        if m > self.stack.len() {
            return Err(self.err("MARK above the stack top"));
        }
        Ok(self.stack.split_off(m))
    }

    fn memo_put(&mut self, key: u64) -> Result<(), ConvertError> {
        let id = self
            .stack
            .last()
            .copied()
            .ok_or_else(|| self.err("memoising with an empty stack"))?;
        self.memo.insert(key, id);
        Ok(())
    }

    fn memo_get(&mut self, key: u64) -> Result<(), ConvertError> {
        let id = *self
            .memo
            .get(&key)
            .ok_or_else(|| self.err(format!("memo key {key} was never stored")))?;
        self.stack.push(id);
        Ok(())
    }

    fn int_of(&self, id: Id, what: &str) -> Result<i64, ConvertError> {
        match &self.nodes[id] {
            Node::Int(i) => Ok(*i),
            Node::Bool(b) => Ok(*b as i64),
            other => Err(self.err(format!("{what}: expected an int, found {}", node_kind(other)))),
        }
    }

    fn seq_of(&self, id: Id, what: &str) -> Result<Vec<Id>, ConvertError> {
        match &self.nodes[id] {
            Node::Tuple(v) | Node::List(v) => Ok(v.clone()),
            other => Err(self.err(format!("{what}: expected a tuple, found {}", node_kind(other)))),
        }
    }

    fn usize_list(&self, id: Id, what: &str) -> Result<Vec<u64>, ConvertError> {
        self.seq_of(id, what)?
            .into_iter()
            .map(|e| {
                let v = self.int_of(e, what)?;
                u64::try_from(v).map_err(|_| self.err(format!("{what}: negative value {v}")))
            })
            .collect()
    }

    // ---- the machine ----

    fn run(&mut self) -> Result<Id, ConvertError> {
        loop {
            self.op_start = self.pos;
            let op = self.byte()?;
            match op {
                0x80 => {
                    // PROTO
                    let v = self.byte()?;
                    if v > 5 {
                        return Err(self.err(format!("unsupported pickle protocol {v}")));
                    }
                }
                0x95 => {
                    // FRAME: framing is only a buffering hint.
                    self.take(8)?;
                }
                b'.' => {
                    // STOP
                    let id = self.pop()?;
                    return Ok(id);
                }
                b'(' => self.marks.push(self.stack.len()),
                b'0' => {
                    // POP: discards the top item, or the topmost mark if it is on top.
                    if self.marks.last().is_some_and(|&m| m == self.stack.len()) {
                        self.marks.pop();
                    } else {
                        self.pop()?;
                    }
                }
                b'1' => {
                    // POP_MARK
                    self.pop_mark()?;
                }
                b'2' => {
                    // DUP
                    let id = self.top()?;
                    self.stack.push(id);
                }
                b'N' => self.push(Node::None),
                0x88 => self.push(Node::Bool(true)),
                0x89 => self.push(Node::Bool(false)),
                b'J' => {
                    let v = i32::from_le_bytes(self.arr()?);
                    self.push(Node::Int(v as i64));
                }
                b'K' => {
                    let v = self.byte()?;
                    self.push(Node::Int(v as i64));
                }
                b'M' => {
                    let v = u16::from_le_bytes(self.arr()?);
                    self.push(Node::Int(v as i64));
                }
                0x8a => {
                    // LONG1
                    let n = self.byte()? as usize;
                    let bytes = self.take(n)?;
                    let v = self.long_le(bytes)?;
                    self.push(Node::Int(v));
                }
                0x8b => {
                    // LONG4
                    let n = i32::from_le_bytes(self.arr()?);
                    let n =
                        self.len_checked(u64::try_from(n).map_err(|_| self.err("negative LONG4 length"))?)?;
                    let bytes = self.take(n)?;
                    let v = self.long_le(bytes)?;
                    self.push(Node::Int(v));
                }
                b'I' => {
                    // INT (text); "01"/"00" are protocol-0 booleans.
                    let line = self.line()?;
                    let node = match line {
                        "01" => Node::Bool(true),
                        "00" => Node::Bool(false),
                        s => Node::Int(s.trim().parse().map_err(|_| self.err(format!("bad INT '{s}'")))?),
                    };
                    self.push(node);
                }
                b'L' => {
                    // LONG (text), e.g. "123L"
                    let line = self.line()?;
                    let s = line.trim().trim_end_matches('L');
                    let v = s
                        .parse()
                        .map_err(|_| self.err(format!("bad or too large LONG '{line}'")))?;
                    self.push(Node::Int(v));
                }
                b'G' => {
                    let v = f64::from_be_bytes(self.arr()?);
                    self.push(Node::Float(v));
                }
                b'F' => {
                    let line = self.line()?;
                    let v = line
                        .trim()
                        .parse()
                        .map_err(|_| self.err(format!("bad FLOAT '{line}'")))?;
                    self.push(Node::Float(v));
                }
                0x8c => {
                    let n = self.byte()? as u64;
                    self.push_unicode(n)?;
                }
                b'X' => {
                    let n = u32::from_le_bytes(self.arr()?) as u64;
                    self.push_unicode(n)?;
                }
                0x8d => {
                    let n = u64::from_le_bytes(self.arr()?);
                    self.push_unicode(n)?;
                }
                b'U' | b'T' => {
                    // SHORT_BINSTRING / BINSTRING: Python 2 byte strings, read as Latin-1.
                    let n = if op == b'U' {
                        self.byte()? as u64
                    } else {
                        u32::from_le_bytes(self.arr()?) as u64
                    };
                    let n = self.len_checked(n)?;
                    let s: String = self.take(n)?.iter().map(|&b| b as char).collect();
                    self.push(Node::Str(s));
                }
                b'C' => {
                    let n = self.byte()? as u64;
                    self.push_bytes(n)?;
                }
                b'B' => {
                    let n = u32::from_le_bytes(self.arr()?) as u64;
                    self.push_bytes(n)?;
                }
                0x8e | 0x96 => {
                    // BINBYTES8 / BYTEARRAY8
                    let n = u64::from_le_bytes(self.arr()?);
                    self.push_bytes(n)?;
                }
                b')' => self.push(Node::Tuple(Vec::new())),
                b't' => {
                    let items = self.pop_mark()?;
                    self.push(Node::Tuple(items));
                }
                0x85..=0x87 => {
                    // TUPLE1..TUPLE3
                    let n = (op - 0x84) as usize;
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    self.push(Node::Tuple(items));
                }
                b']' => self.push(Node::List(Vec::new())),
                b'l' => {
                    let items = self.pop_mark()?;
                    self.push(Node::List(items));
                }
                b'a' => {
                    let v = self.pop()?;
                    self.extend_top(vec![v])?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    self.extend_top(items)?;
                }
                b'}' => self.push(Node::Dict(Vec::new())),
                b'd' => {
                    let items = self.pop_mark()?;
                    let pairs = self.pairs(items)?;
                    self.push(Node::Dict(pairs));
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    self.set_items(vec![(k, v)])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    let pairs = self.pairs(items)?;
                    self.set_items(pairs)?;
                }
                0x8f => self.push(Node::Set(Vec::new())),
                0x90 => {
                    // ADDITEMS
                    let items = self.pop_mark()?;
                    let top = self.top()?;
                    match &mut self.nodes[top] {
                        Node::Set(v) => v.extend(items),
                        other => {
                            let k = node_kind(other);
                            return Err(self.err(format!("ADDITEMS on a {k}")));
                        }
                    }
                }
                0x91 => {
                    // FROZENSET
                    let items = self.pop_mark()?;
                    self.push(Node::Set(items));
                }
                b'q' => {
                    let k = self.byte()? as u64;
                    self.memo_put(k)?;
                }
                b'r' => {
                    let k = u32::from_le_bytes(self.arr()?) as u64;
                    self.memo_put(k)?;
                }
                0x94 => {
                    // MEMOIZE: the next free index.
                    let k = self.memo.len() as u64;
                    self.memo_put(k)?;
                }
                b'p' => {
                    let line = self.line()?;
                    let k = line
                        .trim()
                        .parse()
                        .map_err(|_| self.err(format!("bad PUT index '{line}'")))?;
                    self.memo_put(k)?;
                }
                b'h' => {
                    let k = self.byte()? as u64;
                    self.memo_get(k)?;
                }
                b'j' => {
                    let k = u32::from_le_bytes(self.arr()?) as u64;
                    self.memo_get(k)?;
                }
                b'g' => {
                    let line = self.line()?;
                    let k = line
                        .trim()
                        .parse()
                        .map_err(|_| self.err(format!("bad GET index '{line}'")))?;
                    self.memo_get(k)?;
                }
                b'c' => {
                    let module = self.line()?.to_string();
                    let name = self.line()?.to_string();
                    self.push_global(module, name)?;
                }
                0x93 => {
                    // STACK_GLOBAL
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (Node::Str(module), Node::Str(name)) = (&self.nodes[module], &self.nodes[name])
                    else {
                        return Err(self.err("STACK_GLOBAL needs two strings"));
                    };
                    let (module, name) = (module.clone(), name.clone());
                    self.push_global(module, name)?;
                }
                b'R' => {
                    let args = self.pop()?;
                    let func = self.pop()?;
                    let id = self.reduce(func, args)?;
                    self.stack.push(id);
                }
                0x81 => {
                    // NEWOBJ: cls.__new__(cls, *args)
                    let _args = self.pop()?;
                    let cls = self.pop()?;
                    let node = self.new_object(cls)?;
                    self.push(node);
                }
                0x92 => {
                    // NEWOBJ_EX: cls.__new__(cls, *args, **kwargs)
                    let _kwargs = self.pop()?;
                    let _args = self.pop()?;
                    let cls = self.pop()?;
                    let node = self.new_object(cls)?;
                    self.push(node);
                }
                b'b' => {
                    let state = self.pop()?;
                    self.build(state)?;
                }
                b'Q' => {
                    let pid = self.pop()?;
                    let node = self.persistent_load(pid)?;
                    self.push(node);
                }
                b'P' => return Err(self.err("text persistent ids (PERSID) are not used by torch")),
                b'i' | b'o' => return Err(self.err("INST/OBJ opcodes construct arbitrary objects; refused")),
                0x82..=0x84 => {
                    return Err(self.err("extension registry opcodes (EXT1/2/4) are not supported"));
                }
                0x97 | 0x98 => return Err(self.err("out-of-band buffers (protocol 5) are not supported")),
                other => return Err(self.err(format!("unknown opcode 0x{other:02x}"))),
            }
        }
    }

    /// Decodes a little-endian two's-complement integer of any width, if it fits in i64.
    fn long_le(&self, bytes: &[u8]) -> Result<i64, ConvertError> {
        if bytes.is_empty() {
            return Ok(0);
        }
        let negative = bytes[bytes.len() - 1] & 0x80 != 0;
        let fill = if negative { 0xff } else { 0x00 };
        let mut buf = [fill; 8];
        for (i, &b) in bytes.iter().enumerate() {
            if i < 8 {
                buf[i] = b;
            } else if b != fill {
                return Err(self.err("integer does not fit in 64 bits"));
            }
        }
        let v = i64::from_le_bytes(buf);
        // Bytes beyond the 8th must only sign-extend, and must agree with bit 63.
        if bytes.len() > 8 && ((v < 0) != negative) {
            return Err(self.err("integer does not fit in 64 bits"));
        }
        Ok(v)
    }

    fn push_unicode(&mut self, n: u64) -> Result<(), ConvertError> {
        let n = self.len_checked(n)?;
        let bytes = self.take(n)?;
        // Python writes surrogates with 'surrogatepass'; be lenient instead of failing.
        let s = String::from_utf8_lossy(bytes).into_owned();
        self.push(Node::Str(s));
        Ok(())
    }

    fn push_bytes(&mut self, n: u64) -> Result<(), ConvertError> {
        let n = self.len_checked(n)?;
        let bytes = self.take(n)?.to_vec();
        self.push(Node::Bytes(bytes));
        Ok(())
    }

    fn push_global(&mut self, module: String, name: String) -> Result<(), ConvertError> {
        let kind = resolve_global(&module, &name)?;
        self.push(Node::Global { module, name, kind });
        Ok(())
    }

    fn pairs(&self, items: Vec<Id>) -> Result<Vec<(Id, Id)>, ConvertError> {
        if !items.len().is_multiple_of(2) {
            return Err(self.err("odd number of items for a dict"));
        }
        Ok(items.chunks_exact(2).map(|c| (c[0], c[1])).collect())
    }

    fn extend_top(&mut self, items: Vec<Id>) -> Result<(), ConvertError> {
        let top = self.top()?;
        match &mut self.nodes[top] {
            Node::List(v) => {
                v.extend(items);
                Ok(())
            }
            other => {
                let k = node_kind(other);
                Err(self.err(format!("APPEND to a {k}")))
            }
        }
    }

    fn set_items(&mut self, pairs: Vec<(Id, Id)>) -> Result<(), ConvertError> {
        let top = self.top()?;
        match &mut self.nodes[top] {
            Node::Dict(d) => {
                d.extend(pairs);
                Ok(())
            }
            other => {
                let k = node_kind(other);
                Err(self.err(format!("SETITEM on a {k}")))
            }
        }
    }

    fn global_kind(&self, id: Id) -> Option<&Global> {
        match &self.nodes[id] {
            Node::Global { kind, .. } => Some(kind),
            _ => None,
        }
    }

    fn new_object(&mut self, cls: Id) -> Result<Node, ConvertError> {
        match self.global_kind(cls) {
            Some(Global::ScriptClass(name)) => Ok(Node::Object {
                class: name.clone(),
                state: None,
            }),
            Some(Global::OrderedDict | Global::Counter) => Ok(Node::Dict(Vec::new())),
            Some(Global::Set | Global::FrozenSet) => Ok(Node::Set(Vec::new())),
            _ => Err(self.err(format!("NEWOBJ of a non-class ({})", node_kind(&self.nodes[cls])))),
        }
    }

    fn build(&mut self, state: Id) -> Result<(), ConvertError> {
        let top = self.top()?;
        match &mut self.nodes[top] {
            Node::Object { state: s, .. } => {
                *s = Some(state);
                Ok(())
            }
            // An OrderedDict state dict carries `_metadata` as instance state, and tensors may
            // carry Python attributes; neither matters for the weights.
            Node::Dict(_) | Node::Tensor(_) => Ok(()),
            other => {
                let k = node_kind(other);
                Err(self.err(format!("BUILD on a {k}")))
            }
        }
    }

    fn persistent_load(&mut self, pid: Id) -> Result<Node, ConvertError> {
        let items = match &self.nodes[pid] {
            Node::Tuple(v) => v.clone(),
            other => {
                return Err(self.err(format!(
                    "persistent id must be a tuple, found {}",
                    node_kind(other)
                )));
            }
        };
        let tag_ok = items
            .first()
            .is_some_and(|&t| matches!(&self.nodes[t], Node::Str(s) if s == "storage"));
        // ('storage', storage_type, key, location, numel); a legacy 6th item (view metadata)
        // is accepted only when it is None.
        let legacy_ok = items.len() == 5 || (items.len() == 6 && matches!(self.nodes[items[5]], Node::None));
        if !tag_ok || !legacy_ok {
            return Err(self.err("persistent id is not ('storage', type, key, location, numel)"));
        }
        let dtype = match self.global_kind(items[1]) {
            Some(Global::StorageType(d)) => *d,
            _ => return Err(self.err("persistent id: item 1 is not a storage type")),
        };
        let key = match &self.nodes[items[2]] {
            Node::Str(s) => s.clone(),
            Node::Int(i) => i.to_string(),
            _ => return Err(self.err("persistent id: storage key is not a string")),
        };
        let location = match &self.nodes[items[3]] {
            Node::Str(s) => s.clone(),
            _ => return Err(self.err("persistent id: location is not a string")),
        };
        let numel = self.int_of(items[4], "storage numel")?;
        let numel = u64::try_from(numel).map_err(|_| self.err("negative storage numel"))?;
        Ok(Node::Storage(StorageRef {
            key,
            dtype,
            location,
            numel,
        }))
    }

    fn reduce(&mut self, func: Id, args: Id) -> Result<Id, ConvertError> {
        let kind = match &self.nodes[func] {
            Node::Global { kind, .. } => kind.clone(),
            other => return Err(self.err(format!("REDUCE on a non-callable {}", node_kind(other)))),
        };
        let args = match &self.nodes[args] {
            Node::Tuple(v) => v.clone(),
            other => {
                return Err(self.err(format!(
                    "REDUCE arguments must be a tuple, found {}",
                    node_kind(other)
                )));
            }
        };
        self.apply(kind, &args, 0)
    }

    fn apply(&mut self, kind: Global, args: &[Id], depth: usize) -> Result<Id, ConvertError> {
        let nargs = args.len();
        let bad_args = |s: &Self, what: &str| s.err(format!("{what}: unexpected arguments ({nargs} given)"));
        match kind {
            Global::OrderedDict | Global::Counter => {
                let mut pairs = Vec::new();
                match args {
                    [] => {}
                    [src] => match &self.nodes[*src] {
                        Node::Dict(d) => pairs = d.clone(),
                        Node::List(items) | Node::Tuple(items) => {
                            for &it in items {
                                match &self.nodes[it] {
                                    Node::Tuple(kv) | Node::List(kv) if kv.len() == 2 => {
                                        pairs.push((kv[0], kv[1]))
                                    }
                                    _ => return Err(self.err("OrderedDict items must be (key, value) pairs")),
                                }
                            }
                        }
                        _ => return Err(bad_args(self, "OrderedDict/Counter")),
                    },
                    _ => return Err(bad_args(self, "OrderedDict/Counter")),
                }
                Ok(self.alloc(Node::Dict(pairs)))
            }
            Global::RebuildTensorV2 | Global::RebuildTensor => {
                // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
                //                    backward_hooks[, metadata]); _rebuild_tensor(storage,
                //                    storage_offset, size, stride)
                let ok = if kind == Global::RebuildTensor {
                    nargs == 4
                } else {
                    (6..=7).contains(&nargs)
                };
                if !ok {
                    return Err(bad_args(self, "_rebuild_tensor"));
                }
                let storage = match &self.nodes[args[0]] {
                    Node::Storage(s) => s.clone(),
                    other => {
                        return Err(self.err(format!(
                            "_rebuild_tensor: expected a storage, found {}",
                            node_kind(other)
                        )));
                    }
                };
                let offset = self.int_of(args[1], "storage offset")?;
                let offset = u64::try_from(offset).map_err(|_| self.err("negative storage offset"))?;
                let shape = self.usize_list(args[2], "tensor size")?;
                let shape: Vec<usize> = shape
                    .into_iter()
                    .map(|d| usize::try_from(d).map_err(|_| self.err("tensor size too large")))
                    .collect::<Result<_, _>>()?;
                let stride = self.usize_list(args[3], "tensor stride")?;
                if stride.len() != shape.len() {
                    return Err(self.err(format!(
                        "tensor has {} sizes but {} strides",
                        shape.len(),
                        stride.len()
                    )));
                }
                let requires_grad = if nargs > 4 {
                    matches!(self.nodes[args[4]], Node::Bool(true))
                } else {
                    false
                };
                Ok(self.alloc(Node::Tensor(TensorRef {
                    storage,
                    offset,
                    shape,
                    stride,
                    requires_grad,
                })))
            }
            Global::RebuildParameter | Global::RebuildParameterWithState => {
                // _rebuild_parameter(data, requires_grad, backward_hooks[, state]): the data.
                let want = if kind == Global::RebuildParameter { 3 } else { 4 };
                if nargs != want || !matches!(self.nodes[args[0]], Node::Tensor(_)) {
                    return Err(bad_args(self, "_rebuild_parameter"));
                }
                Ok(args[0])
            }
            Global::RebuildFromTypeV2 => {
                // _rebuild_from_type_v2(func, new_type, args, state) = func(*args), retyped.
                if nargs != 4 || depth > 0 {
                    return Err(bad_args(self, "_rebuild_from_type_v2"));
                }
                if self.global_kind(args[1]) != Some(&Global::TensorClass) {
                    return Err(self.err("_rebuild_from_type_v2: new_type is not torch.Tensor/Parameter"));
                }
                let inner = self
                    .global_kind(args[0])
                    .cloned()
                    .ok_or_else(|| self.err("_rebuild_from_type_v2: func is not a global"))?;
                let inner_args = self.seq_of(args[2], "_rebuild_from_type_v2 args")?;
                self.apply(inner, &inner_args, depth + 1)
            }
            Global::Set | Global::FrozenSet => {
                let items = match args {
                    [] => Vec::new(),
                    [src] => self.seq_of(*src, "set()")?,
                    _ => return Err(bad_args(self, "set")),
                };
                Ok(self.alloc(Node::Set(items)))
            }
            Global::TorchSize => {
                let items = match args {
                    [] => Vec::new(),
                    [src] => self.seq_of(*src, "torch.Size")?,
                    _ => return Err(bad_args(self, "torch.Size")),
                };
                Ok(self.alloc(Node::Tuple(items)))
            }
            Global::RestoreTypeTag => match args {
                [value, _type_str] => Ok(*value),
                _ => Err(bad_args(self, "restore_type_tag")),
            },
            Global::BuildList => match args {
                [list] => {
                    self.seq_of(*list, "build_list")?;
                    Ok(*list)
                }
                _ => Err(bad_args(self, "build_list")),
            },
            Global::TensorClass | Global::StorageType(_) | Global::Dtype(_) | Global::ScriptClass(_) => {
                Err(self.err("this allow-listed global cannot be called"))
            }
        }
    }

    // ---- copying the result out of the arena ----

    fn copy_all(
        &self,
        ids: &[Id],
        depth: usize,
        budget: &mut usize,
    ) -> Result<Vec<PickleValue>, ConvertError> {
        ids.iter().map(|&i| self.copy_out(i, depth + 1, budget)).collect()
    }

    fn copy_out(&self, id: Id, depth: usize, budget: &mut usize) -> Result<PickleValue, ConvertError> {
        if depth > MAX_DEPTH {
            return Err(ConvertError::Pickle {
                offset: self.data.len(),
                message: format!("value nested deeper than {MAX_DEPTH} levels (or cyclic)"),
            });
        }
        let node = &self.nodes[id];
        let cost = 1 + match node {
            Node::Str(s) => s.len(),
            Node::Bytes(b) => b.len(),
            Node::Tensor(t) => t.shape.len() * 16,
            _ => 0,
        };
        *budget = budget.checked_sub(cost).ok_or_else(|| ConvertError::Pickle {
            offset: self.data.len(),
            message: "decoded value is unreasonably large (shared references expand too much)".into(),
        })?;
        Ok(match node {
            Node::None => PickleValue::None,
            Node::Bool(b) => PickleValue::Bool(*b),
            Node::Int(i) => PickleValue::Int(*i),
            Node::Float(f) => PickleValue::Float(*f),
            Node::Str(s) => PickleValue::Str(s.clone()),
            Node::Bytes(b) => PickleValue::Bytes(b.clone()),
            Node::Tuple(v) => PickleValue::Tuple(self.copy_all(v, depth, budget)?),
            Node::List(v) => PickleValue::List(self.copy_all(v, depth, budget)?),
            Node::Set(v) => PickleValue::Set(self.copy_all(v, depth, budget)?),
            Node::Dict(d) => {
                let mut out = Vec::with_capacity(d.len());
                for &(k, v) in d {
                    out.push((
                        self.copy_out(k, depth + 1, budget)?,
                        self.copy_out(v, depth + 1, budget)?,
                    ));
                }
                PickleValue::Dict(out)
            }
            Node::Global { module, name, .. } => PickleValue::Global {
                module: module.clone(),
                name: name.clone(),
            },
            Node::Storage(s) => PickleValue::Storage(s.clone()),
            Node::Tensor(t) => PickleValue::Tensor(t.clone()),
            Node::Object { class, state } => {
                let state = match state {
                    Some(s) => self.copy_out(*s, depth + 1, budget)?,
                    None => PickleValue::None,
                };
                PickleValue::Object {
                    class: class.clone(),
                    state: Box::new(state),
                }
            }
        })
    }
}

fn node_kind(n: &Node) -> &'static str {
    match n {
        Node::None => "None",
        Node::Bool(_) => "bool",
        Node::Int(_) => "int",
        Node::Float(_) => "float",
        Node::Str(_) => "str",
        Node::Bytes(_) => "bytes",
        Node::Tuple(_) => "tuple",
        Node::List(_) => "list",
        Node::Dict(_) => "dict",
        Node::Set(_) => "set",
        Node::Global { .. } => "global",
        Node::Storage(_) => "storage",
        Node::Tensor(_) => "tensor",
        Node::Object { .. } => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pickle_err(data: &[u8]) -> String {
        match unpickle(data) {
            Err(ConvertError::Pickle { message, .. }) => message,
            other => panic!("expected a pickle error, got {other:?}"),
        }
    }

    #[test]
    fn scalars_and_containers() {
        // {'a': [1, -2, 3.5, None, True], 'b': (b'xy', 'é')}, protocol 2 style.
        let mut p = vec![
            0x80, 2, b'}', b'q', 0, b'(', 0x8c, 1, b'a', b']', b'(', b'K', 1, b'J',
        ];
        p.extend_from_slice(&(-2i32).to_le_bytes());
        p.push(b'G');
        p.extend_from_slice(&3.5f64.to_be_bytes());
        p.extend_from_slice(&[
            b'N', 0x88, b'e', 0x8c, 1, b'b', b'C', 2, b'x', b'y', b'X', 2, 0, 0, 0, 0xc3, 0xa9,
        ]);
        p.extend_from_slice(&[0x86, b'u', b'.']);
        let v = unpickle(&p).unwrap();
        assert_eq!(
            v.get("a"),
            Some(&PickleValue::List(vec![
                PickleValue::Int(1),
                PickleValue::Int(-2),
                PickleValue::Float(3.5),
                PickleValue::None,
                PickleValue::Bool(true)
            ]))
        );
        assert_eq!(
            v.get("b"),
            Some(&PickleValue::Tuple(vec![
                PickleValue::Bytes(b"xy".to_vec()),
                PickleValue::Str("é".into())
            ]))
        );
    }

    #[test]
    fn memo_sees_later_mutation() {
        // d = {}; memo[0] = d; d['k'] = 1; result = (d, memo[0])
        let p = [
            0x80, 2, b'}', b'q', 0, 0x8c, 1, b'k', b'K', 1, b's', b'h', 0, 0x86, b'.',
        ];
        let v = unpickle(&p).unwrap();
        let d = PickleValue::Dict(vec![(PickleValue::Str("k".into()), PickleValue::Int(1))]);
        assert_eq!(v, PickleValue::Tuple(vec![d.clone(), d]));
    }

    #[test]
    fn long1_values() {
        for (bytes, want) in [
            (vec![], 0i64),
            (vec![0xff], -1),
            (vec![0x00, 0x80, 0x00], 32768),
            (vec![0x00, 0x80], -32768),
            (vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], i64::MAX),
            (vec![0, 0, 0, 0, 0, 0, 0, 0x80, 0xff], i64::MIN),
        ] {
            let mut p = vec![0x80, 2, 0x8a, bytes.len() as u8];
            p.extend_from_slice(&bytes);
            p.push(b'.');
            assert_eq!(unpickle(&p).unwrap(), PickleValue::Int(want), "{bytes:?}");
        }
        let p = [0x80, 2, 0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1, b'.'];
        assert!(pickle_err(&p).contains("64 bits"));
    }

    #[test]
    fn forbidden_globals() {
        for (m, n) in [
            ("os", "system"),
            ("builtins", "eval"),
            ("torch", "load"),
            ("collections", "deque"),
        ] {
            let mut p = vec![0x80, 2, b'c'];
            p.extend_from_slice(format!("{m}\n{n}\n").as_bytes());
            p.extend_from_slice(b")R.");
            match unpickle(&p) {
                Err(ConvertError::ForbiddenGlobal { module, name }) => {
                    assert_eq!((module.as_str(), name.as_str()), (m, n))
                }
                other => panic!("{other:?}"),
            }
        }
        // STACK_GLOBAL goes through the same allow-list.
        let p = [
            &[0x80, 4, 0x8c, 5][..],
            b"posix",
            &[0x8c, 6],
            b"system",
            &[0x93, b'.'],
        ]
        .concat();
        assert!(matches!(unpickle(&p), Err(ConvertError::ForbiddenGlobal { .. })));
    }

    #[test]
    fn malformed_inputs_are_errors() {
        assert!(pickle_err(&[0x80, 2, b'.']).contains("underflow"));
        assert!(pickle_err(&[0x80, 2, b'h', 7, b'.']).contains("memo"));
        assert!(pickle_err(&[0x80, 2, b'j', 0, 0, 1, 0, b'.']).contains("memo"));
        assert!(pickle_err(&[0x80, 2, b'X', 0xff, 0xff, 0xff, 0x7f, b'a']).contains("truncated"));
        assert!(
            pickle_err(&[0x80, 2, 0x8d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
                .contains("truncated")
        );
        assert!(pickle_err(&[0x80, 2, b'K']).contains("truncated"));
        assert!(pickle_err(&[0x80, 2, b'N']).contains("truncated"));
        assert!(pickle_err(&[0x80, 2, b't', b'.']).contains("MARK"));
        assert!(pickle_err(&[0x80, 2, b'(', b'a', b'.']).contains("underflow"));
        assert!(pickle_err(&[0x80, 2, b'K', 1, b'K', 2, b's', b'.']).contains("underflow"));
        assert!(pickle_err(&[0x80, 2, b'N', b'K', 1, b'K', 2, b's', b'.']).contains("SETITEM"));
        assert!(pickle_err(&[0x80, 2, b'K', 1, b')', b'R', b'.']).contains("non-callable"));
        assert!(pickle_err(&[0x80, 9, b'N', b'.']).contains("protocol"));
        assert!(pickle_err(&[0x80, 2, 0xff]).contains("opcode"));
        assert!(pickle_err(&[]).contains("truncated"));
        // A list containing itself cannot be copied out.
        assert!(pickle_err(&[0x80, 2, b']', b'q', 0, b'h', 0, b'a', b'.']).contains("deeper"));
    }

    #[test]
    fn sharing_bomb_is_refused() {
        // x0 = [[]]; x_{i+1} = (x_i, x_i) repeated 40 times: 2^40 nodes when expanded.
        let mut p = vec![0x80, 2, b']'];
        for _ in 0..40 {
            p.extend_from_slice(&[b'2', 0x86]);
        }
        p.push(b'.');
        assert!(pickle_err(&p).contains("large"));
    }

    #[test]
    fn tensor_rebuild() {
        // _rebuild_tensor_v2(('storage', torch.FloatStorage, '0', 'cpu', 6), 0, (2, 3), (3, 1), False, OrderedDict())
        let mut p = vec![0x80, 2];
        p.extend_from_slice(b"ctorch._utils\n_rebuild_tensor_v2\n(");
        p.extend_from_slice(
            b"(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x06tQ",
        );
        p.extend_from_slice(b"K\x00K\x02K\x03\x86K\x03K\x01\x86\x89ccollections\nOrderedDict\n)RtR.");
        let v = unpickle(&p).unwrap();
        let PickleValue::Tensor(t) = v else {
            panic!("{v:?}")
        };
        assert_eq!(t.shape, vec![2, 3]);
        assert_eq!(t.stride, vec![3, 1]);
        assert_eq!(t.storage.key, "0");
        assert_eq!(t.storage.dtype, RawDtype::F32);
        assert_eq!(t.storage.numel, 6);
    }
}
