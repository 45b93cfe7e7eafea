//! The CLIP byte-level BPE tokenizer, exact against OpenAI CLIP's
//! `clip.tokenize(texts, context_length=77, truncate=True)`.
//!
//! Pipeline: [`ClipTokenizer::clean`] (ftfy subset, `html.unescape` twice, whitespace
//! collapse, lowercase) → pre-tokenisation with CLIP's regex → each piece's UTF-8 bytes
//! mapped to the GPT-2 byte-to-unicode alphabet → BPE merges applied in rank order, the last
//! symbol carrying `</w>` → `[SOT] + ids + [EOT]`, cut to 77 (EOT kept last) and 0-padded.
//! The vocabulary is built from the official `bpe_simple_vocab_16e6.txt.gz`, handed over as
//! bytes so that the same code runs in the browser.
//!
//! # Why our own implementation and not the `tokenizers` crate
//!
//! Hugging Face's `tokenizers` can express CLIP's BPE (`end_of_word_suffix = "</w>"`), but it
//! does not fit here: it loads a `tokenizer.json`, which we would have to derive from the
//! official merges file ourselves, and it has no ftfy or `html.unescape` step, so cleanup
//! would still be ours (Hugging Face's own fast CLIP tokenizer differs from OpenAI's on such
//! text for that reason). Its wasm build is behind the `unstable_wasm` feature (fancy-regex
//! instead of Oniguruma, default features off) and drags in a large dependency tree (serde
//! models for every tokenizer family, trainers, normalizers, ...), many times the size of this
//! module. Our implementation is a few hundred lines on top of `flate2` and
//! `unicode-normalization`, adds ~0.3 MB to a wasm build (code, Unicode tables, entity
//! table), and is checked id-for-id against the reference.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Read;

use super::clean::{self, in_ranges};
use super::unicode_tables::{LETTER, NUMBER};

/// Id of `<|startoftext|>`, put before the BPE ids.
pub const SOT_ID: u32 = 49406;
/// Id of `<|endoftext|>`, put after the BPE ids (and forced into the last slot on truncation).
pub const EOT_ID: u32 = 49407;
/// CLIP's context length: every tokenized text is exactly this long (0-padded).
pub const CONTEXT_LENGTH: usize = 77;

/// Number of merges CLIP reads from the file: `49152 - 256 - 2`.
const N_MERGES: usize = 49152 - 256 - 2;
/// 256 byte symbols, 256 byte symbols with `</w>`, the merges, SOT and EOT.
const VOCAB_SIZE: usize = 2 * 256 + N_MERGES + 2;
const SOT_TEXT: &str = "<|startoftext|>";
const EOT_TEXT: &str = "<|endoftext|>";
/// The contractions CLIP's pattern splits off after an apostrophe, in pattern order.
const CONTRACTIONS: [&str; 7] = ["s", "t", "re", "ve", "m", "ll", "d"];

/// Why a vocabulary could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// The bytes are not a readable gzip stream.
    #[error("BPE vocabulary: not a valid gzip stream: {0}")]
    Gzip(#[source] std::io::Error),
    /// The (decompressed) merges file is not UTF-8.
    #[error("BPE vocabulary: not valid UTF-8 after byte {valid_up_to}")]
    NotUtf8 {
        /// Length of the valid UTF-8 prefix.
        valid_up_to: usize,
    },
    /// A merge line is not two whitespace-separated symbols.
    #[error("BPE merges file, line {line}: expected two space-separated symbols, found {content:?}")]
    BadMergeLine {
        /// 1-based line number in the file (line 1 is the header).
        line: usize,
        /// The offending line (cut to 80 characters).
        content: String,
    },
    /// The file has fewer merge lines than CLIP uses.
    #[error("BPE merges file: expected {expected} merges after the header line, found {found}")]
    WrongMergeCount {
        /// Merges CLIP reads (48,894).
        expected: usize,
        /// Merge lines present.
        found: usize,
    },
}

/// CLIP's tokenizer. Immutable after construction, hence `Send + Sync` and cheap to share.
#[derive(Clone)]
pub struct ClipTokenizer {
    /// Vocabulary id of each byte's symbol (add 256 for the `</w>` form).
    byte_ids: [u32; 256],
    /// Packed pair of symbol ids (`first << 32 | second`) → (merge rank, id of the merged symbol).
    merges: HashMap<u64, (u32, u32), BuildHasherDefault<PairHasher>>,
    pre_tokenizer: PreTokenizer,
    vocab_size: usize,
}

