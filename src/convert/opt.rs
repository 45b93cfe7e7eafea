//! `opt.txt` parsing with exactly the rules of the reference `utils/get_opt.py` (spec §7.6).
//!
//! The file holds one `key: value` line per option between a header and a footer line. Each
//! value is typed by the reference's rules, in this order:
//! * `True` / `False` → bool;
//! * after stripping leading `-`/`+` signs, matches `^[-+]?[0-9]+\.[0-9]+$` → float;
//! * after stripping leading signs, all digits → int;
//! * anything else stays a string, notably `None`, `2e-05` and `[150000, 250000]`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use super::ConvertError;

/// One typed `opt.txt` value.
#[derive(Debug, Clone, PartialEq)]
pub enum OptValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl fmt::Display for OptValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptValue::Bool(true) => f.write_str("True"),
            OptValue::Bool(false) => f.write_str("False"),
            OptValue::Int(i) => write!(f, "{i}"),
            OptValue::Float(x) => write!(f, "{x:?}"),
            OptValue::Str(s) => f.write_str(s),
        }
    }
}

const HEADER: &str = "------------ Options -------------";
const FOOTER: &str = "-------------- End ----------------";

/// Python's `str.isdigit` restricted to ASCII, plus non-empty. (Python also accepts other
/// Unicode digits, which no opt.txt contains.)
fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `^[-+]?[0-9]+\.[0-9]+$`, applied (as in the reference) after the signs were stripped, so
/// the optional sign can never match here.
fn is_float_literal(s: &str) -> bool {
    match s.split_once('.') {
        Some((a, b)) => is_digits(a) && is_digits(b),
        None => false,
    }
}

/// Types one raw value. `None` when the reference would crash on it (e.g. `--1.5`, whose
/// stripped form looks numeric but which `float()` rejects).
fn type_value(raw: &str) -> Option<OptValue> {
    if raw == "True" || raw == "False" {
        return Some(OptValue::Bool(raw == "True"));
    }
    // The reference strips surrounding whitespace, then every leading '-', then every '+'.
    let stripped = raw.trim().trim_start_matches('-').trim_start_matches('+');
    // float()/int() accept one optional sign and surrounding whitespace.
    let one_sign = raw.trim();
    let unsigned = one_sign.strip_prefix(['-', '+']).unwrap_or(one_sign);
    if is_float_literal(stripped) {
        return if unsigned == stripped {
            one_sign.parse().ok().map(OptValue::Float)
        } else {
            None
        };
    }
    if is_digits(stripped) {
        return if unsigned == stripped {
            one_sign.parse().ok().map(OptValue::Int)
        } else {
            None
        };
    }
    Some(OptValue::Str(raw.to_string()))
}

/// Parses the text of an `opt.txt`. `file` names it in errors.
///
/// Differences from the reference, all on inputs it would reject or never writes: Windows
/// line endings are accepted, blank lines are skipped, and integers beyond `i64` are errors.
pub fn parse_opt(text: &str, file: &str) -> Result<BTreeMap<String, OptValue>, ConvertError> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        // `lines()` drops "\n" (and "\r\n"), like the reference's `strip('\n')`.
        if line.trim().is_empty() || line.trim() == HEADER || line.trim() == FOOTER {
            continue;
        }
        // The reference does `key, value = line.split(': ')`: exactly one separator.
        let mut parts = line.split(": ");
        let (Some(key), Some(raw), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(ConvertError::Opt {
                file: file.into(),
                key: line.split(':').next().unwrap_or("").to_string(),
                message: format!("line '{line}' is not 'key: value'"),
            });
        };
        let value = type_value(raw).ok_or_else(|| ConvertError::Opt {
            file: file.into(),
            key: key.into(),
            message: format!("value '{raw}' looks numeric but is malformed"),
        })?;
        out.insert(key.to_string(), value);
    }
    Ok(out)
}

/// A parsed `opt.txt`, remembering its file name for error messages.
#[derive(Debug, Clone, PartialEq)]
pub struct Opt {
    /// The file it came from (as given).
    pub file: String,
    /// The typed options, by key.
    pub values: BTreeMap<String, OptValue>,
}

impl Opt {
    /// Parses `text`; `file` names it in errors.
    pub fn parse(text: &str, file: impl Into<String>) -> Result<Self, ConvertError> {
        let file = file.into();
        let values = parse_opt(text, &file)?;
        Ok(Self { file, values })
    }

