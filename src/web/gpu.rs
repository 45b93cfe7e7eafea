//! WebGPU in the browser: probing `navigator.gpu`, opening burn-wgpu's device once per wasm
//! instance, a small self-test against the CPU, and recording GPU errors instead of panicking.
//!
//! Errors raised by the browser's WebGPU implementation are not Rust errors: validation errors
//! arrive through the device's `uncapturederror` event (cubecl's default handler panics, which
//! in wasm would trap inside an event callback and leave every pending promise hanging), and a
//! lost device poisons cubecl's streams so that later read-backs fail. This module installs a
//! handler that records the error; generation checks [`take_errors`] afterwards and the caller
//! falls back to the CPU.

use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use burn::tensor::wgpu::WgpuSetup;
use burn::tensor::{Device, Tensor, TensorData};
use js_sys::{Function, Object, Promise, Reflect};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// What the browser says about its WebGPU adapter.
#[derive(Debug, Clone, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AdapterDesc {
    pub vendor: String,
    pub architecture: String,
    pub device: String,
    pub description: String,
    /// A software (fallback) adapter such as SwiftShader.
    pub is_fallback_adapter: bool,
}

impl AdapterDesc {
    /// A human-readable adapter name.
    pub fn name(&self) -> String {
        let parts: Vec<&str> = [
            self.vendor.as_str(),
            self.architecture.as_str(),
            self.device.as_str(),
            self.description.as_str(),
        ]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
        if parts.is_empty() {
            "unknown adapter".into()
        } else {
            parts.join(" ")
        }
    }
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn get_string(obj: &JsValue, key: &str) -> String {
    get(obj, key).as_string().unwrap_or_default()
}

fn js_message(e: &JsValue) -> String {
    if let Some(s) = e.as_string() {
        return s;
    }
    let m = get(e, "message");
    m.as_string().unwrap_or_else(|| format!("{e:?}"))
}

/// Asks the browser for a WebGPU adapter. `Err` holds the reason WebGPU cannot be used.
pub async fn probe() -> Result<AdapterDesc, String> {
    let global = js_sys::global();
    let navigator = get(&global, "navigator");
    if navigator.is_undefined() || navigator.is_null() {
        return Err("navigator is not available in this context".into());
    }
    let gpu = get(&navigator, "gpu");
    if gpu.is_undefined() || gpu.is_null() {
        return Err("navigator.gpu is missing (no WebGPU in this browser or context)".into());
    }
    let request: Function = get(&gpu, "requestAdapter")
        .dyn_into()
        .map_err(|_| "navigator.gpu.requestAdapter is not a function".to_string())?;
    let options = Object::new();
    let _ = Reflect::set(&options, &"powerPreference".into(), &"high-performance".into());
    let promise: Promise = request
        .call1(&gpu, &options)
        .map_err(|e| format!("navigator.gpu.requestAdapter() threw: {}", js_message(&e)))?
        .dyn_into()
        .map_err(|_| "navigator.gpu.requestAdapter() did not return a promise".to_string())?;
    let adapter = JsFuture::from(promise)
        .await
        .map_err(|e| format!("navigator.gpu.requestAdapter() failed: {}", js_message(&e)))?;
    if adapter.is_null() || adapter.is_undefined() {
        return Err("no WebGPU adapter (navigator.gpu.requestAdapter() returned null)".into());
    }
    let mut info = get(&adapter, "info");
    if info.is_undefined() {
        // Older browsers: `requestAdapterInfo()`.
        if let Ok(f) = get(&adapter, "requestAdapterInfo").dyn_into::<Function>()
            && let Ok(p) = f.call0(&adapter)
            && let Ok(p) = p.dyn_into::<Promise>()
        {
            info = JsFuture::from(p).await.unwrap_or(JsValue::UNDEFINED);
        }
    }
    let fallback = get(&info, "isFallbackAdapter")
        .as_bool()
        .or_else(|| get(&adapter, "isFallbackAdapter").as_bool());
    Ok(AdapterDesc {
        vendor: get_string(&info, "vendor"),
        architecture: get_string(&info, "architecture"),
        device: get_string(&info, "device"),
        description: get_string(&info, "description"),
        is_fallback_adapter: fallback.unwrap_or(false),
    })
}

struct GpuState {
    device: Device,
    setup: WgpuSetup,
}

thread_local! {
    /// burn-wgpu's runtime can be initialised once per wasm instance; later loads reuse it.
    static GPU: RefCell<Option<GpuState>> = const { RefCell::new(None) };
}

/// GPU errors reported through `uncapturederror` since the last [`take_errors`].
static ERRORS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Returns and clears the recorded GPU errors.
pub fn take_errors() -> Vec<String> {
    ERRORS
        .lock()
        .map(|mut e| std::mem::take(&mut *e))
        .unwrap_or_default()
}

/// Replaces cubecl's panicking `uncapturederror` handler with one that records the error.
fn install_error_handler(setup: &WgpuSetup) {
    setup.device.on_uncaptured_error(Arc::new(|error| {
        let message = error.to_string();
        web_sys::console::error_1(&format!("momask: WebGPU error: {message}").into());
        if let Ok(mut e) = ERRORS.lock()
            && e.len() < 16
        {
            e.push(message);
        }
    }));
}

/// Opens (or reuses) the burn-wgpu device.
pub async fn open_device() -> Result<Device, String> {
    if let Some(device) = GPU.with(|g| g.borrow().as_ref().map(|s| s.device.clone())) {
        return Ok(device);
    }
    let (device, setup) = Device::wgpu_options()
        .init_with_setup_async()
        .await
        .map_err(|e| format!("could not open a WebGPU device: {e:?}"))?;
    install_error_handler(&setup);
    GPU.with(|g| {
        *g.borrow_mut() = Some(GpuState {
            device: device.clone(),
            setup,
        })
    });
    Ok(device)
}

/// Re-installs the recording error handler (cubecl installs its own when it creates streams).
pub fn reinstall_error_handler() {
    GPU.with(|g| {
        if let Some(s) = g.borrow().as_ref() {
            install_error_handler(&s.setup);
        }
    });
}

/// The adapter name wgpu reports.
pub fn wgpu_adapter_name() -> Option<String> {
    GPU.with(|g| g.borrow().as_ref().map(|s| s.setup.adapter.get_info().name))
}

/// Destroys the GPU device (tests use this to simulate a lost device mid-generation).
pub fn destroy_device() -> bool {
    GPU.with(|g| {
        g.borrow()
            .as_ref()
            .map(|s| {
                s.setup.device.destroy();
                true
            })
            .unwrap_or(false)
    })
}

/// Whether the device was destroyed or lost: later loads must not use it.
pub fn forget_device() {
    GPU.with(|g| *g.borrow_mut() = None);
}

fn self_test_graph(device: &Device) -> Tensor<2> {
    let (m, k, n) = (5, 33, 17);
    let a: Vec<f32> = (0..m * k).map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0).collect();
    let b: Vec<f32> = (0..k * n).map(|i| ((i * 53 % 97) as f32 / 48.0) - 1.0).collect();
    let a = Tensor::<2>::from_data(TensorData::new(a, [m, k]), device);
    let b = Tensor::<2>::from_data(TensorData::new(b, [k, n]), device);
    let x = a.matmul(b) * 0.25;
    let y = burn::tensor::activation::softmax(x.clone(), 1) + burn::tensor::activation::gelu(x.clone());
    let z = Tensor::cat(vec![y, x.exp().log()], 0);
    z.clone().transpose().matmul(z)
}

/// Runs a small graph (matmul, softmax, GELU, exp/log, cat, transpose) on the GPU and the CPU and
/// compares the results: catches broken shader compilers before a model runs on them.
pub async fn self_test(device: &Device) -> Result<(), String> {
    let gpu = crate::nn::read_f32(self_test_graph(device))
        .await
        .map_err(|e| format!("read-back failed: {e}"))?;
    let cpu = crate::nn::read_f32(self_test_graph(&Device::flex()))
        .await
        .map_err(|e| e.to_string())?;
    if let Some(err) = take_errors().into_iter().next() {
        return Err(err);
    }
    if gpu.len() != cpu.len() {
        return Err(format!("result has {} values, expected {}", gpu.len(), cpu.len()));
    }
    for (i, (g, c)) in gpu.iter().zip(&cpu).enumerate() {
        if !g.is_finite() || (g - c).abs() > 1e-3 * (1.0 + c.abs()) {
            return Err(format!("value {i} is {g}, the CPU gives {c}"));
        }
    }
    Ok(())
}