/// Hasher for the packed `u64` pair keys: one multiply instead of SipHash, which dominated
/// BPE time. The keys are vocabulary ids, not attacker-chosen.
#[derive(Default)]
struct PairHasher(u64);

impl Hasher for PairHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        // Fold the high half of the product down so the low bits (the bucket index) depend on
        // both ids.
        let h = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = h ^ (h >> 32);
    }
}

/// What a character is to CLIP's pre-tokenisation pattern.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum CharClass {
    /// `\p{L}`: runs of letters form a piece.
    Letter,
    /// `\p{N}`: each digit is its own piece.
    Number,
    /// Anything else but whitespace: runs form a piece.
    Other,
    /// Whitespace (Unicode `White_Space`, Python `regex`'s `\s`) and U+0345: never in a piece.
    Skip,
}

/// CLIP pre-tokenises with the Python `regex` pattern
/// `<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`
/// under `re.IGNORECASE`. This is a hand-written scanner with the same leftmost-first
/// semantics, using the `regex` crate's Unicode 16 general-category tables
/// (`unicode_tables`). It is several times faster than the `regex` crate on this pattern,
/// keeps the regex engines out of the wasm binary, and reproduces a quirk of the Python
/// engine (see [`PreTokenizer::class`]); a unit test checks it against the `regex` crate.
#[derive(Clone, Copy, Debug, Default)]
struct PreTokenizer;

impl PreTokenizer {
    fn class(&self, c: char) -> CharClass {
        if c.is_ascii() {
            return match c {
                'a'..='z' | 'A'..='Z' => CharClass::Letter,
                '0'..='9' => CharClass::Number,
                '\t' | '\n' | '\u{B}' | '\u{C}' | '\r' | ' ' => CharClass::Skip,
                _ => CharClass::Other,
            };
        }
        if c.is_whitespace() {
            CharClass::Skip
        } else if in_ranges(LETTER, c) {
            CharClass::Letter
        } else if in_ranges(NUMBER, c) {
            CharClass::Number
        } else if c == '\u{345}' {
            // COMBINING GREEK YPOGEGRAMMENI is a mark, but its case fold is a letter (ι):
            // under IGNORECASE Python's `regex` keeps it out of `[^\s\p{L}\p{N}]` while
            // `[\p{L}]` does not match it either, so CLIP silently drops it.
            CharClass::Skip
        } else {
            CharClass::Other
        }
    }

    /// Calls `piece` for every piece of `text`, in order.
    fn for_each_piece<'t>(&self, text: &'t str, mut piece: impl FnMut(&'t str)) {
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            let len = if let Some(n) = special_prefix(rest) {
                n
            } else if let Some(n) = contraction_prefix(rest) {
                n
            } else {
                match self.class(c) {
                    CharClass::Skip => {
                        rest = &rest[c.len_utf8()..];
                        continue;
                    }
                    CharClass::Number => c.len_utf8(),
                    run @ (CharClass::Letter | CharClass::Other) => rest
                        .char_indices()
                        .find(|&(_, d)| self.class(d) != run)
                        .map_or(rest.len(), |(i, _)| i),
                }
            };
            piece(&rest[..len]);
            rest = &rest[len..];
        }
    }
}

/// Byte length of `literal` (ASCII, lower case) at the start of `text`, compared the way the
/// IGNORECASE pattern does: simple case folding, under which `s` also matches `ſ` (U+017F).
fn literal_prefix(text: &str, literal: &str) -> Option<usize> {
    let mut chars = text.char_indices();
    for expected in literal.chars() {
        let (_, c) = chars.next()?;
        if c.to_ascii_lowercase() != expected && !(expected == 's' && c == '\u{17F}') {
            return None;
        }
    }
    Some(chars.next().map_or(text.len(), |(i, _)| i))
}

/// Length of `<|startoftext|>` or `<|endoftext|>` at the start of `text`.
fn special_prefix(text: &str) -> Option<usize> {
    [SOT_TEXT, EOT_TEXT]
        .into_iter()
        .find_map(|special| literal_prefix(text, special))
}

