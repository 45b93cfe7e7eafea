//! The CLIP tokenizer against `clip.tokenize(text, context_length=77, truncate=True)` from
//! OpenAI CLIP: every case of `shared/fixtures/clip-tokenizer.json` must match exactly.
//!
//! The shared directory is `$MOMASK_SHARED` if set, else `../shared` next to this crate.

use std::path::PathBuf;

use momask::text::ClipTokenizer;
use momask::text::clip_tokenizer::{CONTEXT_LENGTH, EOT_ID, SOT_ID};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    text: String,
    cleaned: String,
    bpe_ids: Vec<u32>,
    n_tokens_with_markers: usize,
    truncated: bool,
    tokens: Vec<u32>,
}

fn shared_dir() -> PathBuf {
    std::env::var_os("MOMASK_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared")))
}

fn tokenizer() -> ClipTokenizer {
    let path = shared_dir().join("fixtures/clip/bpe_simple_vocab_16e6.txt.gz");
    let gz = std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    ClipTokenizer::from_bpe_gz(&gz).expect("official vocabulary loads")
}

fn fixture() -> Fixture {
    let path = shared_dir().join("fixtures/clip-tokenizer.json");
    let json = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&json).expect("fixture parses")
}

#[test]
fn golden_sentence() {
    let tok = tokenizer();
    assert_eq!(tok.vocab_size(), 49408);
    let expected = [49406, 320, 2533, 533, 2761, 525, 320, 37780, 269, 49407];
    let tokens = tok.tokenize("A person is running on a treadmill.");
    assert_eq!(&tokens[..expected.len()], &expected);
    assert!(tokens[expected.len()..].iter().all(|&t| t == 0));
    assert_eq!(
        tok.tokenize_unpadded("A person is running on a treadmill."),
        expected.to_vec()
    );
}

#[test]
fn all_reference_cases_match() {
    let tok = tokenizer();
    let fixture = fixture();
    assert_eq!(fixture.cases.len(), 61);
    let mut failures = Vec::new();
    for case in &fixture.cases {
        let mut problems = Vec::new();
        let cleaned = ClipTokenizer::clean(&case.text);
        if cleaned != case.cleaned {
            problems.push(format!("cleaned {cleaned:?}, expected {:?}", case.cleaned));
        }
        let ids = tok.encode(&case.text);
        if ids != case.bpe_ids {
            problems.push(format!("bpe_ids {ids:?}, expected {:?}", case.bpe_ids));
        }
        let tokens = tok.tokenize(&case.text);
        if tokens[..] != case.tokens[..] {
            problems.push(format!("tokens {tokens:?}, expected {:?}", case.tokens));
        }
        let unpadded = tok.tokenize_unpadded(&case.text);
        let n = case.n_tokens_with_markers.min(CONTEXT_LENGTH);
        if unpadded[..] != case.tokens[..n] || unpadded.last() != Some(&EOT_ID) {
            problems.push(format!("unpadded {unpadded:?}"));
        }
        if case.truncated != (case.bpe_ids.len() + 2 > CONTEXT_LENGTH) {
            problems.push("fixture's `truncated` flag disagrees with its ids".to_owned());
        }
        if !problems.is_empty() {
            failures.push(format!("case {:?}:\n  {}", case.text, problems.join("\n  ")));
        }
    }
    for failure in &failures {
        eprintln!("{failure}");
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ (see above)",
        failures.len(),
        fixture.cases.len()
    );
    eprintln!("{0}/{0} CLIP tokenizer cases match", fixture.cases.len());
}

#[test]
fn tokenize_starts_with_sot() {
    let tok = tokenizer();
    assert_eq!(tok.tokenize("")[..3], [SOT_ID, EOT_ID, 0]);
}
