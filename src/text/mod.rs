//! Text front end: CLIP's tokenizer (cleanup + byte-level BPE), exact against OpenAI CLIP's
//! `clip.tokenize`, built from the official merges file handed over as bytes (no file
//! system access, so it runs unchanged in wasm).

mod clean;
pub mod clip_tokenizer;
mod html_entities;
mod unicode_tables;
pub mod wordpiece;

pub use clip_tokenizer::{ClipTokenizer, TokenizerError};