/// Length of `'s`, `'t`, `'re`, `'ve`, `'m`, `'ll` or `'d` at the start of `text`.
fn contraction_prefix(text: &str) -> Option<usize> {
    let after = text.strip_prefix('\'')?;
    CONTRACTIONS
        .iter()
        .find_map(|suffix| literal_prefix(after, suffix))
        .map(|n| 1 + n)
}

impl fmt::Debug for ClipTokenizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClipTokenizer")
            .field("vocab_size", &self.vocab_size)
            .field("merges", &self.merges.len())
            .finish()
    }
}

/// The GPT-2 byte-to-unicode table as CLIP builds it: the bytes in vocabulary order (printable
/// ranges `!..~`, `¡..¬`, `®..ÿ` first, then the others) and the character each maps to
/// (itself if printable, otherwise U+0100 + n for the n-th non-printable byte). Position in the
/// returned array = vocabulary id.
fn byte_symbols() -> [(u8, char); 256] {
    let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    let mut table = [(0u8, '\0'); 256];
    let mut pos = 0;
    for b in (0..=255u8).filter(|&b| printable(b)) {
        table[pos] = (b, char::from(b));
        pos += 1;
    }
    for (n, b) in (0..=255u8).filter(|&b| !printable(b)).enumerate() {
        // 256 + n < 256 + 256, always a valid scalar value.
        table[pos] = (b, char::from_u32(256 + n as u32).unwrap_or('\u{FFFD}'));
        pos += 1;
    }
    table
}

fn pair_key(first: u32, second: u32) -> u64 {
    (u64::from(first) << 32) | u64::from(second)
}

impl ClipTokenizer {
    /// Builds the tokenizer from the official `bpe_simple_vocab_16e6.txt.gz` (its bytes).
    ///
    /// # Errors
    ///
    /// [`TokenizerError::Gzip`] or [`TokenizerError::NotUtf8`] for unreadable bytes, then
    /// whatever [`Self::from_bpe_text`] reports.
    pub fn from_bpe_gz(gz_bytes: &[u8]) -> Result<Self, TokenizerError> {
        let mut raw = Vec::with_capacity(gz_bytes.len() * 3);
        flate2::read::GzDecoder::new(gz_bytes)
            .read_to_end(&mut raw)
            .map_err(TokenizerError::Gzip)?;
        let text = std::str::from_utf8(&raw).map_err(|e| TokenizerError::NotUtf8 {
            valid_up_to: e.valid_up_to(),
        })?;
        Self::from_bpe_text(text)
    }

    /// Builds the tokenizer from the decompressed merges file: a header line, then one merge
    /// (`first second`) per line. Only the first 48,894 merges are used, as in CLIP; lines
    /// after them are ignored.
    ///
    /// # Errors
    ///
    /// [`TokenizerError::BadMergeLine`] for a merge line that is not two symbols,
    /// [`TokenizerError::WrongMergeCount`] when the file has fewer than 48,894 merges.
    pub fn from_bpe_text(text: &str) -> Result<Self, TokenizerError> {
        let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(N_MERGES);
        // A final newline ends the file; it does not start an (empty, malformed) line.
        let body = text.strip_suffix('\n').unwrap_or(text);
        for (index, line) in body.split('\n').skip(1).take(N_MERGES).enumerate() {
            // Python's `str.split()`: any whitespace run separates, ends are trimmed.
            let mut parts = line.split(clean::is_py_space).filter(|p| !p.is_empty());
            match (parts.next(), parts.next(), parts.next()) {
                (Some(a), Some(b), None) => pairs.push((a, b)),
                _ => {
                    return Err(TokenizerError::BadMergeLine {
                        line: index + 2,
                        content: line.chars().take(80).collect(),
                    });
                }
            }
        }
        if pairs.len() != N_MERGES {
            return Err(TokenizerError::WrongMergeCount {
                expected: N_MERGES,
                found: pairs.len(),
            });
        }

        let symbols = byte_symbols();
        let mut byte_ids = [0u32; 256];
        // CLIP's `encoder = dict(zip(vocab, range(len(vocab))))`: a later duplicate wins.
        let mut encoder: HashMap<String, u32> = HashMap::with_capacity(VOCAB_SIZE);
        for (id, &(byte, c)) in symbols.iter().enumerate() {
            byte_ids[usize::from(byte)] = id as u32;
            encoder.insert(c.to_string(), id as u32);
            encoder.insert(format!("{c}</w>"), (256 + id) as u32);
        }
        for (rank, (a, b)) in pairs.iter().enumerate() {
            encoder.insert(format!("{a}{b}"), (512 + rank) as u32);
        }
        encoder.insert(SOT_TEXT.to_owned(), SOT_ID);
        encoder.insert(EOT_TEXT.to_owned(), EOT_ID);

        let mut merges = HashMap::with_capacity_and_hasher(N_MERGES, BuildHasherDefault::default());
        let mut joined = String::new();
        for (rank, (a, b)) in pairs.iter().enumerate() {
            joined.clear();
            joined.push_str(a);
            joined.push_str(b);
            // A merge whose halves are not vocabulary symbols can never fire (BPE words only
            // ever hold vocabulary symbols), so it is simply not recorded.
            if let (Some(&ia), Some(&ib), Some(&merged)) =
                (encoder.get(*a), encoder.get(*b), encoder.get(&joined))
            {
                // A repeated pair takes its later rank, like CLIP's `dict(zip(merges, ...))`.
                merges.insert(pair_key(ia, ib), (rank as u32, merged));
            }
        }

        Ok(Self {
            byte_ids,
            merges,
            pre_tokenizer: PreTokenizer,
            vocab_size: VOCAB_SIZE,
        })
    }

