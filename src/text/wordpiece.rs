//! BERT's WordPiece tokenizer (uncased), exact against Hugging Face `tokenizers` running the
//! `tokenizer.json` of sentence-transformers' `all-MiniLM-L6-v2`.
//!
//! Pipeline, as `BertNormalizer` → `BertPreTokenizer` → `WordPiece` → `TemplateProcessing`:
//!
//! 0. **Special tokens** written in the text (`[CLS]`, `[MASK]`, ... : the file's
//!    `added_tokens`) are cut out of the raw text first and map to their ids.
//! 1. **Clean**: drop NUL, U+FFFD and control characters (general categories Cc, Cf, Co;
//!    tab, newline and carriage return excepted), turn whitespace (Unicode `White_Space`) into
//!    a space.
//! 2. **CJK**: put spaces around CJK ideographs, so that each is a word of its own.
//! 3. **Strip accents**: NFD, then drop non-spacing marks (Mn); on by default with lowercasing.
//! 4. **Lowercase**: per character (Σ always becomes σ: no final-sigma rule).
//! 5. **Split** on whitespace (dropped) and punctuation (ASCII punctuation and Unicode P*, each
//!    character kept as a word of its own).
//! 6. **WordPiece**: greedy longest-match-first over each word, continuation pieces carrying
//!    `##`; a word longer than 100 characters or with an unmatched part becomes `[UNK]`.
//! 7. `[CLS] pieces [SEP]`, the pieces cut so that the whole fits `max_len` (256, the
//!    `max_seq_length` sentence-transformers uses for this model; `tokenizer.json`'s own
//!    truncation and padding settings are ignored, as sentence-transformers overrides them).
//!
//! Unicode tables are `regex-syntax`'s (Unicode 16), checked against it by a unit test; the
//! reference uses older tables, so characters assigned in recent Unicode versions may be
//! treated differently. Unassigned code points (Cn) are kept, as the reference does.
//!
//! Pure Rust over `serde_json` and `unicode-normalization`: no file system access, no regex
//! engine, so it runs unchanged in wasm.

use std::collections::HashMap;

use serde::Deserialize;
use unicode_normalization::UnicodeNormalization;

use super::clean::in_ranges;

/// The sequence length sentence-transformers uses for all-MiniLM-L6-v2 (`max_seq_length`).
pub const DEFAULT_MAX_LEN: usize = 256;
/// BERT's special tokens, matched verbatim in the text by [`WordPieceTokenizer::from_vocab_txt`].
pub const SPECIAL_TOKENS: [&str; 5] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
/// Words longer than this (in characters) become `[UNK]` (`max_input_chars_per_word`).
pub const DEFAULT_MAX_INPUT_CHARS_PER_WORD: usize = 100;

/// Why a WordPiece tokenizer could not be built.
#[derive(Debug, thiserror::Error)]
pub enum WordPieceError {
    /// `tokenizer.json` is not valid JSON of the expected shape.
    #[error("tokenizer.json: {0}")]
    Json(#[from] serde_json::Error),
    /// A component of `tokenizer.json` is of a kind this tokenizer does not implement.
    #[error("tokenizer.json: unsupported {component} '{found}' (expected {expected})")]
    Unsupported {
        /// `model`, `normalizer` or `pre_tokenizer`.
        component: &'static str,
        /// The `type` found in the file.
        found: String,
        /// What is supported.
        expected: &'static str,
    },
    /// A special token (`[UNK]`, `[CLS]`, `[SEP]`, `[PAD]`) is not in the vocabulary.
    #[error("vocabulary has no '{0}' token")]
    MissingToken(String),
    /// Two vocabulary entries share a token or an id.
    #[error("vocabulary: duplicate {what} '{value}'")]
    Duplicate {
        /// `token` or `id`.
        what: &'static str,
        /// The repeated token or id.
        value: String,
    },
    /// Ids are not exactly `0..len` (a vocabulary must have no holes).
    #[error("vocabulary: id {id} is out of range for {len} entries")]
    IdOutOfRange {
        /// The offending id.
        id: u64,
        /// Number of entries.
        len: usize,
    },
    /// The vocabulary is empty.
    #[error("vocabulary is empty")]
    Empty,
    /// `max_len` cannot hold `[CLS]` and `[SEP]`.
    #[error("max_len {0} is too short: [CLS] and [SEP] need 2")]
    MaxLenTooShort(usize),
    /// The gzipped `tokenizer.json` (as bundles store it) does not decompress.
    #[error("tokenizer.json.gz: {0}")]
    Gzip(std::io::Error),
    /// The decompressed `tokenizer.json` is not UTF-8.
    #[error("tokenizer.json is not UTF-8 (valid up to byte {valid_up_to})")]
    NotUtf8 {
        /// Length of the valid UTF-8 prefix.
        valid_up_to: usize,
    },
}

/// Normalisation switches of `BertNormalizer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BertNormalization {
    /// Drop control characters, map whitespace to spaces.
    pub clean_text: bool,
    /// Put spaces around CJK ideographs.
    pub handle_chinese_chars: bool,
    /// NFD and drop non-spacing marks.
    pub strip_accents: bool,
    /// Lowercase every character.
    pub lowercase: bool,
}

impl BertNormalization {
    /// BERT uncased: everything on.
    pub const UNCASED: Self = Self {
        clean_text: true,
        handle_chinese_chars: true,
        strip_accents: true,
        lowercase: true,
    };
}

/// BERT's WordPiece tokenizer. Immutable after construction (`Send + Sync`, cheap to share).
#[derive(Debug, Clone)]
pub struct WordPieceTokenizer {
    vocab: HashMap<String, u32>,
    vocab_size: usize,
    normalization: BertNormalization,
    continuing_prefix: String,
    max_input_chars_per_word: usize,
    max_len: usize,
    unk_id: u32,
    cls_id: u32,
    sep_id: u32,
    pad_id: u32,
    /// Tokens matched verbatim in the raw text, longest first.
    specials: Vec<(String, u32)>,
}

#[derive(Deserialize)]
struct TokenizerJson {
    normalizer: Option<NormalizerJson>,
    pre_tokenizer: Option<TypeOnly>,
    model: ModelJson,
    #[serde(default)]
    added_tokens: Vec<AddedTokenJson>,
}

#[derive(Deserialize)]
struct AddedTokenJson {
    content: String,
}

#[derive(Deserialize)]
struct TypeOnly {
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct NormalizerJson {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default = "yes")]
    clean_text: bool,
    #[serde(default = "yes")]
    handle_chinese_chars: bool,
    #[serde(default)]
    strip_accents: Option<bool>,
    #[serde(default = "yes")]
    lowercase: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct ModelJson {
    #[serde(rename = "type")]
    kind: String,
    vocab: HashMap<String, u64>,
    #[serde(default = "default_unk")]
    unk_token: String,
    #[serde(default = "default_prefix")]
    continuing_subword_prefix: String,
    #[serde(default = "default_max_chars")]
    max_input_chars_per_word: usize,
}

