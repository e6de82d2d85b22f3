//! cuDNN through cudarc's `sys` layer, shared by convolution, batch norm and pooling: every call
//! goes through [`call`], which turns a status other than success (and the panic cudarc raises
//! for a symbol the loaded library lacks) into a typed error naming the op, the function and
//! cuDNN's own words for the status; descriptors destroy themselves when dropped, so an error
//! between creating and using one leaks nothing; sizes become cuDNN's `int`s only after a check.
//!
//! Unverified on hardware: no GPU or cuDNN library was available while this was written. The
//! size checks and descriptor parameters are unit-tested; `bench/gpu/run.sh` runs the rest.

use std::ffi::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use cudarc::cudnn::sys::{self, cudnnStatus_t};

use crate::error::{Error, Result};

/// Runs one cuDNN function and checks its status. `f` is the call itself, inside an `unsafe`
/// block whose safety note is the caller's.
pub(crate) fn call(
    op: &'static str,
    function: &'static str,
    f: impl FnOnce() -> cudnnStatus_t,
) -> Result<()> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(cudnnStatus_t::CUDNN_STATUS_SUCCESS) => Ok(()),
        Ok(status) => Err(status_error(op, function, status)),
        Err(_) => Err(Error::DeviceUnavailable {
            op,
            detail: format!("the cuDNN library loaded has no {function} (an incompatible version)"),
        }),
    }
}

/// The error for a failed call: out of memory is its own kind, anything else names the status.
fn status_error(op: &'static str, function: &'static str, status: cudnnStatus_t) -> Error {
    let words = status_words(status);
    match status {
        cudnnStatus_t::CUDNN_STATUS_ALLOC_FAILED => Error::OutOfMemory {
            op,
            requested: 0,
            reason: format!("{function} could not allocate GPU memory ({words})"),
        },
        _ => Error::Internal {
            op,
            detail: format!("{function} failed: {words} ({status:?})"),
        },
    }
}

/// cuDNN's description of a status (its name where the library cannot be asked).
fn status_words(status: cudnnStatus_t) -> String {
    catch_unwind(|| crate::cuda::cudnn_status(status)).unwrap_or_else(|_| format!("{status:?}"))
}

/// `value` as one of cuDNN's `int` sizes; `what` names it in the error.
pub(crate) fn int(op: &'static str, what: &str, value: usize) -> Result<c_int> {
    c_int::try_from(value).map_err(|_| {
        Error::invalid(
            op,
            format!("{what} is {value}, over the {} cuDNN takes", c_int::MAX),
        )
    })
}

/// Dims of a contiguous NCHW tensor as cuDNN takes them: every dim, and every stride (so the
/// element count), must fit an `int`. A zero-size dim is rejected by cuDNN, so by the callers.
pub(crate) fn nchw(op: &'static str, dims: [usize; 4]) -> Result<[c_int; 4]> {
    let numel = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    int(
        op,
        "the element count of a tensor",
        numel.unwrap_or(usize::MAX),
    )?;
    let mut out = [0; 4];
    for (o, &d) in out.iter_mut().zip(&dims) {
        *o = int(op, "a tensor dim", d)?;
    }
    Ok(out)
}

/// The scaling factors cuDNN reads for float tensors: `out = alpha * result + beta * out`.
pub(crate) const ONE: f32 = 1.0;
pub(crate) const ZERO: f32 = 0.0;

/// A device address or scaling factor as the `void*` cuDNN takes.
pub(crate) fn ptr(address: u64) -> *mut c_void {
    address as usize as *mut c_void
}

pub(crate) fn scalar(value: &f32) -> *const c_void {
    value as *const f32 as *const c_void
}

/// A float32 NCHW tensor descriptor, destroyed on drop.
pub(crate) struct TensorDesc(sys::cudnnTensorDescriptor_t);

