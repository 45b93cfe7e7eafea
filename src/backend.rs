//! Choosing the compute device: burn-flex on the CPU (the fastest CPU backend burn offers that
//! also builds for wasm32), burn-wgpu for GPUs (Vulkan/Metal natively, WebGPU in browsers), and
//! burn-ndarray only for comparison benchmarks.

use std::fmt;
use std::str::FromStr;

#[cfg(not(target_family = "wasm"))]
use burn::tensor::Device;

use crate::Error;

/// A compute backend a user can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// burn-flex (CPU).
    Cpu,
    /// burn-wgpu (GPU through Vulkan, Metal or WebGPU).
    Wgpu,
    /// burn-ndarray (CPU; benchmarks only, needs the `ndarray` feature).
    Ndarray,
}

impl FromStr for Backend {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s.to_ascii_lowercase().as_str() {
            "cpu" | "flex" => Ok(Self::Cpu),
            "wgpu" | "gpu" | "webgpu" | "vulkan" => Ok(Self::Wgpu),
            "ndarray" => Ok(Self::Ndarray),
            other => Err(Error::invalid(
                "backend",
                format!("'{other}' is not one of cpu, wgpu, ndarray"),
            )),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Cpu => "cpu (burn-flex)",
            Self::Wgpu => "wgpu",
            Self::Ndarray => "ndarray",
        })
    }
}

impl Backend {
    /// Opens the device natively. GPU initialisation errors (no adapter, no driver) come back
    /// as [`Error::Backend`] instead of panicking later.
    #[cfg(not(target_family = "wasm"))]
    pub fn device(self) -> Result<Device, Error> {
        match self {
            Self::Cpu => Ok(Device::flex()),
            #[cfg(feature = "wgpu")]
            Self::Wgpu => Device::wgpu_options()
                .init()
                .map_err(|e| Error::Backend(format!("could not open a wgpu device: {e:?}"))),
            #[cfg(not(feature = "wgpu"))]
            Self::Wgpu => Err(Error::Unsupported(
                "this build has no wgpu support (feature 'wgpu')".into(),
            )),
            #[cfg(feature = "ndarray")]
            Self::Ndarray => Ok(Device::ndarray()),
            #[cfg(not(feature = "ndarray"))]
            Self::Ndarray => Err(Error::Unsupported(
                "this build has no ndarray support (feature 'ndarray')".into(),
            )),
        }
    }
}