fn default_unk() -> String {
    "[UNK]".to_string()
}

fn default_prefix() -> String {
    "##".to_string()
}

fn default_max_chars() -> usize {
    DEFAULT_MAX_INPUT_CHARS_PER_WORD
}

impl WordPieceTokenizer {
    /// Builds the tokenizer from a Hugging Face `tokenizer.json` with a `WordPiece` model, a
    /// `BertNormalizer` (or none) and a `BertPreTokenizer` (or none: BERT's splitting is used
    /// either way). `[CLS]`, `[SEP]` and `[PAD]` are looked up in the vocabulary.
    pub fn from_tokenizer_json(json: &str) -> Result<Self, WordPieceError> {
        let file: TokenizerJson = serde_json::from_str(json)?;
        if file.model.kind != "WordPiece" {
            return Err(WordPieceError::Unsupported {
                component: "model",
                found: file.model.kind,
                expected: "WordPiece",
            });
        }
        if let Some(pre) = &file.pre_tokenizer
            && pre.kind != "BertPreTokenizer"
        {
            return Err(WordPieceError::Unsupported {
                component: "pre_tokenizer",
                found: pre.kind.clone(),
                expected: "BertPreTokenizer",
            });
        }
        let normalization = match file.normalizer {
            None => BertNormalization {
                clean_text: false,
                handle_chinese_chars: false,
                strip_accents: false,
                lowercase: false,
            },
            Some(n) if n.kind == "BertNormalizer" => BertNormalization {
                clean_text: n.clean_text,
                handle_chinese_chars: n.handle_chinese_chars,
                // `null` follows `lowercase`, as in BERT.
                strip_accents: n.strip_accents.unwrap_or(n.lowercase),
                lowercase: n.lowercase,
            },
            Some(n) => {
                return Err(WordPieceError::Unsupported {
                    component: "normalizer",
                    found: n.kind,
                    expected: "BertNormalizer",
                });
            }
        };
        let len = file.model.vocab.len();
        let mut seen = vec![false; len];
        let mut vocab = HashMap::with_capacity(len);
        for (token, id) in file.model.vocab {
            let slot = usize::try_from(id)
                .ok()
                .filter(|&i| i < len)
                .ok_or(WordPieceError::IdOutOfRange { id, len })?;
            if std::mem::replace(&mut seen[slot], true) {
                return Err(WordPieceError::Duplicate {
                    what: "id",
                    value: id.to_string(),
                });
            }
            // `slot < len ≤ u32::MAX` in practice; checked so that huge inputs fail cleanly.
            let id = u32::try_from(slot).map_err(|_| WordPieceError::IdOutOfRange { id, len })?;
            vocab.insert(token, id);
        }
        let specials: Vec<String> = file.added_tokens.into_iter().map(|t| t.content).collect();
        Self::build(
            vocab,
            normalization,
            file.model.continuing_subword_prefix,
            file.model.max_input_chars_per_word,
            &file.model.unk_token,
            &specials,
        )
    }

    /// [`from_tokenizer_json`](Self::from_tokenizer_json) over gzipped bytes (the form model
    /// bundles store, see [`crate::bundle::MINILM_TOKENIZER_TENSOR`]).
    pub fn from_tokenizer_json_gz(gz_bytes: &[u8]) -> Result<Self, WordPieceError> {
        use std::io::Read;
        let mut raw = Vec::with_capacity(gz_bytes.len().saturating_mul(3));
        flate2::read::GzDecoder::new(gz_bytes)
            .read_to_end(&mut raw)
            .map_err(WordPieceError::Gzip)?;
        let text = std::str::from_utf8(&raw).map_err(|e| WordPieceError::NotUtf8 {
            valid_up_to: e.valid_up_to(),
        })?;
        Self::from_tokenizer_json(text)
    }

