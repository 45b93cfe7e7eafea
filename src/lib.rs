//! # momask
//!
//! MoMask text-to-motion (Guo et al., CVPR 2024) in Rust on burn: the RVQ-VAE, the masked and
//! residual transformers, the length estimator and the CLIP text tower, exact against the
//! official PyTorch implementation, running natively (burn-flex CPU, burn-wgpu) and in the
//! browser (WebGPU or CPU through WebAssembly).
//!
//! Data flow: text → [`text`] tokenizer → [`nn::clip`] → [`generate`] (mask-predict with the
//! [`nn::mask_transformer`], then [`nn::residual_transformer`], draws from [`sample`]) → code ids
//! → [`nn::vq`] decoder → 263-d features → [`motion`] → joints → BVH / JSON / NPY.

pub mod backend;
#[cfg(feature = "native")]
pub mod bench;
pub mod bundle;
pub mod config;
pub mod edit;
pub mod error;
pub mod generate;
pub mod io;
pub mod long;
pub mod model;
pub mod motion;
pub mod nn;
pub mod quant;
pub mod sample;
pub mod seam;
pub mod text;

#[cfg(feature = "native")]
pub mod convert;
#[cfg(feature = "native")]
pub mod converter;
#[cfg(feature = "train")]
pub mod eval;
#[cfg(feature = "native")]
pub mod synth;
#[cfg(feature = "native")]
pub mod synth_cli;
#[cfg(feature = "train")]
pub mod train;

pub use config::ModelConfig;
pub use error::Error;
pub use generate::{GenerateOptions, Guidance, Length, Motion, Request, generate};
pub use model::MoMask;
#[cfg(feature = "web")]
pub mod web;
