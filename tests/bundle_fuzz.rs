//! Bounded mutation fuzzing of the bundle reader (header + tensor table + hash check): seeded
//! random byte flips, truncations, insertions and header-length edits of a real bundle. Every
//! input must give `Ok` or a typed error — never a panic. Runs at most 2 000 cases or 20 s.

mod common;

use std::time::{Duration, Instant};

use momask::bundle::{Bundle, read_header};
use momask::sample::rng::Rng;

fn mutate(base: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut v = base.to_vec();
    // Most mutations target the first bytes: the length prefix and the JSON header.
    let header_end = (8 + u64::from_le_bytes(base[..8].try_into().unwrap()) as usize).min(base.len());
    let pick = |rng: &mut Rng, len: usize| {
        if rng.uniform() < 0.8 {
            rng.below(header_end.max(1))
        } else {
            rng.below(len.max(1))
        }
    };
    for _ in 0..1 + rng.below(4) {
        if v.is_empty() {
            break;
        }
        let pick = |rng: &mut Rng, len: usize| pick(rng, len).min(len - 1);
        match rng.below(5) {
            0 => {
                let i = pick(rng, v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = pick(rng, v.len());
                v[i] = rng.below(256) as u8;
            }
            2 => v.truncate(rng.below(v.len() + 1)),
            3 => {
                let i = pick(rng, v.len());
                let byte = [b'{', b'}', b'"', b',', b':', b'0', b'-', b'['][rng.below(8)];
                v.insert(i, byte);
            }
            _ => {
                // A header length that lies.
                if v.len() >= 8 {
                    let n = match rng.below(3) {
                        0 => 0u64,
                        1 => u64::MAX - rng.below(16) as u64,
                        _ => rng.below(v.len() * 2) as u64,
                    };
                    v[..8].copy_from_slice(&n.to_le_bytes());
                }
            }
        }
    }
    v
}

#[test]
fn reader_never_panics_on_mutated_bundles() {
    let base = common::small_bundle();
    let mut rng = Rng::new(0xB0D1E);
    let started = Instant::now();
    let (mut cases, mut rejected) = (0, 0);
    while cases < 2000 && started.elapsed() < Duration::from_secs(20) {
        let input = mutate(base, &mut rng);
        let outcome =
            std::panic::catch_unwind(|| (read_header(&input).is_ok(), Bundle::from_bytes(&input).is_ok()));
        match outcome {
            Ok((_, ok)) => rejected += usize::from(!ok),
            Err(_) => panic!(
                "the bundle reader panicked on case {cases} ({} bytes)",
                input.len()
            ),
        }
        cases += 1;
    }
    eprintln!("{cases} mutated bundles, {rejected} rejected with typed errors, no panic");
    assert!(cases >= 100, "only {cases} cases ran");
    assert!(
        rejected > cases / 2,
        "most mutations must be rejected (content hash, header checks)"
    );
}
