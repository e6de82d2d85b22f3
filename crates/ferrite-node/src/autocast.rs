//! Autocast's per-thread setting and whether a device has bf16 kernels (`ferrite_core::autocast`).

use ferrite_core::autocast::{self, DeviceType};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::{device, dtype, guard};

/// Turns autocast on with `dtype_name` (or off with none) for `device_type`; returns the previous
/// dtype name, or none where it was off.
#[napi]
pub fn set_autocast(
    device_type: String,
    dtype_name: Option<String>,
) -> Result<Option<String>, String> {
    guard("autocast", || {
        let kind = DeviceType::parse(&device_type)?;
        let wanted = dtype_name.as_deref().map(dtype).transpose()?;
        Ok(autocast::set(kind, wanted)?.map(|d| d.name().to_string()))
    })
}

/// The dtype autocast runs in on `device_type` (none where it is off).
#[napi]
pub fn autocast_dtype(device_type: String) -> Result<Option<String>, String> {
    guard("autocast", || {
        Ok(autocast::dtype(DeviceType::parse(&device_type)?).map(|d| d.name().to_string()))
    })
}

/// The CPU kernel of autocast's bf16 products: "amx", "avx512-bf16", or null (float32).
#[napi]
pub fn cpu_bf16_kernel() -> Result<Option<String>, String> {
    guard("autocast", || {
        Ok(autocast::cpu_bf16_kernel().map(str::to_string))
    })
}

/// Why autocast computes in float32 on `device_name` (no bf16 kernels, or none that pay), or null
/// where it takes bf16 kernels.
#[napi]
pub fn bf16_float32_reason(device_name: String) -> Result<Option<String>, String> {
    guard("autocast", || {
        Ok(autocast::float32_reason(device(&device_name)?).map(str::to_string))
    })
}

/// Whether autocast takes kernels for bf16 products on `device_name` (on the CPU: AVX512-BF16 that
/// outruns float32, or AMX tiles).
#[napi]
pub fn has_bf16_kernels(device_name: String) -> Result<bool, String> {
    guard("autocast", || {
        Ok(autocast::native_bf16(device(&device_name)?))
    })
}