    /// CLIP's text cleanup: the ftfy `fix_text` subset documented in the `clean` module,
    /// `html.unescape` twice, whitespace runs collapsed to one space, trimmed, lowercased.
    pub fn clean(text: &str) -> String {
        clean::clean(text)
    }

    /// BPE ids of `text` after cleanup, without the SOT/EOT markers and without truncation.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let cleaned = Self::clean(text);
        let mut ids = Vec::with_capacity(cleaned.len() / 3 + 1);
        let mut word = Vec::new();
        self.pre_tokenizer.for_each_piece(&cleaned, |piece| match piece {
            // CLIP pre-seeds its BPE cache with the two special strings.
            SOT_TEXT => ids.push(SOT_ID),
            EOT_TEXT => ids.push(EOT_ID),
            s => {
                self.bpe(s, &mut word);
                ids.extend_from_slice(&word);
            }
        });
        ids
    }

    /// Byte-level BPE of one pre-tokenised piece into `word` (cleared first).
    fn bpe(&self, piece: &str, word: &mut Vec<u32>) {
        word.clear();
        word.extend(piece.bytes().map(|b| self.byte_ids[usize::from(b)]));
        if let Some(last) = word.last_mut() {
            *last += 256; // the `</w>` form of the last symbol
        }
        let mut next = Vec::with_capacity(word.len());
        while word.len() > 1 {
            // The lowest-ranked adjacent pair that is a merge.
            let best = word
                .windows(2)
                .filter_map(|w| {
                    self.merges
                        .get(&pair_key(w[0], w[1]))
                        .map(|&(rank, merged)| (rank, w[0], w[1], merged))
                })
                .min_by_key(|m| m.0);
            let Some((_, first, second, merged)) = best else {
                break;
            };
            // Merge every occurrence, left to right, without overlaps.
            next.clear();
            let mut i = 0;
            while i < word.len() {
                if i + 1 < word.len() && word[i] == first && word[i + 1] == second {
                    next.push(merged);
                    i += 2;
                } else {
                    next.push(word[i]);
                    i += 1;
                }
            }
            std::mem::swap(word, &mut next);
        }
    }

    /// `clip.tokenize(text, context_length=77, truncate=True)[0]`: SOT, the BPE ids, EOT; cut
    /// to 77 with EOT in the last slot when too long; padded with 0.
    pub fn tokenize(&self, text: &str) -> [u32; CONTEXT_LENGTH] {
        let mut tokens = [0u32; CONTEXT_LENGTH];
        let seq = self.tokenize_unpadded(text);
        tokens[..seq.len()].copy_from_slice(&seq);
        tokens
    }

    /// Like [`Self::tokenize`] without the padding: `[SOT, ids..., EOT]`, at most 77 long,
    /// always ending with EOT.
    pub fn tokenize_unpadded(&self, text: &str) -> Vec<u32> {
        let ids = self.encode(text);
        // CLIP cuts `[SOT] + ids + [EOT]` to 77 and writes EOT into the last slot, which
        // amounts to keeping the first 75 ids.
        let kept = &ids[..ids.len().min(CONTEXT_LENGTH - 2)];
        let mut seq = Vec::with_capacity(kept.len() + 2);
        seq.push(SOT_ID);
        seq.extend_from_slice(kept);
        seq.push(EOT_ID);
        seq
    }

    /// Number of ids in the vocabulary (49,408).
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::io::Write;

    /// A merges file with the right shape but made-up merges: pairs of single-byte symbols,
    /// "a b" first so that "ab" is one token.
    fn synthetic_merges() -> String {
        let chars: Vec<char> = byte_symbols().iter().map(|&(_, c)| c).collect();
        let mut text = String::from("#version: synthetic\na b\n");
        let mut n = 1;
        'outer: for &x in &chars {
            for &y in &chars {
                if n == N_MERGES {
                    break 'outer;
                }
                if (x, y) != ('a', 'b') {
                    text.push_str(&format!("{x} {y}\n"));
                    n += 1;
                }
            }
        }
        text
    }

    #[test]
    fn byte_table_is_a_bijection() {
        let table = byte_symbols();
        let bytes: HashSet<u8> = table.iter().map(|&(b, _)| b).collect();
        let chars: HashSet<char> = table.iter().map(|&(_, c)| c).collect();
        assert_eq!(bytes.len(), 256);
        assert_eq!(chars.len(), 256);
        assert_eq!(table[0], (b'!', '!'));
        assert_eq!(table[64], (b'a', 'a')); // "a</w>" is 256 + 64 = 320 in CLIP
        assert_eq!(table[188], (0, '\u{100}'));
        assert_eq!(table[255], (0xAD, '\u{143}'));
        assert!(chars.iter().all(|&c| !c.is_whitespace()));
    }

    #[test]
    fn corrupt_gzip_is_an_error() {
        let err = ClipTokenizer::from_bpe_gz(b"definitely not gzip").unwrap_err();
        assert!(matches!(err, TokenizerError::Gzip(_)), "{err}");
        // A valid gzip header with a truncated body.
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(synthetic_merges().as_bytes()).unwrap();
        let gz = enc.finish().unwrap();
        let err = ClipTokenizer::from_bpe_gz(&gz[..gz.len() / 2]).unwrap_err();
        assert!(matches!(err, TokenizerError::Gzip(_)), "{err}");
        assert!(ClipTokenizer::from_bpe_gz(&gz).is_ok());
    }

    #[test]
    fn malformed_merge_line_names_the_line() {
        let text = synthetic_merges().replacen("a b\n", "a b c\n", 1);
        match ClipTokenizer::from_bpe_text(&text) {
            Err(TokenizerError::BadMergeLine { line, content }) => {
                assert_eq!(line, 2);
                assert_eq!(content, "a b c");
            }
            other => panic!("expected BadMergeLine, got {other:?}"),
        }
        let good = synthetic_merges();
        let mut lines: Vec<&str> = good.lines().collect();
        lines[1000] = "lonely"; // file line 1001
        let err = ClipTokenizer::from_bpe_text(&lines.join("\n")).unwrap_err();
        assert!(err.to_string().contains("line 1001"), "{err}");
    }

    #[test]
    fn short_file_is_an_error() {
        let err = ClipTokenizer::from_bpe_text("#version\na b\n").unwrap_err();
        assert!(
            matches!(err, TokenizerError::WrongMergeCount { found: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn bpe_and_truncation() {
        let tok = ClipTokenizer::from_bpe_text(&synthetic_merges()).unwrap();
        assert_eq!(tok.vocab_size(), 49408);
        let a = 256 + 64; // "a</w>"
        let ab = 512; // first merge: "a" + "b"
        // Only the non-final "a b" pair merges: "b</w>" is in no synthetic merge.
        assert_eq!(tok.encode("A"), vec![a]);
        assert_eq!(tok.encode("abab"), vec![ab, 64, 256 + 65]);

        let short = tok.tokenize("a a");
        assert_eq!(&short[..4], &[SOT_ID, a, a, EOT_ID]);
        assert!(short[4..].iter().all(|&t| t == 0));

        let long = "a ".repeat(100);
        let full = tok.tokenize(&long);
        assert_eq!(full[0], SOT_ID);
        assert!(full[1..76].iter().all(|&t| t == a));
        assert_eq!(full[76], EOT_ID);
        assert_eq!(tok.tokenize_unpadded(&long), full.to_vec());

        // Exactly 75 ids fit without truncation; 76 are cut.
        assert_eq!(tok.tokenize_unpadded(&"a ".repeat(75)).len(), 77);
        let cut = tok.tokenize_unpadded(&"a ".repeat(76));
        assert_eq!(cut.len(), 77);
        assert_eq!(cut[76], EOT_ID);
        assert_eq!(cut[75], a);

        assert_eq!(
            tok.tokenize_unpadded("<|startoftext|> x <|endoftext|>"),
            vec![SOT_ID, SOT_ID, 256 + 87, EOT_ID, EOT_ID]
        );
    }

    /// The scanner against the `regex` crate running CLIP's pattern (which agrees with
    /// Python's engine except on U+0345, see `PreTokenizer::class`).
    #[test]
    fn pre_tokenizer_matches_the_regex() {
        let re = regex::Regex::new(
            r"(?i)<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+",
        )
        .unwrap();
        let pre = PreTokenizer;
        let pieces = |text: &str| {
            let mut v = Vec::new();
            pre.for_each_piece(text, |p| v.push(p.to_owned()));
            v
        };
        let texts = [
            "a person's arm, they're waving: it'S fun'ſ 'Ll 'x ''s !'s",
            "<|startoftext|>x<|ENDOFTEXT|><|endof <|startoftext <|ſtartoftext|>",
            "numbers 1234567890 3.14159 -42 +7 1e10 ½ ² ٣ Ⅻ",
            "emoji 😀🏃\u{200d}♂\u{fe0f}💃 1\u{fe0f}\u{20e3} 中文字符 한국어 व्यक्ति คนเดิน",
            "slash/backslash\\pipe|tilde~caret^ \t\n\u{a0}\u{2003}x\u{200b}y\u{1c}z",
            "",
            "'",
        ];
        for text in texts {
            let expected: Vec<String> = re.find_iter(text).map(|m| m.as_str().to_owned()).collect();
            assert_eq!(pieces(text), expected, "text {text:?}");
        }
        // Each character between letters and between symbols (that tells the four classes
        // apart): all of planes 0–2, a sample of the rest.
        let sample = (0..0x30000u32).chain((0x30000..=0x10FFFF).step_by(97));
        for c in sample.filter_map(char::from_u32).filter(|&c| c != '\u{345}') {
            let text = format!("a{c}b+{c}-");
            let expected: Vec<&str> = re.find_iter(&text).map(|m| m.as_str()).collect();
            let mut got = Vec::new();
            pre.for_each_piece(&text, |p| got.push(p));
            assert_eq!(got, expected, "U+{:04X}", u32::from(c));
        }
        assert_eq!(pieces("a\u{345}b"), ["a", "b"]);
    }

    /// The embedded tables are the `regex` crate's (`regex-syntax`), so that the scanner and
    /// the regex agree; regenerate them when `regex-syntax` moves to a new Unicode version.
    #[test]
    fn unicode_tables_match_regex_syntax() {
        use super::super::unicode_tables::DECIMAL_NUMBER;
        use regex_syntax::hir::{Class, HirKind};
        for (pattern, table) in [
            (r"\p{L}", LETTER),
            (r"\p{N}", NUMBER),
            (r"\p{Nd}", DECIMAL_NUMBER),
        ] {
            let hir = regex_syntax::Parser::new().parse(pattern).unwrap();
            let HirKind::Class(Class::Unicode(class)) = hir.kind() else {
                panic!("{pattern} is not a Unicode class");
            };
            let ranges: Vec<(char, char)> = class.ranges().iter().map(|r| (r.start(), r.end())).collect();
            assert_eq!(ranges, table, "{pattern}");
        }
    }

    #[test]
    fn is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<ClipTokenizer>();
    }
}