impl TensorDesc {
    pub(crate) fn nchw(op: &'static str, dims: [usize; 4]) -> Result<TensorDesc> {
        let [n, c, h, w] = nchw(op, dims)?;
        let mut raw = ptr::null_mut();
        // SAFETY: cuDNN writes a new descriptor into `raw`.
        call(op, "cudnnCreateTensorDescriptor", || unsafe {
            sys::cudnnCreateTensorDescriptor(&mut raw)
        })?;
        let desc = TensorDesc(raw);
        // SAFETY: `desc` was just created and is destroyed only by its drop.
        call(op, "cudnnSetTensor4dDescriptor", || unsafe {
            sys::cudnnSetTensor4dDescriptor(
                desc.0,
                sys::cudnnTensorFormat_t::CUDNN_TENSOR_NCHW,
                sys::cudnnDataType_t::CUDNN_DATA_FLOAT,
                n,
                c,
                h,
                w,
            )
        })?;
        Ok(desc)
    }

    /// The per-channel descriptor of batch norm's scale, bias and statistics for inputs `x`.
    pub(crate) fn batch_norm_channels(op: &'static str, x: &TensorDesc) -> Result<TensorDesc> {
        let mut raw = ptr::null_mut();
        // SAFETY: cuDNN writes a new descriptor into `raw`.
        call(op, "cudnnCreateTensorDescriptor", || unsafe {
            sys::cudnnCreateTensorDescriptor(&mut raw)
        })?;
        let desc = TensorDesc(raw);
        // SAFETY: both descriptors are live; `desc` is set from `x`.
        call(op, "cudnnDeriveBNTensorDescriptor", || unsafe {
            sys::cudnnDeriveBNTensorDescriptor(
                desc.0,
                x.0,
                sys::cudnnBatchNormMode_t::CUDNN_BATCHNORM_SPATIAL,
            )
        })?;
        Ok(desc)
    }

    pub(crate) fn raw(&self) -> sys::cudnnTensorDescriptor_t {
        self.0
    }
}

impl Drop for TensorDesc {
    fn drop(&mut self) {
        // SAFETY: created by cudnnCreateTensorDescriptor and destroyed once, here. A failure
        // leaves nothing to do.
        let _ = catch_unwind(|| unsafe { sys::cudnnDestroyTensorDescriptor(self.0) });
    }
}

/// A float32 filter descriptor of dims [out channels, in channels per group, kh, kw], destroyed
/// on drop.
pub(crate) struct FilterDesc(sys::cudnnFilterDescriptor_t);

impl FilterDesc {
    pub(crate) fn new(op: &'static str, dims: [usize; 4]) -> Result<FilterDesc> {
        let [k, c, h, w] = nchw(op, dims)?;
        let mut raw = ptr::null_mut();
        // SAFETY: cuDNN writes a new descriptor into `raw`.
        call(op, "cudnnCreateFilterDescriptor", || unsafe {
            sys::cudnnCreateFilterDescriptor(&mut raw)
        })?;
        let desc = FilterDesc(raw);
        // SAFETY: `desc` was just created and is destroyed only by its drop.
        call(op, "cudnnSetFilter4dDescriptor", || unsafe {
            sys::cudnnSetFilter4dDescriptor(
                desc.0,
                sys::cudnnDataType_t::CUDNN_DATA_FLOAT,
                sys::cudnnTensorFormat_t::CUDNN_TENSOR_NCHW,
                k,
                c,
                h,
                w,
            )
        })?;
        Ok(desc)
    }

    pub(crate) fn raw(&self) -> sys::cudnnFilterDescriptor_t {
        self.0
    }
}

impl Drop for FilterDesc {
    fn drop(&mut self) {
        // SAFETY: created by cudnnCreateFilterDescriptor and destroyed once, here.
        let _ = catch_unwind(|| unsafe { sys::cudnnDestroyFilterDescriptor(self.0) });
    }
}

/// What a convolution descriptor holds besides its math type, as cuDNN's `int`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConvParams {
    pub padding: [c_int; 2],
    pub stride: [c_int; 2],
    pub dilation: [c_int; 2],
    pub groups: c_int,
}

/// A float32 cross-correlation descriptor (PyTorch's convolution), destroyed on drop.
pub(crate) struct ConvDesc(sys::cudnnConvolutionDescriptor_t);