    /// Builds a BERT-uncased tokenizer from a `vocab.txt` (one token per line, id = line
    /// number from 0), with `##` continuations and the `[UNK]`/`[CLS]`/`[SEP]`/`[PAD]` tokens.
    pub fn from_vocab_txt(text: &str) -> Result<Self, WordPieceError> {
        let mut vocab = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let token = line.strip_suffix('\r').unwrap_or(line);
            let id = u32::try_from(i).map_err(|_| WordPieceError::IdOutOfRange { id: i as u64, len: i })?;
            if vocab.insert(token.to_string(), id).is_some() {
                return Err(WordPieceError::Duplicate {
                    what: "token",
                    value: token.to_string(),
                });
            }
        }
        Self::build(
            vocab,
            BertNormalization::UNCASED,
            default_prefix(),
            DEFAULT_MAX_INPUT_CHARS_PER_WORD,
            "[UNK]",
            &SPECIAL_TOKENS.map(String::from),
        )
    }

    fn build(
        vocab: HashMap<String, u32>,
        normalization: BertNormalization,
        continuing_prefix: String,
        max_input_chars_per_word: usize,
        unk: &str,
        specials: &[String],
    ) -> Result<Self, WordPieceError> {
        if vocab.is_empty() {
            return Err(WordPieceError::Empty);
        }
        let id = |token: &str| {
            vocab
                .get(token)
                .copied()
                .ok_or_else(|| WordPieceError::MissingToken(token.to_string()))
        };
        let (unk_id, cls_id, sep_id, pad_id) = (id(unk)?, id("[CLS]")?, id("[SEP]")?, id("[PAD]")?);
        let mut specials: Vec<(String, u32)> = specials
            .iter()
            .filter(|t| !t.is_empty())
            .filter_map(|t| vocab.get(t).map(|&i| (t.clone(), i)))
            .collect();
        specials.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        specials.dedup();
        Ok(Self {
            vocab_size: vocab.len(),
            vocab,
            normalization,
            continuing_prefix,
            max_input_chars_per_word,
            max_len: DEFAULT_MAX_LEN,
            unk_id,
            cls_id,
            sep_id,
            pad_id,
            specials,
        })
    }

    /// The same tokenizer truncating to `max_len` ids in all (`[CLS]` and `[SEP]` included).
    pub fn with_max_len(mut self, max_len: usize) -> Result<Self, WordPieceError> {
        if max_len < 2 {
            return Err(WordPieceError::MaxLenTooShort(max_len));
        }
        self.max_len = max_len;
        Ok(self)
    }

    /// Number of vocabulary entries (30,522 for BERT uncased).
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// Longest output of [`encode`](Self::encode).
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Id of `[PAD]` (0 for BERT): what a batch is padded with.
    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    /// Id of `[UNK]`.
    pub fn unk_id(&self) -> u32 {
        self.unk_id
    }

    /// The normalisation switches in use.
    pub fn normalization(&self) -> BertNormalization {
        self.normalization
    }

    /// `[CLS] pieces [SEP]`, the pieces cut to `max_len - 2`. Never fails: unknown text maps
    /// to `[UNK]`, and an empty text gives `[CLS] [SEP]`.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let budget = self.max_len - 2;
        let mut ids = Vec::with_capacity(16);
        ids.push(self.cls_id);
        let mut scratch = String::new();
        let mut rest = text;
        while !rest.is_empty() && ids.len() <= budget {
            let (plain, special) = self.next_special(rest);
            let normalized = self.normalize(&rest[..plain]);
            for word in split_words(&normalized) {
                if ids.len() > budget {
                    break;
                }
                self.word_pieces(word, &mut ids, &mut scratch);
            }
            match special {
                Some((len, id)) => {
                    ids.push(id);
                    rest = &rest[plain + len..];
                }
                None => rest = "",
            }
        }
        ids.truncate(budget + 1);
        ids.push(self.sep_id);
        ids
    }

    /// Byte offset of the first special token in `text` (or its length if none) and that
    /// token's byte length and id; at one position the longest token wins.
    fn next_special(&self, text: &str) -> (usize, Option<(usize, u32)>) {
        if self.specials.is_empty() {
            return (text.len(), None);
        }
        for (at, _) in text.char_indices() {
            let tail = &text[at..];
            if let Some((token, id)) = self.specials.iter().find(|(t, _)| tail.starts_with(t.as_str())) {
                return (at, Some((token.len(), *id)));
            }
        }
        (text.len(), None)
    }

    /// The text after `BertNormalizer`: what is then split into words.
    pub fn normalize(&self, text: &str) -> String {
        let n = self.normalization;
        let mut out = String::with_capacity(text.len() + 8);
        for c in text.chars() {
            if n.clean_text {
                if c == '\0' || c == '\u{FFFD}' || is_control(c) {
                    continue;
                }
                if is_whitespace(c) {
                    out.push(' ');
                    continue;
                }
            }
            if n.handle_chinese_chars && is_cjk(c) {
                out.push(' ');
                out.push(c);
                out.push(' ');
            } else {
                out.push(c);
            }
        }
        if n.strip_accents {
            out = out.nfd().filter(|&c| !is_nonspacing_mark(c)).collect();
        }
        if n.lowercase {
            // Per character, as the reference: no final-sigma context rule of `str::to_lowercase`.
            out = out.chars().flat_map(char::to_lowercase).collect();
        }
        out
    }

    /// Greedy longest-match-first WordPiece of one word, appended to `ids`.
    fn word_pieces(&self, word: &str, ids: &mut Vec<u32>, scratch: &mut String) {
        // Char boundaries: byte offsets of every char start, plus the end.
        let bounds: Vec<usize> = word
            .char_indices()
            .map(|(i, _)| i)
            .chain(std::iter::once(word.len()))
            .collect();
        let chars = bounds.len() - 1;
        if chars > self.max_input_chars_per_word {
            ids.push(self.unk_id);
            return;
        }
        let first = ids.len();
        let mut start = 0;
        while start < chars {
            let mut found = None;
            for end in (start + 1..=chars).rev() {
                let piece = &word[bounds[start]..bounds[end]];
                let hit = if start == 0 {
                    self.vocab.get(piece)
                } else {
                    scratch.clear();
                    scratch.push_str(&self.continuing_prefix);
                    scratch.push_str(piece);
                    self.vocab.get(scratch.as_str())
                };
                if let Some(&id) = hit {
                    found = Some((id, end));
                    break;
                }
            }
            match found {
                Some((id, end)) => {
                    ids.push(id);
                    start = end;
                }
                None => {
                    ids.truncate(first);
                    ids.push(self.unk_id);
                    return;
                }
            }
        }
    }
}

/// `BertPreTokenizer`: words split on whitespace (dropped) and punctuation (kept, one
/// character per word).
fn split_words(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        rest = rest.trim_start_matches(char::is_whitespace);
        let mut chars = rest.char_indices();
        let (_, c) = chars.next()?;
        let end = if is_punctuation(c) {
            c.len_utf8()
        } else {
            chars
                .find(|&(_, c)| c.is_whitespace() || is_punctuation(c))
                .map_or(rest.len(), |(i, _)| i)
        };
        let (word, tail) = rest.split_at(end);
        rest = tail;
        Some(word)
    })
}

/// Tab, newline, carriage return and Unicode `White_Space`.
fn is_whitespace(c: char) -> bool {
    c.is_whitespace()
}

/// Control characters the cleanup drops: Cc (but tab, newline, carriage return), Cf, Co.
fn is_control(c: char) -> bool {
    match c {
        '\t' | '\n' | '\r' => false,
        _ => c.is_control() || is_private_use(c) || in_ranges(FORMAT, c),
    }
}

/// General category Co.
fn is_private_use(c: char) -> bool {
    matches!(c as u32, 0xE000..=0xF8FF | 0xF0000..=0xFFFFD | 0x100000..=0x10FFFD)
}

/// ASCII punctuation (symbols such as `$`, `+`, `^` included) or Unicode P*.
fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() || (!c.is_ascii() && in_ranges(PUNCTUATION, c))
}

fn is_nonspacing_mark(c: char) -> bool {
    !c.is_ascii() && in_ranges(NONSPACING_MARK, c)
}

/// The reference's "CJK" blocks (its ranges verbatim: U+2B820..U+2B91F is not among them).
fn is_cjk(c: char) -> bool {
    matches!(
        c as u32,
        0x4E00..=0x9FFF
            | 0x3400..=0x4DBF
            | 0x20000..=0x2A6DF
            | 0x2A700..=0x2B73F
            | 0x2B740..=0x2B81F
            | 0x2B920..=0x2CEAF
            | 0xF900..=0xFAFF
            | 0x2F800..=0x2FA1F
    )
}

// Generated from `regex-syntax` 0.8 (Unicode 16): sorted, disjoint, inclusive ranges. The unit
// test `tables_match_regex_syntax` checks them.

