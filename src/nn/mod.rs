//! The networks, as burn modules whose field names follow the reference state-dict keys.

pub mod attention;
pub mod clip;
pub mod fused;
pub mod length_estimator;
pub mod mask_transformer;
pub mod minilm;
pub mod residual_transformer;
pub mod vq;
pub mod weights;

use burn::tensor::{Int, Tensor};

use crate::Error;

/// Reads a float tensor back to the host. Always async: WebGPU can only map buffers
/// asynchronously, and a blocking read-back would stall (or trap) the browser.
pub async fn read_f32<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, Error> {
    let data = t
        .into_data_async()
        .await
        .map_err(|e| Error::Backend(format!("{e:?}")))?;
    data.convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| Error::Backend(format!("{e:?}")))
}

/// Reads an integer tensor back to the host as i64 (backends may store i32).
pub async fn read_i64<const D: usize>(t: Tensor<D, Int>) -> Result<Vec<i64>, Error> {
    let data = t
        .into_data_async()
        .await
        .map_err(|e| Error::Backend(format!("{e:?}")))?;
    data.convert::<i64>()
        .try_into_vec::<i64>()
        .map_err(|e| Error::Backend(format!("{e:?}")))
}
