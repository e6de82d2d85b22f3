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
