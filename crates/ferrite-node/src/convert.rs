//! Errors and argument conversions shared by every export.

use std::panic::{catch_unwind, AssertUnwindSafe};

use ferrite_core::layout::checked_numel;
use ferrite_core::{DType, Device, Error};

/// Errors carry the core's stable code (`ShapeMismatch`, ...) as the JS `err.code`.
pub type JsResult<T> = napi::Result<T, String>;

pub fn js_error(err: Error) -> napi::Error<String> {
    napi::Error::new(err.code().to_string(), err.to_string())
}

/// Runs a core call, turning its error, or a panic that slipped through, into a JS error.
pub fn guard<T>(op: &'static str, f: impl FnOnce() -> ferrite_core::Result<T>) -> JsResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result.map_err(js_error),
        Err(payload) => {
            let detail = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            Err(js_error(Error::Internal {
                op,
                detail: format!("{detail} (please report this bug)"),
            }))
        }
    }
}

/// A shape from JS: non-negative dims whose element count fits in 64 bits.
pub fn dims(op: &'static str, shape: &[i64]) -> ferrite_core::Result<Vec<usize>> {
    let dims = shape
        .iter()
        .map(|&d| {
            usize::try_from(d).map_err(|_| {
                Error::invalid(
                    op,
                    format!("shape dims must be non-negative integers, got {shape:?}"),
                )
            })
        })
        .collect::<ferrite_core::Result<Vec<usize>>>()?;
    checked_numel(op, &dims)?;
    Ok(dims)
}

/// A limit as JS reads it: `Infinity` for `unlimited`, the value otherwise.
pub fn limit_to_js(value: u64, unlimited: u64) -> f64 {
    if value == unlimited {
        f64::INFINITY
    } else {
        value as f64
    }
}

pub fn dtype(name: &str) -> ferrite_core::Result<DType> {
    DType::parse(name)
}

pub fn device(name: &str) -> ferrite_core::Result<Device> {
    Device::parse(name)
}
