//! Everything about drawing tokens: the seeded RNG, the masking schedule and the per-position
//! samplers. All of it runs on the host from read-back logits, so every backend samples alike.

pub mod rng;
pub mod sampler;
pub mod schedule;