/// `\p{P}`: Pc, Pd, Ps, Pe, Pi, Pf, Po.
#[rustfmt::skip]
static PUNCTUATION: &[(char, char)] = &[
    ('\u{21}', '\u{23}'), ('\u{25}', '\u{2a}'), ('\u{2c}', '\u{2f}'), ('\u{3a}', '\u{3b}'),
    ('\u{3f}', '\u{40}'), ('\u{5b}', '\u{5d}'), ('\u{5f}', '\u{5f}'), ('\u{7b}', '\u{7b}'),
    ('\u{7d}', '\u{7d}'), ('\u{a1}', '\u{a1}'), ('\u{a7}', '\u{a7}'), ('\u{ab}', '\u{ab}'),
    ('\u{b6}', '\u{b7}'), ('\u{bb}', '\u{bb}'), ('\u{bf}', '\u{bf}'), ('\u{37e}', '\u{37e}'),
    ('\u{387}', '\u{387}'), ('\u{55a}', '\u{55f}'), ('\u{589}', '\u{58a}'), ('\u{5be}', '\u{5be}'),
    ('\u{5c0}', '\u{5c0}'), ('\u{5c3}', '\u{5c3}'), ('\u{5c6}', '\u{5c6}'), ('\u{5f3}', '\u{5f4}'),
    ('\u{609}', '\u{60a}'), ('\u{60c}', '\u{60d}'), ('\u{61b}', '\u{61b}'), ('\u{61d}', '\u{61f}'),
    ('\u{66a}', '\u{66d}'), ('\u{6d4}', '\u{6d4}'), ('\u{700}', '\u{70d}'), ('\u{7f7}', '\u{7f9}'),
    ('\u{830}', '\u{83e}'), ('\u{85e}', '\u{85e}'), ('\u{964}', '\u{965}'), ('\u{970}', '\u{970}'),
    ('\u{9fd}', '\u{9fd}'), ('\u{a76}', '\u{a76}'), ('\u{af0}', '\u{af0}'), ('\u{c77}', '\u{c77}'),
    ('\u{c84}', '\u{c84}'), ('\u{df4}', '\u{df4}'), ('\u{e4f}', '\u{e4f}'), ('\u{e5a}', '\u{e5b}'),
    ('\u{f04}', '\u{f12}'), ('\u{f14}', '\u{f14}'), ('\u{f3a}', '\u{f3d}'), ('\u{f85}', '\u{f85}'),
    ('\u{fd0}', '\u{fd4}'), ('\u{fd9}', '\u{fda}'), ('\u{104a}', '\u{104f}'), ('\u{10fb}', '\u{10fb}'),
    ('\u{1360}', '\u{1368}'), ('\u{1400}', '\u{1400}'), ('\u{166e}', '\u{166e}'), ('\u{169b}', '\u{169c}'),
    ('\u{16eb}', '\u{16ed}'), ('\u{1735}', '\u{1736}'), ('\u{17d4}', '\u{17d6}'), ('\u{17d8}', '\u{17da}'),
    ('\u{1800}', '\u{180a}'), ('\u{1944}', '\u{1945}'), ('\u{1a1e}', '\u{1a1f}'), ('\u{1aa0}', '\u{1aa6}'),
    ('\u{1aa8}', '\u{1aad}'), ('\u{1b4e}', '\u{1b4f}'), ('\u{1b5a}', '\u{1b60}'), ('\u{1b7d}', '\u{1b7f}'),
    ('\u{1bfc}', '\u{1bff}'), ('\u{1c3b}', '\u{1c3f}'), ('\u{1c7e}', '\u{1c7f}'), ('\u{1cc0}', '\u{1cc7}'),
    ('\u{1cd3}', '\u{1cd3}'), ('\u{2010}', '\u{2027}'), ('\u{2030}', '\u{2043}'), ('\u{2045}', '\u{2051}'),
    ('\u{2053}', '\u{205e}'), ('\u{207d}', '\u{207e}'), ('\u{208d}', '\u{208e}'), ('\u{2308}', '\u{230b}'),
    ('\u{2329}', '\u{232a}'), ('\u{2768}', '\u{2775}'), ('\u{27c5}', '\u{27c6}'), ('\u{27e6}', '\u{27ef}'),
    ('\u{2983}', '\u{2998}'), ('\u{29d8}', '\u{29db}'), ('\u{29fc}', '\u{29fd}'), ('\u{2cf9}', '\u{2cfc}'),
    ('\u{2cfe}', '\u{2cff}'), ('\u{2d70}', '\u{2d70}'), ('\u{2e00}', '\u{2e2e}'), ('\u{2e30}', '\u{2e4f}'),
    ('\u{2e52}', '\u{2e5d}'), ('\u{3001}', '\u{3003}'), ('\u{3008}', '\u{3011}'), ('\u{3014}', '\u{301f}'),
    ('\u{3030}', '\u{3030}'), ('\u{303d}', '\u{303d}'), ('\u{30a0}', '\u{30a0}'), ('\u{30fb}', '\u{30fb}'),
    ('\u{a4fe}', '\u{a4ff}'), ('\u{a60d}', '\u{a60f}'), ('\u{a673}', '\u{a673}'), ('\u{a67e}', '\u{a67e}'),
    ('\u{a6f2}', '\u{a6f7}'), ('\u{a874}', '\u{a877}'), ('\u{a8ce}', '\u{a8cf}'), ('\u{a8f8}', '\u{a8fa}'),
    ('\u{a8fc}', '\u{a8fc}'), ('\u{a92e}', '\u{a92f}'), ('\u{a95f}', '\u{a95f}'), ('\u{a9c1}', '\u{a9cd}'),
    ('\u{a9de}', '\u{a9df}'), ('\u{aa5c}', '\u{aa5f}'), ('\u{aade}', '\u{aadf}'), ('\u{aaf0}', '\u{aaf1}'),
    ('\u{abeb}', '\u{abeb}'), ('\u{fd3e}', '\u{fd3f}'), ('\u{fe10}', '\u{fe19}'), ('\u{fe30}', '\u{fe52}'),
    ('\u{fe54}', '\u{fe61}'), ('\u{fe63}', '\u{fe63}'), ('\u{fe68}', '\u{fe68}'), ('\u{fe6a}', '\u{fe6b}'),
    ('\u{ff01}', '\u{ff03}'), ('\u{ff05}', '\u{ff0a}'), ('\u{ff0c}', '\u{ff0f}'), ('\u{ff1a}', '\u{ff1b}'),
    ('\u{ff1f}', '\u{ff20}'), ('\u{ff3b}', '\u{ff3d}'), ('\u{ff3f}', '\u{ff3f}'), ('\u{ff5b}', '\u{ff5b}'),
    ('\u{ff5d}', '\u{ff5d}'), ('\u{ff5f}', '\u{ff65}'), ('\u{10100}', '\u{10102}'),
    ('\u{1039f}', '\u{1039f}'), ('\u{103d0}', '\u{103d0}'), ('\u{1056f}', '\u{1056f}'),
    ('\u{10857}', '\u{10857}'), ('\u{1091f}', '\u{1091f}'), ('\u{1093f}', '\u{1093f}'),
    ('\u{10a50}', '\u{10a58}'), ('\u{10a7f}', '\u{10a7f}'), ('\u{10af0}', '\u{10af6}'),
    ('\u{10b39}', '\u{10b3f}'), ('\u{10b99}', '\u{10b9c}'), ('\u{10d6e}', '\u{10d6e}'),
    ('\u{10ead}', '\u{10ead}'), ('\u{10f55}', '\u{10f59}'), ('\u{10f86}', '\u{10f89}'),
    ('\u{11047}', '\u{1104d}'), ('\u{110bb}', '\u{110bc}'), ('\u{110be}', '\u{110c1}'),
    ('\u{11140}', '\u{11143}'), ('\u{11174}', '\u{11175}'), ('\u{111c5}', '\u{111c8}'),
    ('\u{111cd}', '\u{111cd}'), ('\u{111db}', '\u{111db}'), ('\u{111dd}', '\u{111df}'),
    ('\u{11238}', '\u{1123d}'), ('\u{112a9}', '\u{112a9}'), ('\u{113d4}', '\u{113d5}'),
    ('\u{113d7}', '\u{113d8}'), ('\u{1144b}', '\u{1144f}'), ('\u{1145a}', '\u{1145b}'),
    ('\u{1145d}', '\u{1145d}'), ('\u{114c6}', '\u{114c6}'), ('\u{115c1}', '\u{115d7}'),
    ('\u{11641}', '\u{11643}'), ('\u{11660}', '\u{1166c}'), ('\u{116b9}', '\u{116b9}'),
    ('\u{1173c}', '\u{1173e}'), ('\u{1183b}', '\u{1183b}'), ('\u{11944}', '\u{11946}'),
    ('\u{119e2}', '\u{119e2}'), ('\u{11a3f}', '\u{11a46}'), ('\u{11a9a}', '\u{11a9c}'),
    ('\u{11a9e}', '\u{11aa2}'), ('\u{11b00}', '\u{11b09}'), ('\u{11be1}', '\u{11be1}'),
    ('\u{11c41}', '\u{11c45}'), ('\u{11c70}', '\u{11c71}'), ('\u{11ef7}', '\u{11ef8}'),
    ('\u{11f43}', '\u{11f4f}'), ('\u{11fff}', '\u{11fff}'), ('\u{12470}', '\u{12474}'),
    ('\u{12ff1}', '\u{12ff2}'), ('\u{16a6e}', '\u{16a6f}'), ('\u{16af5}', '\u{16af5}'),
    ('\u{16b37}', '\u{16b3b}'), ('\u{16b44}', '\u{16b44}'), ('\u{16d6d}', '\u{16d6f}'),
    ('\u{16e97}', '\u{16e9a}'), ('\u{16fe2}', '\u{16fe2}'), ('\u{1bc9f}', '\u{1bc9f}'),
    ('\u{1da87}', '\u{1da8b}'), ('\u{1e5ff}', '\u{1e5ff}'), ('\u{1e95e}', '\u{1e95f}'),
];

