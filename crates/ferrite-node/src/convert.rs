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
    catch_panic(op, f).map_err(js_error)
}

/// Runs `f`, turning a panic inside it into an `Internal` error naming `op`.
fn catch_panic<T>(
    op: &'static str,
    f: impl FnOnce() -> ferrite_core::Result<T>,
) -> ferrite_core::Result<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let detail = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".into());
        Err(Error::Internal {
            op,
            detail: format!("{detail} (please report this bug)"),
        })
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    // `catch_panic` rather than `guard`: a test binary cannot link napi's `Error` (its drop calls
    // into Node); `guard` adds only `js_error`, whose `err.code` JS reads (test/public-api.test.ts).
    fn internal(op: &'static str, detail: &str) -> ferrite_core::Result<()> {
        Err(Error::Internal {
            op,
            detail: detail.into(),
        })
    }

    #[test]
    fn a_formatted_panic_becomes_an_internal_error_naming_the_op_and_the_message() {
        let caught = catch_panic::<()>("matmul", || panic!("index {} out of bounds", 7));
        assert_eq!(
            caught,
            internal("matmul", "index 7 out of bounds (please report this bug)")
        );
        let err = caught.unwrap_err();
        assert_eq!(err.code(), "Internal");
        assert_eq!(
            err.to_string(),
            "matmul: internal error: index 7 out of bounds (please report this bug)"
        );
    }

    #[test]
    fn a_literal_panic_becomes_an_internal_error_with_its_message() {
        let caught = catch_panic::<()>("conv2d", || panic!("a static message"));
        assert_eq!(
            caught,
            internal("conv2d", "a static message (please report this bug)")
        );
    }

    #[test]
    fn a_panic_with_a_payload_that_is_not_text_becomes_an_internal_error() {
        let caught = catch_panic::<()>("sum", || std::panic::panic_any(42_u32));
        assert_eq!(
            caught,
            internal("sum", "unknown panic (please report this bug)")
        );
    }

    #[test]
    fn results_and_core_errors_pass_through_unchanged() {
        assert_eq!(catch_panic("add", || Ok(3)), Ok(3));
        let refused = Err::<(), _>(Error::invalid("add", "bad alpha"));
        assert_eq!(catch_panic("add", || refused.clone()), refused);
    }
}
