//! Writes the per-family contact sheets to docs/synth/: `cargo test --release --test synth_preview -- --ignored`.

#![cfg(feature = "native")]

use momask::synth::preview::family_previews;

#[test]
#[ignore]
fn write_family_previews() {
    let only = std::env::var("SYNTH_FAMILY").ok();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/synth");
    let written = family_previews(&dir, 7, 3, 8, only.as_deref()).expect("previews");
    for p in written {
        println!("{}", p.display());
    }
}