impl ConvDesc {
    pub(crate) fn new(
        op: &'static str,
        p: ConvParams,
        math: sys::cudnnMathType_t,
    ) -> Result<ConvDesc> {
        let mut raw = ptr::null_mut();
        // SAFETY: cuDNN writes a new descriptor into `raw`.
        call(op, "cudnnCreateConvolutionDescriptor", || unsafe {
            sys::cudnnCreateConvolutionDescriptor(&mut raw)
        })?;
        let desc = ConvDesc(raw);
        // SAFETY: `desc` was just created and is destroyed only by its drop.
        call(op, "cudnnSetConvolution2dDescriptor", || unsafe {
            sys::cudnnSetConvolution2dDescriptor(
                desc.0,
                p.padding[0],
                p.padding[1],
                p.stride[0],
                p.stride[1],
                p.dilation[0],
                p.dilation[1],
                sys::cudnnConvolutionMode_t::CUDNN_CROSS_CORRELATION,
                sys::cudnnDataType_t::CUDNN_DATA_FLOAT,
            )
        })?;
        // SAFETY: as above.
        call(op, "cudnnSetConvolutionGroupCount", || unsafe {
            sys::cudnnSetConvolutionGroupCount(desc.0, p.groups)
        })?;
        desc.set_math(op, math)?;
        Ok(desc)
    }

    /// The math type the chosen algorithm was found with: cuDNN picks its kernels by both.
    pub(crate) fn set_math(&self, op: &'static str, math: sys::cudnnMathType_t) -> Result<()> {
        // SAFETY: the descriptor is live.
        call(op, "cudnnSetConvolutionMathType", || unsafe {
            sys::cudnnSetConvolutionMathType(self.0, math)
        })
    }

    pub(crate) fn raw(&self) -> sys::cudnnConvolutionDescriptor_t {
        self.0
    }
}

impl Drop for ConvDesc {
    fn drop(&mut self) {
        // SAFETY: created by cudnnCreateConvolutionDescriptor and destroyed once, here.
        let _ = catch_unwind(|| unsafe { sys::cudnnDestroyConvolutionDescriptor(self.0) });
    }
}

/// A 2-D pooling descriptor (NaN propagated, as the CPU kernels do), destroyed on drop.
pub(crate) struct PoolDesc(sys::cudnnPoolingDescriptor_t);

/// What a pooling descriptor holds, as cuDNN's `int`s: [h, w] each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PoolParams {
    pub mode: sys::cudnnPoolingMode_t,
    pub window: [c_int; 2],
    pub padding: [c_int; 2],
    pub stride: [c_int; 2],
}

impl PoolDesc {
    pub(crate) fn new(op: &'static str, p: PoolParams) -> Result<PoolDesc> {
        let mut raw = ptr::null_mut();
        // SAFETY: cuDNN writes a new descriptor into `raw`.
        call(op, "cudnnCreatePoolingDescriptor", || unsafe {
            sys::cudnnCreatePoolingDescriptor(&mut raw)
        })?;
        let desc = PoolDesc(raw);
        // SAFETY: `desc` was just created and is destroyed only by its drop.
        call(op, "cudnnSetPooling2dDescriptor", || unsafe {
            sys::cudnnSetPooling2dDescriptor(
                desc.0,
                p.mode,
                sys::cudnnNanPropagation_t::CUDNN_PROPAGATE_NAN,
                p.window[0],
                p.window[1],
                p.padding[0],
                p.padding[1],
                p.stride[0],
                p.stride[1],
            )
        })?;
        Ok(desc)
    }

    pub(crate) fn raw(&self) -> sys::cudnnPoolingDescriptor_t {
        self.0
    }
}