/// `\p{Mn}`.
#[rustfmt::skip]
static NONSPACING_MARK: &[(char, char)] = &[
    ('\u{300}', '\u{36f}'), ('\u{483}', '\u{487}'), ('\u{591}', '\u{5bd}'), ('\u{5bf}', '\u{5bf}'),
    ('\u{5c1}', '\u{5c2}'), ('\u{5c4}', '\u{5c5}'), ('\u{5c7}', '\u{5c7}'), ('\u{610}', '\u{61a}'),
    ('\u{64b}', '\u{65f}'), ('\u{670}', '\u{670}'), ('\u{6d6}', '\u{6dc}'), ('\u{6df}', '\u{6e4}'),
    ('\u{6e7}', '\u{6e8}'), ('\u{6ea}', '\u{6ed}'), ('\u{711}', '\u{711}'), ('\u{730}', '\u{74a}'),
    ('\u{7a6}', '\u{7b0}'), ('\u{7eb}', '\u{7f3}'), ('\u{7fd}', '\u{7fd}'), ('\u{816}', '\u{819}'),
    ('\u{81b}', '\u{823}'), ('\u{825}', '\u{827}'), ('\u{829}', '\u{82d}'), ('\u{859}', '\u{85b}'),
    ('\u{897}', '\u{89f}'), ('\u{8ca}', '\u{8e1}'), ('\u{8e3}', '\u{902}'), ('\u{93a}', '\u{93a}'),
    ('\u{93c}', '\u{93c}'), ('\u{941}', '\u{948}'), ('\u{94d}', '\u{94d}'), ('\u{951}', '\u{957}'),
    ('\u{962}', '\u{963}'), ('\u{981}', '\u{981}'), ('\u{9bc}', '\u{9bc}'), ('\u{9c1}', '\u{9c4}'),
    ('\u{9cd}', '\u{9cd}'), ('\u{9e2}', '\u{9e3}'), ('\u{9fe}', '\u{9fe}'), ('\u{a01}', '\u{a02}'),
    ('\u{a3c}', '\u{a3c}'), ('\u{a41}', '\u{a42}'), ('\u{a47}', '\u{a48}'), ('\u{a4b}', '\u{a4d}'),
    ('\u{a51}', '\u{a51}'), ('\u{a70}', '\u{a71}'), ('\u{a75}', '\u{a75}'), ('\u{a81}', '\u{a82}'),
    ('\u{abc}', '\u{abc}'), ('\u{ac1}', '\u{ac5}'), ('\u{ac7}', '\u{ac8}'), ('\u{acd}', '\u{acd}'),
    ('\u{ae2}', '\u{ae3}'), ('\u{afa}', '\u{aff}'), ('\u{b01}', '\u{b01}'), ('\u{b3c}', '\u{b3c}'),
    ('\u{b3f}', '\u{b3f}'), ('\u{b41}', '\u{b44}'), ('\u{b4d}', '\u{b4d}'), ('\u{b55}', '\u{b56}'),
    ('\u{b62}', '\u{b63}'), ('\u{b82}', '\u{b82}'), ('\u{bc0}', '\u{bc0}'), ('\u{bcd}', '\u{bcd}'),
    ('\u{c00}', '\u{c00}'), ('\u{c04}', '\u{c04}'), ('\u{c3c}', '\u{c3c}'), ('\u{c3e}', '\u{c40}'),
    ('\u{c46}', '\u{c48}'), ('\u{c4a}', '\u{c4d}'), ('\u{c55}', '\u{c56}'), ('\u{c62}', '\u{c63}'),
    ('\u{c81}', '\u{c81}'), ('\u{cbc}', '\u{cbc}'), ('\u{cbf}', '\u{cbf}'), ('\u{cc6}', '\u{cc6}'),
    ('\u{ccc}', '\u{ccd}'), ('\u{ce2}', '\u{ce3}'), ('\u{d00}', '\u{d01}'), ('\u{d3b}', '\u{d3c}'),
    ('\u{d41}', '\u{d44}'), ('\u{d4d}', '\u{d4d}'), ('\u{d62}', '\u{d63}'), ('\u{d81}', '\u{d81}'),
    ('\u{dca}', '\u{dca}'), ('\u{dd2}', '\u{dd4}'), ('\u{dd6}', '\u{dd6}'), ('\u{e31}', '\u{e31}'),
    ('\u{e34}', '\u{e3a}'), ('\u{e47}', '\u{e4e}'), ('\u{eb1}', '\u{eb1}'), ('\u{eb4}', '\u{ebc}'),
    ('\u{ec8}', '\u{ece}'), ('\u{f18}', '\u{f19}'), ('\u{f35}', '\u{f35}'), ('\u{f37}', '\u{f37}'),
    ('\u{f39}', '\u{f39}'), ('\u{f71}', '\u{f7e}'), ('\u{f80}', '\u{f84}'), ('\u{f86}', '\u{f87}'),
    ('\u{f8d}', '\u{f97}'), ('\u{f99}', '\u{fbc}'), ('\u{fc6}', '\u{fc6}'), ('\u{102d}', '\u{1030}'),
    ('\u{1032}', '\u{1037}'), ('\u{1039}', '\u{103a}'), ('\u{103d}', '\u{103e}'), ('\u{1058}', '\u{1059}'),
    ('\u{105e}', '\u{1060}'), ('\u{1071}', '\u{1074}'), ('\u{1082}', '\u{1082}'), ('\u{1085}', '\u{1086}'),
    ('\u{108d}', '\u{108d}'), ('\u{109d}', '\u{109d}'), ('\u{135d}', '\u{135f}'), ('\u{1712}', '\u{1714}'),
    ('\u{1732}', '\u{1733}'), ('\u{1752}', '\u{1753}'), ('\u{1772}', '\u{1773}'), ('\u{17b4}', '\u{17b5}'),
    ('\u{17b7}', '\u{17bd}'), ('\u{17c6}', '\u{17c6}'), ('\u{17c9}', '\u{17d3}'), ('\u{17dd}', '\u{17dd}'),
    ('\u{180b}', '\u{180d}'), ('\u{180f}', '\u{180f}'), ('\u{1885}', '\u{1886}'), ('\u{18a9}', '\u{18a9}'),
    ('\u{1920}', '\u{1922}'), ('\u{1927}', '\u{1928}'), ('\u{1932}', '\u{1932}'), ('\u{1939}', '\u{193b}'),
    ('\u{1a17}', '\u{1a18}'), ('\u{1a1b}', '\u{1a1b}'), ('\u{1a56}', '\u{1a56}'), ('\u{1a58}', '\u{1a5e}'),
    ('\u{1a60}', '\u{1a60}'), ('\u{1a62}', '\u{1a62}'), ('\u{1a65}', '\u{1a6c}'), ('\u{1a73}', '\u{1a7c}'),
    ('\u{1a7f}', '\u{1a7f}'), ('\u{1ab0}', '\u{1abd}'), ('\u{1abf}', '\u{1ace}'), ('\u{1b00}', '\u{1b03}'),
    ('\u{1b34}', '\u{1b34}'), ('\u{1b36}', '\u{1b3a}'), ('\u{1b3c}', '\u{1b3c}'), ('\u{1b42}', '\u{1b42}'),
    ('\u{1b6b}', '\u{1b73}'), ('\u{1b80}', '\u{1b81}'), ('\u{1ba2}', '\u{1ba5}'), ('\u{1ba8}', '\u{1ba9}'),
    ('\u{1bab}', '\u{1bad}'), ('\u{1be6}', '\u{1be6}'), ('\u{1be8}', '\u{1be9}'), ('\u{1bed}', '\u{1bed}'),
    ('\u{1bef}', '\u{1bf1}'), ('\u{1c2c}', '\u{1c33}'), ('\u{1c36}', '\u{1c37}'), ('\u{1cd0}', '\u{1cd2}'),
    ('\u{1cd4}', '\u{1ce0}'), ('\u{1ce2}', '\u{1ce8}'), ('\u{1ced}', '\u{1ced}'), ('\u{1cf4}', '\u{1cf4}'),
    ('\u{1cf8}', '\u{1cf9}'), ('\u{1dc0}', '\u{1dff}'), ('\u{20d0}', '\u{20dc}'), ('\u{20e1}', '\u{20e1}'),
    ('\u{20e5}', '\u{20f0}'), ('\u{2cef}', '\u{2cf1}'), ('\u{2d7f}', '\u{2d7f}'), ('\u{2de0}', '\u{2dff}'),
    ('\u{302a}', '\u{302d}'), ('\u{3099}', '\u{309a}'), ('\u{a66f}', '\u{a66f}'), ('\u{a674}', '\u{a67d}'),
    ('\u{a69e}', '\u{a69f}'), ('\u{a6f0}', '\u{a6f1}'), ('\u{a802}', '\u{a802}'), ('\u{a806}', '\u{a806}'),
    ('\u{a80b}', '\u{a80b}'), ('\u{a825}', '\u{a826}'), ('\u{a82c}', '\u{a82c}'), ('\u{a8c4}', '\u{a8c5}'),
    ('\u{a8e0}', '\u{a8f1}'), ('\u{a8ff}', '\u{a8ff}'), ('\u{a926}', '\u{a92d}'), ('\u{a947}', '\u{a951}'),
    ('\u{a980}', '\u{a982}'), ('\u{a9b3}', '\u{a9b3}'), ('\u{a9b6}', '\u{a9b9}'), ('\u{a9bc}', '\u{a9bd}'),
    ('\u{a9e5}', '\u{a9e5}'), ('\u{aa29}', '\u{aa2e}'), ('\u{aa31}', '\u{aa32}'), ('\u{aa35}', '\u{aa36}'),
    ('\u{aa43}', '\u{aa43}'), ('\u{aa4c}', '\u{aa4c}'), ('\u{aa7c}', '\u{aa7c}'), ('\u{aab0}', '\u{aab0}'),
    ('\u{aab2}', '\u{aab4}'), ('\u{aab7}', '\u{aab8}'), ('\u{aabe}', '\u{aabf}'), ('\u{aac1}', '\u{aac1}'),
    ('\u{aaec}', '\u{aaed}'), ('\u{aaf6}', '\u{aaf6}'), ('\u{abe5}', '\u{abe5}'), ('\u{abe8}', '\u{abe8}'),
    ('\u{abed}', '\u{abed}'), ('\u{fb1e}', '\u{fb1e}'), ('\u{fe00}', '\u{fe0f}'), ('\u{fe20}', '\u{fe2f}'),
    ('\u{101fd}', '\u{101fd}'), ('\u{102e0}', '\u{102e0}'), ('\u{10376}', '\u{1037a}'),
    ('\u{10a01}', '\u{10a03}'), ('\u{10a05}', '\u{10a06}'), ('\u{10a0c}', '\u{10a0f}'),
    ('\u{10a38}', '\u{10a3a}'), ('\u{10a3f}', '\u{10a3f}'), ('\u{10ae5}', '\u{10ae6}'),
    ('\u{10d24}', '\u{10d27}'), ('\u{10d69}', '\u{10d6d}'), ('\u{10eab}', '\u{10eac}'),
    ('\u{10efc}', '\u{10eff}'), ('\u{10f46}', '\u{10f50}'), ('\u{10f82}', '\u{10f85}'),
    ('\u{11001}', '\u{11001}'), ('\u{11038}', '\u{11046}'), ('\u{11070}', '\u{11070}'),
    ('\u{11073}', '\u{11074}'), ('\u{1107f}', '\u{11081}'), ('\u{110b3}', '\u{110b6}'),
    ('\u{110b9}', '\u{110ba}'), ('\u{110c2}', '\u{110c2}'), ('\u{11100}', '\u{11102}'),
    ('\u{11127}', '\u{1112b}'), ('\u{1112d}', '\u{11134}'), ('\u{11173}', '\u{11173}'),
    ('\u{11180}', '\u{11181}'), ('\u{111b6}', '\u{111be}'), ('\u{111c9}', '\u{111cc}'),
    ('\u{111cf}', '\u{111cf}'), ('\u{1122f}', '\u{11231}'), ('\u{11234}', '\u{11234}'),
    ('\u{11236}', '\u{11237}'), ('\u{1123e}', '\u{1123e}'), ('\u{11241}', '\u{11241}'),
    ('\u{112df}', '\u{112df}'), ('\u{112e3}', '\u{112ea}'), ('\u{11300}', '\u{11301}'),
    ('\u{1133b}', '\u{1133c}'), ('\u{11340}', '\u{11340}'), ('\u{11366}', '\u{1136c}'),
    ('\u{11370}', '\u{11374}'), ('\u{113bb}', '\u{113c0}'), ('\u{113ce}', '\u{113ce}'),
    ('\u{113d0}', '\u{113d0}'), ('\u{113d2}', '\u{113d2}'), ('\u{113e1}', '\u{113e2}'),
    ('\u{11438}', '\u{1143f}'), ('\u{11442}', '\u{11444}'), ('\u{11446}', '\u{11446}'),
    ('\u{1145e}', '\u{1145e}'), ('\u{114b3}', '\u{114b8}'), ('\u{114ba}', '\u{114ba}'),
    ('\u{114bf}', '\u{114c0}'), ('\u{114c2}', '\u{114c3}'), ('\u{115b2}', '\u{115b5}'),
    ('\u{115bc}', '\u{115bd}'), ('\u{115bf}', '\u{115c0}'), ('\u{115dc}', '\u{115dd}'),
    ('\u{11633}', '\u{1163a}'), ('\u{1163d}', '\u{1163d}'), ('\u{1163f}', '\u{11640}'),
    ('\u{116ab}', '\u{116ab}'), ('\u{116ad}', '\u{116ad}'), ('\u{116b0}', '\u{116b5}'),
    ('\u{116b7}', '\u{116b7}'), ('\u{1171d}', '\u{1171d}'), ('\u{1171f}', '\u{1171f}'),
    ('\u{11722}', '\u{11725}'), ('\u{11727}', '\u{1172b}'), ('\u{1182f}', '\u{11837}'),
    ('\u{11839}', '\u{1183a}'), ('\u{1193b}', '\u{1193c}'), ('\u{1193e}', '\u{1193e}'),
    ('\u{11943}', '\u{11943}'), ('\u{119d4}', '\u{119d7}'), ('\u{119da}', '\u{119db}'),
    ('\u{119e0}', '\u{119e0}'), ('\u{11a01}', '\u{11a0a}'), ('\u{11a33}', '\u{11a38}'),
    ('\u{11a3b}', '\u{11a3e}'), ('\u{11a47}', '\u{11a47}'), ('\u{11a51}', '\u{11a56}'),
    ('\u{11a59}', '\u{11a5b}'), ('\u{11a8a}', '\u{11a96}'), ('\u{11a98}', '\u{11a99}'),
    ('\u{11c30}', '\u{11c36}'), ('\u{11c38}', '\u{11c3d}'), ('\u{11c3f}', '\u{11c3f}'),
    ('\u{11c92}', '\u{11ca7}'), ('\u{11caa}', '\u{11cb0}'), ('\u{11cb2}', '\u{11cb3}'),
    ('\u{11cb5}', '\u{11cb6}'), ('\u{11d31}', '\u{11d36}'), ('\u{11d3a}', '\u{11d3a}'),
    ('\u{11d3c}', '\u{11d3d}'), ('\u{11d3f}', '\u{11d45}'), ('\u{11d47}', '\u{11d47}'),
    ('\u{11d90}', '\u{11d91}'), ('\u{11d95}', '\u{11d95}'), ('\u{11d97}', '\u{11d97}'),
    ('\u{11ef3}', '\u{11ef4}'), ('\u{11f00}', '\u{11f01}'), ('\u{11f36}', '\u{11f3a}'),
    ('\u{11f40}', '\u{11f40}'), ('\u{11f42}', '\u{11f42}'), ('\u{11f5a}', '\u{11f5a}'),
    ('\u{13440}', '\u{13440}'), ('\u{13447}', '\u{13455}'), ('\u{1611e}', '\u{16129}'),
    ('\u{1612d}', '\u{1612f}'), ('\u{16af0}', '\u{16af4}'), ('\u{16b30}', '\u{16b36}'),
    ('\u{16f4f}', '\u{16f4f}'), ('\u{16f8f}', '\u{16f92}'), ('\u{16fe4}', '\u{16fe4}'),
    ('\u{1bc9d}', '\u{1bc9e}'), ('\u{1cf00}', '\u{1cf2d}'), ('\u{1cf30}', '\u{1cf46}'),
    ('\u{1d167}', '\u{1d169}'), ('\u{1d17b}', '\u{1d182}'), ('\u{1d185}', '\u{1d18b}'),
    ('\u{1d1aa}', '\u{1d1ad}'), ('\u{1d242}', '\u{1d244}'), ('\u{1da00}', '\u{1da36}'),
    ('\u{1da3b}', '\u{1da6c}'), ('\u{1da75}', '\u{1da75}'), ('\u{1da84}', '\u{1da84}'),
    ('\u{1da9b}', '\u{1da9f}'), ('\u{1daa1}', '\u{1daaf}'), ('\u{1e000}', '\u{1e006}'),
    ('\u{1e008}', '\u{1e018}'), ('\u{1e01b}', '\u{1e021}'), ('\u{1e023}', '\u{1e024}'),
    ('\u{1e026}', '\u{1e02a}'), ('\u{1e08f}', '\u{1e08f}'), ('\u{1e130}', '\u{1e136}'),
    ('\u{1e2ae}', '\u{1e2ae}'), ('\u{1e2ec}', '\u{1e2ef}'), ('\u{1e4ec}', '\u{1e4ef}'),
    ('\u{1e5ee}', '\u{1e5ef}'), ('\u{1e8d0}', '\u{1e8d6}'), ('\u{1e944}', '\u{1e94a}'),
    ('\u{e0100}', '\u{e01ef}'),
];

