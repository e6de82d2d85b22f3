//! `ft.cuda`: the CUDA libraries found and the GPUs present, as plain objects.

use ferrite_core::cuda;
use napi_derive::napi;

use napi::bindgen_prelude::*;

use crate::convert::guard;

#[napi(object)]
pub struct GpuReading {
    pub index: u32,
    pub name: String,
    pub uuid: Option<String>,
    pub memory_used: Option<f64>,
    pub memory_total: f64,
    pub utilization: Option<u32>,
    pub temperature: Option<u32>,
}

#[napi(object)]
pub struct CudaLibraryInfo {
    pub name: String,
    pub path: Option<String>,
    pub version: Option<String>,
    pub problem: Option<String>,
}

#[napi(object)]
pub struct CudaInfo {
    pub available: bool,
    pub unavailable_reason: Option<String>,
    pub driver_version: Option<String>,
    pub cuda_version: Option<String>,
    pub libraries: Vec<CudaLibraryInfo>,
    pub gpus: u32,
}

#[napi]
pub fn cuda_is_available() -> bool {
    cuda::is_available()
}

#[napi]
pub fn cuda_device_count() -> u32 {
    cuda::device_count() as u32
}

#[napi]
pub fn cuda_devices() -> Result<Vec<GpuReading>, String> {
    let gpus = guard("cuda.devices", cuda::devices)?;
    Ok(gpus
        .into_iter()
        .map(|g| GpuReading {
            index: g.index as u32,
            name: g.name,
            uuid: g.uuid,
            memory_used: g.memory_used.map(|b| b as f64),
            memory_total: g.memory_total as f64,
            utilization: g.utilization,
            temperature: g.temperature,
        })
        .collect())
}

#[napi]
pub fn cuda_freest_device() -> Option<u32> {
    cuda::freest_device().map(|i| i as u32)
}

#[napi]
pub fn cuda_info() -> CudaInfo {
    let info = cuda::info();
    CudaInfo {
        available: info.available,
        unavailable_reason: info.unavailable_reason,
        driver_version: info.driver_version,
        cuda_version: info.cuda_version,
        libraries: info
            .libraries
            .into_iter()
            .map(|l| CudaLibraryInfo {
                name: l.name.to_string(),
                path: l.path,
                version: l.version,
                problem: l.problem,
            })
            .collect(),
        gpus: info.gpus as u32,
    }
}

/// The caching allocator's numbers for one device, in bytes (`torch.cuda.memory_stats`).
#[napi(object)]
pub struct CudaMemoryStats {
    pub allocated: f64,
    pub reserved: f64,
    pub peak_allocated: f64,
    pub peak_reserved: f64,
    pub requests: f64,
    pub driver_allocations: f64,
}

#[napi]
pub fn cuda_memory_stats(index: u32) -> CudaMemoryStats {
    let s = cuda::memory_stats(index as usize);
    CudaMemoryStats {
        allocated: s.allocated as f64,
        reserved: s.reserved as f64,
        peak_allocated: s.peak_allocated as f64,
        peak_reserved: s.peak_reserved as f64,
        requests: s.requests as f64,
        driver_allocations: s.driver_allocations as f64,
    }
}

#[napi]
pub fn cuda_empty_cache() {
    cuda::empty_cache()
}

#[napi]
pub fn cuda_reset_peak_memory_stats(index: u32) {
    cuda::reset_peak_memory_stats(index as usize)
}

#[napi]
pub fn cuda_synchronize(index: u32) -> Result<(), String> {
    guard("cuda.synchronize", || cuda::synchronize(index as usize))
}

/// TF32 switches: `which` is `'cudnn'` (convolutions) or `'matmul'`.
#[napi]
pub fn cuda_allow_tf32(which: String) -> Result<bool, String> {
    match which.as_str() {
        "cudnn" => Ok(cuda::settings::allow_tf32_cudnn()),
        "matmul" => Ok(cuda::settings::allow_tf32_matmul()),
        _ => Err(tf32_switch_error(&which)),
    }
}

#[napi]
pub fn cuda_set_allow_tf32(which: String, allow: bool) -> Result<(), String> {
    match which.as_str() {
        "cudnn" => cuda::settings::set_allow_tf32_cudnn(allow),
        "matmul" => cuda::settings::set_allow_tf32_matmul(allow),
        _ => return Err(tf32_switch_error(&which)),
    }
    Ok(())
}

fn tf32_switch_error(which: &str) -> napi::Error<String> {
    napi::Error::new(
        "InvalidArgument".to_string(),
        format!("allowTf32: unknown switch '{which}'; expected 'cudnn' or 'matmul'"),
    )
}

/// `torch.backends.cudnn.benchmark`: whether convolution algorithms are timed per new shape.
#[napi]
pub fn cuda_cudnn_benchmark() -> bool {
    cuda::settings::cudnn_benchmark()
}

#[napi]
pub fn cuda_set_cudnn_benchmark(on: bool) {
    cuda::settings::set_cudnn_benchmark(on)
}
