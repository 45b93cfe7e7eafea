//! # momask
//!
//! MoMask text-to-motion (Guo et al., CVPR 2024) in Rust on burn: the RVQ-VAE, the masked and
//! residual transformers, the length estimator and the CLIP text tower, exact against the
//! official PyTorch implementation, running natively (burn-flex CPU, burn-wgpu) and in the
//! browser (WebGPU or CPU through WebAssembly).
//!
//! Data flow: text → [`text`] (tokenizer + text encoder) → [`nn`] transformers driven by
//! [`sample`] → token ids → VQ decoder → 263-d features → [`motion`] → joints → BVH / JSON / NPY.

pub mod io;
pub mod motion;
pub mod text;

#[cfg(feature = "native")]
pub mod convert;
#[cfg(feature = "native")]
pub mod synth;
