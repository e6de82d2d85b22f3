//! The CUDA pooling passes. Max pooling always runs `pool.cu`'s kernels: it must return the
//! argmax indices (saved for the backward, and `return_indices`), which cuDNN's max pooling does
//! not give; cuDNN has no dilation either, and its backward re-derives the argmax, which can route
//! a tie's gradient elsewhere than the CPU does (PyTorch uses its own CUDA kernels here too).
//! Average pooling's forward runs cuDNN (`cudnnPoolingForward`, with `count_include_pad` as
//! CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING or _EXCLUDE_PADDING) whenever cuDNN's windows are
//! the CPU's: not for the extra window `ceil_mode` can add (cuDNN rounds down), nor for adaptive
//! bins unless they divide the input evenly. The kernels take the rest, all of it where the cuDNN
//! library is missing, and every backward.
//!
//! Unverified on hardware: the kernels run on the CPU shim against the CPU backend; the cuDNN
//! average pooling runs only on a GPU (its route is unit-tested).

use std::ffi::c_int;
use std::sync::Arc;

use cudarc::cudnn::sys::{self, cudnnPoolingMode_t};

use super::{PoolShape, Window};
use crate::cuda::{self, CudaDevice, CudaStorage, KernelArg, LaunchConfig, Module};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::nn::cudnn::{self as dnn, call, PoolDesc, PoolParams, TensorDesc, ONE, ZERO};

pub(crate) static MODULE: Module = Module::new("pool", include_str!("pool.cu"));

/// A contiguous operand: its storage and layout.
pub(super) type Operand<'a> = (&'a CudaStorage, &'a Layout);

/// `PoolWindow` in pool.cu: the sizes of one pooling as the kernels take them.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PoolWindow {
    planes: i64,
    h: i32,
    w: i32,
    oh: i32,
    ow: i32,
    kernel: [i32; 2],
    stride: [i32; 2],
    padding: [i32; 2],
    dilation: [i32; 2],
    adaptive: i32,
    count_padding: i32,
}

impl KernelArg for PoolWindow {}

fn int(op: &'static str, value: usize) -> Result<i32> {
    i32::try_from(value).map_err(|_| {
        Error::invalid(
            op,
            format!(
                "a pooling size of {value} is over the {} the CUDA kernels take",
                i32::MAX
            ),
        )
    })
}

impl PoolWindow {
    pub(super) fn new(op: &'static str, s: &PoolShape, count_padding: bool) -> Result<PoolWindow> {
        let pair = |v: [usize; 2]| -> Result<[i32; 2]> { Ok([int(op, v[0])?, int(op, v[1])?]) };
        let (kernel, stride, padding, dilation) = match s.window {
            Window::Sliding {
                kernel,
                stride,
                padding,
                dilation,
            } => (
                pair(kernel)?,
                pair(stride)?,
                pair(padding)?,
                pair(dilation)?,
            ),
            Window::Adaptive => ([1, 1], [1, 1], [0, 0], [1, 1]),
        };
        Ok(PoolWindow {
            planes: s.planes as i64,
            h: int(op, s.h)?,
            w: int(op, s.w)?,
            oh: int(op, s.oh())?,
            ow: int(op, s.ow())?,
            kernel,
            stride,
            padding,
            dilation,
            adaptive: matches!(s.window, Window::Adaptive).into(),
            count_padding: count_padding.into(),
        })
    }
}

/// cuDNN's average pooling mode for PyTorch's `count_include_pad`.
pub(super) fn average_mode(count_padding: bool) -> cudnnPoolingMode_t {
    if count_padding {
        cudnnPoolingMode_t::CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING
    } else {
        cudnnPoolingMode_t::CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING
    }
}

/// The output length cuDNN's pooling gives an axis (`cudnnGetPooling2dForwardOutputDim`), when
/// the window fits the padded input.
fn cudnn_len(len: usize, window: usize, padding: usize, stride: usize) -> Option<usize> {
    (len + 2 * padding)
        .checked_sub(window)
        .map(|span| span / stride + 1)
}

/// The cuDNN pooling descriptor that computes this average pooling exactly as the CPU does, or
/// `None` when only the kernels can. In floor mode every window ends inside the padded input, so
/// cuDNN's divisors are the CPU's: the whole window with padding counted, its taps without.
pub(super) fn cudnn_average(s: &PoolShape, count_padding: bool) -> Option<PoolParams> {
    let (window, stride, padding) = match s.window {
        Window::Sliding {
            kernel,
            stride,
            padding,
            dilation: [1, 1],
        } => (kernel, stride, padding),
        Window::Sliding { .. } => return None,
        // Bins of one size, one after another: windows of that size at that stride.
        Window::Adaptive if s.h.is_multiple_of(s.oh()) && s.w.is_multiple_of(s.ow()) => {
            let bins = [s.h / s.oh(), s.w / s.ow()];
            (bins, bins, [0, 0])
        }
        Window::Adaptive => return None,
    };
    let lens = [(s.h, s.oh()), (s.w, s.ow())];
    for (a, (len, out)) in lens.into_iter().enumerate() {
        if cudnn_len(len, window[a], padding[a], stride[a]) != Some(out) {
            return None;
        }
    }
    // The planes as cuDNN's tensors: every size must fit its ints.
    dnn::nchw("avg_pool2d", [s.planes, 1, s.h, s.w]).ok()?;
    let ints = |v: [usize; 2]| -> Option<[c_int; 2]> {
        Some([c_int::try_from(v[0]).ok()?, c_int::try_from(v[1]).ok()?])
    };
    Some(PoolParams {
        mode: average_mode(count_padding),
        window: ints(window)?,
        padding: ints(padding)?,
        stride: ints(stride)?,
    })
}