    /// Reads and parses an `opt.txt` file.
    pub fn read(path: &Path) -> Result<Self, ConvertError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConvertError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, path.display().to_string())
    }

    /// The raw typed value, if present.
    pub fn get(&self, key: &str) -> Option<&OptValue> {
        self.values.get(key)
    }

    fn err(&self, key: &str, message: impl Into<String>) -> ConvertError {
        ConvertError::Opt {
            file: self.file.clone(),
            key: key.into(),
            message: message.into(),
        }
    }

    fn require(&self, key: &str) -> Result<&OptValue, ConvertError> {
        self.values.get(key).ok_or_else(|| self.err(key, "missing"))
    }

    /// An integer option.
    pub fn get_i64(&self, key: &str) -> Result<i64, ConvertError> {
        match self.require(key)? {
            OptValue::Int(i) => Ok(*i),
            other => Err(self.err(key, format!("expected an integer, found '{other}'"))),
        }
    }

    /// A non-negative integer option.
    pub fn get_usize(&self, key: &str) -> Result<usize, ConvertError> {
        let v = self.get_i64(key)?;
        usize::try_from(v).map_err(|_| self.err(key, format!("expected a non-negative integer, found {v}")))
    }

    /// A float option (an integer value is accepted, as Python would).
    pub fn get_f64(&self, key: &str) -> Result<f64, ConvertError> {
        match self.require(key)? {
            OptValue::Float(x) => Ok(*x),
            OptValue::Int(i) => Ok(*i as f64),
            other => Err(self.err(key, format!("expected a number, found '{other}'"))),
        }
    }

    /// A boolean option.
    pub fn get_bool(&self, key: &str) -> Result<bool, ConvertError> {
        match self.require(key)? {
            OptValue::Bool(b) => Ok(*b),
            other => Err(self.err(key, format!("expected True/False, found '{other}'"))),
        }
    }

    /// A string option (values the reader left as strings: names, `None`, lists, …).
    pub fn get_str(&self, key: &str) -> Result<&str, ConvertError> {
        match self.require(key)? {
            OptValue::Str(s) => Ok(s),
            other => Err(self.err(key, format!("expected a string, found '{other}'"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing_rules() {
        let cases = [
            ("True", OptValue::Bool(true)),
            ("False", OptValue::Bool(false)),
            ("0.0002", OptValue::Float(0.0002)),
            ("-0.5", OptValue::Float(-0.5)),
            ("+3.25", OptValue::Float(3.25)),
            ("64", OptValue::Int(64)),
            ("-3", OptValue::Int(-3)),
            ("0", OptValue::Int(0)),
            ("None", OptValue::Str("None".into())),
            ("2e-05", OptValue::Str("2e-05".into())),
            ("1.", OptValue::Str("1.".into())),
            (".5", OptValue::Str(".5".into())),
            ("[150000, 250000]", OptValue::Str("[150000, 250000]".into())),
            ("true", OptValue::Str("true".into())),
            ("", OptValue::Str("".into())),
            ("./checkpoints", OptValue::Str("./checkpoints".into())),
            ("l1_smooth", OptValue::Str("l1_smooth".into())),
        ];
        for (raw, want) in cases {
            assert_eq!(type_value(raw), Some(want), "{raw:?}");
        }
        // The reference would crash on these (stripped form numeric, float()/int() reject it).
        assert_eq!(type_value("--1.5"), None);
        assert_eq!(type_value("-+3"), None);
    }

    #[test]
    fn file_parsing_and_getters() {
        let text = "------------ Options -------------\nbatch_size: 64\nlr: 0.0002\nmilestones: [50000]\nvq_norm: None\nis_train: True\nname: x\n-------------- End ----------------\n";
        let opt = Opt::parse(text, "a/opt.txt").unwrap();
        assert_eq!(opt.values.len(), 6);
        assert_eq!(opt.get_usize("batch_size").unwrap(), 64);
        assert_eq!(opt.get_f64("lr").unwrap(), 0.0002);
        assert_eq!(opt.get_f64("batch_size").unwrap(), 64.0);
        assert_eq!(opt.get_str("milestones").unwrap(), "[50000]");
        assert_eq!(opt.get_str("vq_norm").unwrap(), "None");
        assert!(opt.get_bool("is_train").unwrap());
        let e = opt.get_usize("name").unwrap_err().to_string();
        assert!(e.contains("a/opt.txt") && e.contains("name"), "{e}");
        let e = opt.get_bool("missing").unwrap_err().to_string();
        assert!(e.contains("missing"), "{e}");
        assert!(Opt::parse("a: b: c\n", "f").is_err());
        assert!(Opt::parse("novalue\n", "f").is_err());
        // CRLF files parse like LF files.
        let crlf = Opt::parse("x: 1\r\ny: 2.5\r\n", "f").unwrap();
        assert_eq!(crlf.get_i64("x").unwrap(), 1);
        assert_eq!(crlf.get_f64("y").unwrap(), 2.5);
    }
}
