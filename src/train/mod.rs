//! Training MoMask in burn (spec §7): the RVQ-VAE, the masked and residual transformers and
//! the length estimator, on the HumanML3D layout (real data or the procedural corpus).
//! Native only, behind the `train` feature.

pub mod assemble;
pub mod cli;
pub mod common;
pub mod data;
pub mod evaluate;
pub mod evaluator;
pub mod export;
pub mod log;
pub mod plot;
pub mod run;
pub mod text;
pub mod vq;