fn launch(
    op: &'static str,
    dev: &CudaDevice,
    kernel: &str,
    n: usize,
    args: &mut [*mut std::ffi::c_void],
) -> Result<()> {
    // SAFETY: each caller passes the kernel's parameters in order (pointers to contiguous
    // buffers of the sizes `PoolWindow` gives, then the window); grid-stride over `n` elements.
    unsafe { dev.launch(op, &MODULE, kernel, LaunchConfig::elementwise(n), args) }
}

/// Max pooling: the values and, as int64, the flat index in its plane of each window's maximum.
pub(super) fn max_pool2d_forward(
    op: &'static str,
    s: &PoolShape,
    x: Operand,
) -> Result<(CudaStorage, CudaStorage)> {
    let dev = x.0.device();
    let n = s.planes * s.oh() * s.ow();
    let (values, indices) = (
        CudaStorage::alloc::<f32>(dev, n)?,
        CudaStorage::alloc::<i64>(dev, n)?,
    );
    if n > 0 {
        let p = PoolWindow::new(op, s, false)?;
        let (xp, vp, ip) = (
            x.0.ptr::<f32>(op, x.1)?,
            values.base::<f32>(op)?,
            indices.base::<i64>(op)?,
        );
        launch(
            op,
            dev,
            "pool_max_forward_f32",
            n,
            &mut cuda::args![xp, vp, ip, p],
        )?;
    }
    Ok((values, indices))
}

/// Max pooling's input gradient through the saved indices.
pub(super) fn max_pool2d_backward_input(
    op: &'static str,
    s: &PoolShape,
    dy: Operand,
    indices: Operand,
) -> Result<CudaStorage> {
    let dev = dy.0.device();
    let n = s.planes * s.h * s.w;
    let dx = CudaStorage::alloc::<f32>(dev, n)?;
    if n > 0 {
        let p = PoolWindow::new(op, s, false)?;
        let (gp, ip, xp) = (
            dy.0.ptr::<f32>(op, dy.1)?,
            indices.0.ptr::<i64>(op, indices.1)?,
            dx.base::<f32>(op)?,
        );
        launch(
            op,
            dev,
            "pool_max_backward_f32",
            n,
            &mut cuda::args![gp, ip, xp, p],
        )?;
    }
    Ok(dx)
}

/// Average pooling (sliding or adaptive windows).
pub(super) fn avg_pool2d_forward(
    op: &'static str,
    s: &PoolShape,
    x: Operand,
    count_padding: bool,
) -> Result<CudaStorage> {
    let dev = x.0.device();
    let n = s.planes * s.oh() * s.ow();
    let y = CudaStorage::alloc::<f32>(dev, n)?;
    if n == 0 {
        return Ok(y);
    }
    let (xp, yp) = (x.0.ptr::<f32>(op, x.1)?, y.base::<f32>(op)?);
    match cudnn_average(s, count_padding).filter(|_| dev.has_cudnn()) {
        Some(params) => cudnn_forward(op, dev, s, params, xp, yp)?,
        None => {
            let p = PoolWindow::new(op, s, count_padding)?;
            launch(
                op,
                dev,
                "pool_avg_forward_f32",
                n,
                &mut cuda::args![xp, yp, p],
            )?;
        }
    }
    Ok(y)
}

/// Average pooling's input gradient, always by the kernel (as PyTorch's own CUDA kernels do it):
/// cuDNN's backward would want an input and an output it does not read, which we do not keep.
pub(super) fn avg_pool2d_backward_input(
    op: &'static str,
    s: &PoolShape,
    dy: Operand,
    count_padding: bool,
) -> Result<CudaStorage> {
    let dev = dy.0.device();
    let n = s.planes * s.h * s.w;
    let dx = CudaStorage::alloc::<f32>(dev, n)?;
    if n == 0 {
        return Ok(dx);
    }
    let (gp, xp) = (dy.0.ptr::<f32>(op, dy.1)?, dx.base::<f32>(op)?);
    let p = PoolWindow::new(op, s, count_padding)?;
    launch(
        op,
        dev,
        "pool_avg_backward_f32",
        n,
        &mut cuda::args![gp, xp, p],
    )?;
    Ok(dx)
}

/// The planes as cuDNN tensors: input [planes, 1, h, w], output [planes, 1, oh, ow].
fn plane_descriptors(op: &'static str, s: &PoolShape) -> Result<(TensorDesc, TensorDesc)> {
    Ok((
        TensorDesc::nchw(op, [s.planes, 1, s.h, s.w])?,
        TensorDesc::nchw(op, [s.planes, 1, s.oh(), s.ow()])?,
    ))
}

fn cudnn_forward(
    op: &'static str,
    dev: &Arc<CudaDevice>,
    s: &PoolShape,
    params: PoolParams,
    x: u64,
    y: u64,
) -> Result<()> {
    let handle = dev.cudnn(op)?;
    let pool = PoolDesc::new(op, params)?;
    let (xd, yd) = plane_descriptors(op, s)?;
    // SAFETY: the descriptors describe the contiguous input and output buffers; stream-ordered.
    call(op, "cudnnPoolingForward", || unsafe {
        sys::cudnnPoolingForward(
            handle,
            pool.raw(),
            dnn::scalar(&ONE),
            xd.raw(),
            dnn::ptr(x),
            dnn::scalar(&ZERO),
            yd.raw(),
            dnn::ptr(y),
        )
    })
}

#[cfg(test)]
#[path = "cuda_tests.rs"]
mod tests;