impl Drop for PoolDesc {
    fn drop(&mut self) {
        // SAFETY: created by cudnnCreatePoolingDescriptor and destroyed once, here.
        let _ = catch_unwind(|| unsafe { sys::cudnnDestroyPoolingDescriptor(self.0) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_must_fit_cudnn_ints() {
        assert_eq!(nchw("t", [2, 3, 4, 5]).unwrap(), [2, 3, 4, 5]);
        let limit = c_int::MAX as usize;
        assert_eq!(nchw("t", [1, 1, 1, limit]).unwrap(), [1, 1, 1, c_int::MAX]);
        // One dim over, and a count over though every dim fits.
        for dims in [
            [1, 1, 1, limit + 1],
            [2, 1, 1, limit / 2 + 1],
            [usize::MAX, 2, 1, 1],
        ] {
            let err = nchw("conv2d", dims).unwrap_err();
            assert_eq!(err.code(), "InvalidArgument", "{dims:?}: {err}");
        }
        assert_eq!(
            int("conv2d", "padding", 1 << 40).unwrap_err().to_string(),
            "conv2d: padding is 1099511627776, over the 2147483647 cuDNN takes"
        );
    }

    #[test]
    fn failed_statuses_become_typed_errors() {
        let oom = status_error(
            "conv2d",
            "cudnnConvolutionForward",
            cudnnStatus_t::CUDNN_STATUS_ALLOC_FAILED,
        );
        assert_eq!(oom.code(), "OutOfMemory");
        let bad = status_error(
            "conv2d",
            "cudnnConvolutionForward",
            cudnnStatus_t::CUDNN_STATUS_BAD_PARAM,
        );
        assert_eq!(bad.code(), "Internal");
        assert!(
            bad.to_string().contains("cudnnConvolutionForward failed"),
            "{bad}"
        );
        assert!(call("conv2d", "cudnnX", || cudnnStatus_t::CUDNN_STATUS_SUCCESS).is_ok());
        let panicked = call("conv2d", "cudnnX", || panic!("Missing symbol cudnnX"));
        assert_eq!(panicked.unwrap_err().code(), "DeviceUnavailable");
    }
}

/// What the `cuda` tests of the cuDNN ops share.
#[cfg(test)]
pub(crate) mod testing {
    use crate::cuda::CudaDevice;
    use crate::device::Device;
    use crate::error::Result;
    use crate::testing::{assert_same_values, leaf, leaf_on, tensor};
    use crate::Tensor;

    /// Whether `device` lacks cuDNN (the CPU shim, or a machine without the library); says so
    /// once per test, which then returns early.
    pub(crate) fn skip_without_cudnn(test: &str, device: Device) -> bool {
        let Device::Cuda(index) = device else {
            return false;
        };
        let has = CudaDevice::get(index).is_ok_and(|d| d.has_cudnn());
        if !has {
            eprintln!("{test}: skipped: no cuDNN on {device}");
        }
        !has
    }

    /// Runs `f` on leaves of the given shapes (seeded values) on the CPU and on `device`, sends
    /// the same upstream gradient back through both, and compares the outputs and every input's
    /// gradient with the CPU's within `tol`.
    #[track_caller]
    pub(crate) fn check_against_cpu(
        device: Device,
        shapes: &[&[usize]],
        tol: f64,
        f: impl Fn(&[Tensor]) -> Result<Tensor>,
    ) {
        let on = |device: Option<Device>| -> Vec<Tensor> {
            let made = shapes.iter().zip(1..);
            made.map(|(shape, seed)| match device {
                None => leaf(shape, seed),
                Some(device) => leaf_on(shape, seed, device),
            })
            .collect()
        };
        let (host, dev) = (on(None), on(Some(device)));
        let want = f(&host).unwrap();
        let got = f(&dev).unwrap();
        assert_eq!(got.device(), device);
        assert_same_values(&got, &want, tol);
        let upstream = tensor(want.shape(), 99, Device::Cpu);
        want.backward(Some(&upstream), false).unwrap();
        got.backward(Some(&upstream.to_device(device).unwrap()), false)
            .unwrap();
        for (i, (h, d)) in host.iter().zip(&dev).enumerate() {
            match (d.grad(), h.grad()) {
                (Some(g), Some(w)) => {
                    assert_eq!(g.device(), device, "input {i}'s gradient");
                    assert_same_values(&g, &w, tol);
                }
                (None, None) => {}
                (g, w) => panic!(
                    "input {i}: gradient {:?} on the device, {:?} on the CPU",
                    g.is_some(),
                    w.is_some()
                ),
            }
        }
    }
}