/// `\p{Cf}`.
#[rustfmt::skip]
static FORMAT: &[(char, char)] = &[
    ('\u{ad}', '\u{ad}'), ('\u{600}', '\u{605}'), ('\u{61c}', '\u{61c}'), ('\u{6dd}', '\u{6dd}'),
    ('\u{70f}', '\u{70f}'), ('\u{890}', '\u{891}'), ('\u{8e2}', '\u{8e2}'), ('\u{180e}', '\u{180e}'),
    ('\u{200b}', '\u{200f}'), ('\u{202a}', '\u{202e}'), ('\u{2060}', '\u{2064}'), ('\u{2066}', '\u{206f}'),
    ('\u{feff}', '\u{feff}'), ('\u{fff9}', '\u{fffb}'), ('\u{110bd}', '\u{110bd}'),
    ('\u{110cd}', '\u{110cd}'), ('\u{13430}', '\u{1343f}'), ('\u{1bca0}', '\u{1bca3}'),
    ('\u{1d173}', '\u{1d17a}'), ('\u{e0001}', '\u{e0001}'), ('\u{e0020}', '\u{e007f}'),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> WordPieceTokenizer {
        let vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\nperson\nwalk\n##s\n##ing\n.\n,\ncafe\n!\nun\n##aff\n##able\n一\nσ\n";
        WordPieceTokenizer::from_vocab_txt(vocab).expect("toy vocabulary")
    }

    #[test]
    fn gzipped_tokenizer_json_loads_and_bad_bytes_are_errors() {
        use std::io::Write;
        let json = r###"{"normalizer": {"type": "BertNormalizer", "lowercase": true},
            "pre_tokenizer": {"type": "BertPreTokenizer"},
            "model": {"type": "WordPiece", "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3,
            "walk": 4, "##s": 5}}}"###;
        let gz = |bytes: &[u8]| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(bytes).expect("gzip");
            e.finish().expect("gzip")
        };
        let t = WordPieceTokenizer::from_tokenizer_json_gz(&gz(json.as_bytes())).expect("loads");
        assert_eq!(t.encode("Walks"), vec![2, 4, 5, 3]);
        assert!(matches!(
            WordPieceTokenizer::from_tokenizer_json_gz(b"not gzip"),
            Err(WordPieceError::Gzip(_))
        ));
        assert!(matches!(
            WordPieceTokenizer::from_tokenizer_json_gz(&gz(&[0xff, 0xfe])),
            Err(WordPieceError::NotUtf8 { valid_up_to: 0 })
        ));
        assert!(matches!(
            WordPieceTokenizer::from_tokenizer_json_gz(&gz(b"{}")),
            Err(WordPieceError::Json(_))
        ));
    }

    #[test]
    fn greedy_longest_match_with_continuations() {
        let t = toy();
        assert_eq!(t.vocab_size(), 19);
        assert_eq!(t.encode("A person walks."), vec![2, 5, 6, 7, 8, 10, 3]);
        assert_eq!(t.encode("unaffable"), vec![2, 14, 15, 16, 3]);
        // An unmatched tail makes the whole word [UNK].
        assert_eq!(t.encode("walkx walking"), vec![2, 1, 7, 9, 3]);
        assert_eq!(t.encode(""), vec![2, 3]);
        assert_eq!(t.encode(" \t\n "), vec![2, 3]);
    }

    #[test]
    fn normalisation_matches_bert() {
        let t = toy();
        assert_eq!(
            t.normalize("Café\u{00A0}NAÏVE\u{200B}x\u{0}\u{E000}"),
            "cafe naivex"
        );
        assert_eq!(t.normalize("a一b"), "a 一 b");
        assert_eq!(t.normalize("ΟΣ"), "οσ");
        assert_eq!(t.encode("café!"), vec![2, 12, 13, 3]);
        assert_eq!(t.encode("Σ"), vec![2, 18, 3]);
    }

    #[test]
    fn punctuation_splits_and_long_words_are_unknown() {
        let t = toy();
        assert_eq!(t.encode("a,a!a"), vec![2, 5, 11, 5, 13, 5, 3]);
        assert_eq!(t.encode(&"a".repeat(101)), vec![2, 1, 3]);
        assert_eq!(t.encode("x$y"), vec![2, 1, 1, 1, 3]);
    }

    #[test]
    fn special_tokens_in_text_and_truncation() {
        let t = toy();
        assert_eq!(t.encode("a[MASK]a [cls]"), vec![2, 5, 4, 5, 1, 1, 1, 3]);
        let t = t.with_max_len(4).expect("max_len 4");
        assert_eq!(t.encode("a person walks"), vec![2, 5, 6, 3]);
        assert_eq!(t.encode("walks a"), vec![2, 7, 8, 3]);
        assert!(matches!(
            toy().with_max_len(1),
            Err(WordPieceError::MaxLenTooShort(1))
        ));
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        assert!(matches!(
            WordPieceTokenizer::from_vocab_txt("a\nb\n"),
            Err(WordPieceError::MissingToken(_))
        ));
        assert!(matches!(
            WordPieceTokenizer::from_vocab_txt("[UNK]\n[UNK]\n"),
            Err(WordPieceError::Duplicate { .. })
        ));
        assert!(matches!(
            WordPieceTokenizer::from_tokenizer_json("{"),
            Err(WordPieceError::Json(_))
        ));
        let bpe = r#"{"model": {"type": "BPE", "vocab": {}}}"#;
        assert!(matches!(
            WordPieceTokenizer::from_tokenizer_json(bpe),
            Err(WordPieceError::Unsupported {
                component: "model",
                ..
            })
        ));
        let holes = r#"{"model": {"type": "WordPiece", "vocab": {"[UNK]": 0, "[CLS]": 5}}}"#;
        assert!(matches!(
            WordPieceTokenizer::from_tokenizer_json(holes),
            Err(WordPieceError::IdOutOfRange { id: 5, len: 2 })
        ));
    }

    #[test]
    fn tokenizer_json_is_read() {
        let json = r###"{
            "added_tokens": [{"id": 3, "content": "[SEP]", "special": true}],
            "normalizer": {"type": "BertNormalizer", "clean_text": true,
                "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
            "pre_tokenizer": {"type": "BertPreTokenizer"},
            "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                "max_input_chars_per_word": 100,
                "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "hop": 4, "##s": 5}}
        }"###;
        let t = WordPieceTokenizer::from_tokenizer_json(json).expect("tokenizer.json");
        assert_eq!(t.normalization(), BertNormalization::UNCASED);
        assert_eq!(t.encode("HOPS[SEP]hop"), vec![2, 4, 5, 3, 4, 3]);
    }

    /// The generated tables against `regex-syntax` (a dev-dependency), class by class.
    #[test]
    fn tables_match_regex_syntax() {
        use regex_syntax::hir::{Class, HirKind};
        for (table, pattern) in [
            (PUNCTUATION, r"\p{P}"),
            (NONSPACING_MARK, r"\p{Mn}"),
            (FORMAT, r"\p{Cf}"),
        ] {
            let hir = regex_syntax::Parser::new().parse(pattern).expect("pattern");
            let HirKind::Class(Class::Unicode(class)) = hir.kind() else {
                panic!("{pattern} is not a Unicode class");
            };
            let expected: Vec<(char, char)> = class.ranges().iter().map(|r| (r.start(), r.end())).collect();
            assert_eq!(table, expected.as_slice(), "{pattern}");
        }
        let co = regex_syntax::Parser::new().parse(r"\p{Co}").expect("pattern");
        let HirKind::Class(Class::Unicode(co)) = co.kind() else {
            panic!("Co is not a Unicode class");
        };
        for r in co.ranges() {
            assert!(is_private_use(r.start()) && is_private_use(r.end()));
        }
        assert_eq!(co.ranges().len(), 3);
    }
}
