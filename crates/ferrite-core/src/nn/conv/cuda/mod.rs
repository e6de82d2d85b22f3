//! The CUDA passes of `conv2d`, all through cuDNN on contiguous NCHW float32 operands: the
//! forward (`cudnnConvolutionForward`, then `cudnnAddTensor` for the bias), the input gradient
//! (`cudnnConvolutionBackwardData`), the weight gradient (`cudnnConvolutionBackwardFilter`) and
//! the bias gradient (`cudnnConvolutionBackwardBias`). Groups, stride, padding and dilation are
//! the convolution descriptor's; `algo` picks and caches each pass's algorithm. TF32 follows
//! `cuda::settings::allow_tf32_cudnn()`, on by default as in PyTorch.
//!
//! Unverified on hardware: no GPU or cuDNN library was available while this was written. The
//! descriptor parameters and the algorithm choice are unit-tested; the `cuda` tests compare every
//! pass with the CPU kernels on a GPU (`bench/gpu/run.sh`), and skip where cuDNN is missing.

mod algo;
#[cfg(test)]
mod tests;

use std::ffi::c_int;

use cudarc::cudnn::sys;

use super::{ConvShape, OP};
use std::sync::Arc;

use crate::cuda::{self, CudaDevice, CudaStorage};
use crate::error::Result;
use crate::layout::Layout;
use crate::nn::cudnn::{self, call, ConvDesc, ConvParams, FilterDesc, TensorDesc, ONE, ZERO};
use algo::{AlgoKey, Choice, Pass};

/// A contiguous operand: its storage and layout.
pub(in crate::nn::conv) type Operand<'a> = (&'a CudaStorage, &'a Layout);

/// The dims cuDNN is given: input [n, c, h, w], weight [o, c / groups, kh, kw], output
/// [n, o, oh, ow].
pub(super) fn dims(s: &ConvShape) -> [[usize; 4]; 3] {
    [
        [s.n, s.c, s.h, s.w],
        [s.o, s.cg(), s.kh, s.kw],
        [s.n, s.o, s.oh, s.ow],
    ]
}

/// The convolution descriptor's parameters.
pub(super) fn conv_params(s: &ConvShape) -> Result<ConvParams> {
    let pair = |what, v: [usize; 2]| -> Result<[c_int; 2]> {
        Ok([cudnn::int(OP, what, v[0])?, cudnn::int(OP, what, v[1])?])
    };
    Ok(ConvParams {
        padding: pair("padding", s.padding)?,
        stride: pair("stride", s.stride)?,
        dilation: pair("dilation", s.dilation)?,
        groups: cudnn::int(OP, "groups", s.groups)?,
    })
}

/// The output size `cudnnGetConvolution2dForwardOutputDim` documents for one axis; it must agree
/// with the `ConvShape`'s, since the output descriptor is made from the latter.
#[cfg(test)]
pub(super) fn cudnn_output_len(len: usize, kernel: usize, p: usize, s: usize, d: usize) -> usize {
    1 + (len + 2 * p - ((kernel - 1) * d + 1)) / s
}

/// The descriptors of one convolution, destroyed together on drop.
struct Descriptors {
    x: TensorDesc,
    w: FilterDesc,
    y: TensorDesc,
    conv: ConvDesc,
}

impl Descriptors {
    fn new(s: &ConvShape, tf32: bool) -> Result<Descriptors> {
        let [x, w, y] = dims(s);
        Ok(Descriptors {
            x: TensorDesc::nchw(OP, x)?,
            w: FilterDesc::new(OP, w)?,
            y: TensorDesc::nchw(OP, y)?,
            conv: ConvDesc::new(OP, conv_params(s)?, algo::math_type(tf32))?,
        })
    }
}

/// One pass's setting: the handle, its descriptors and its cache key.
struct Setup<'g> {
    gpu: &'g Arc<CudaDevice>,
    handle: sys::cudnnHandle_t,
    d: Descriptors,
    key: AlgoKey,
}

impl<'g> Setup<'g> {
    fn new(gpu: &'g Arc<CudaDevice>, s: &ConvShape, pass: Pass) -> Result<Setup<'g>> {
        let tf32 = cuda::settings::allow_tf32_cudnn();
        Ok(Setup {
            gpu,
            handle: gpu.cudnn(OP)?,
            d: Descriptors::new(s, tf32)?,
            key: AlgoKey {
                device: gpu.ordinal(),
                shape: *s,
                pass,
                tf32,
                benchmark: cuda::settings::cudnn_benchmark(),
            },
        })
    }

    /// The math type the TF32 setting allows, which a search starts from (a failed run of a
    /// cached algorithm may have left its own).
    fn reset_math(&self) -> Result<()> {
        self.d.conv.set_math(OP, algo::math_type(self.key.tf32))
    }

    /// Runs `pass` with `choice`: the math type it was found with, and a workspace of its size.
    fn run_with(
        &self,
        choice: Choice,
        pass: impl FnOnce(u64, usize) -> sys::cudnnStatus_t,
        function: &'static str,
    ) -> Result<()> {
        self.d.conv.set_math(OP, choice.math)?;
        let workspace = self.gpu.workspace(OP, choice.workspace)?;
        call(OP, function, || pass(workspace.ptr(), choice.workspace))
    }
}

/// The output of the forward pass, with the bias added.
pub(in crate::nn::conv) fn forward(
    s: &ConvShape,
    x: Operand,
    w: Operand,
    bias: Option<Operand>,
) -> Result<CudaStorage> {
    let gpu = x.0.device();
    let [x_dims, _, y_dims] = dims(s);
    let y = CudaStorage::alloc::<f32>(gpu, y_dims.iter().product())?;
    if y.is_empty() {
        return Ok(y);
    }
    if x_dims.contains(&0) {
        // The whole input is padding (h or w is 0): the output is the bias alone.
        gpu.memset_zero(OP, y.base::<f32>(OP)?, y.bytes())?;
    } else {
        forward_into(gpu, s, x, w, y.base::<f32>(OP)?)?;
    }
    if let Some(b) = bias {
        add_bias(gpu, s, b, y.base::<f32>(OP)?)?;
    }
    Ok(y)
}

fn forward_into(
    gpu: &Arc<CudaDevice>,
    s: &ConvShape,
    x: Operand,
    w: Operand,
    y: u64,
) -> Result<()> {
    let st = Setup::new(gpu, s, Pass::Forward)?;
    let (xp, wp) = (x.0.ptr::<f32>(OP, x.1)?, w.0.ptr::<f32>(OP, w.1)?);
    let d = &st.d;
    algo::run_pass(
        OP,
        st.key,
        || search::forward(&st, xp, wp, y),
        |choice| {
            st.run_with(
                choice,
                |ws, ws_bytes| {
                    // SAFETY: the descriptors describe the contiguous buffers behind the pointers
                    // (sizes from the same `ConvShape`); the workspace holds `ws_bytes`; all work
                    // is queued on the handle's stream, the compute stream.
                    unsafe {
                        sys::cudnnConvolutionForward(
                            st.handle,
                            cudnn::scalar(&ONE),
                            d.x.raw(),
                            cudnn::ptr(xp),
                            d.w.raw(),
                            cudnn::ptr(wp),
                            d.conv.raw(),
                            forward_algo(choice.algo),
                            cudnn::ptr(ws),
                            ws_bytes,
                            cudnn::scalar(&ZERO),
                            d.y.raw(),
                            cudnn::ptr(y),
                        )
                    }
                },
                "cudnnConvolutionForward",
            )
        },
    )
}

/// y += bias, broadcast over every sample and position.
fn add_bias(gpu: &CudaDevice, s: &ConvShape, bias: Operand, y: u64) -> Result<()> {
    let handle = gpu.cudnn(OP)?;
    let b = TensorDesc::nchw(OP, [1, s.o, 1, 1])?;
    let yd = TensorDesc::nchw(OP, dims(s)[2])?;
    let bp = bias.0.ptr::<f32>(OP, bias.1)?;
    // SAFETY: `b` describes the [o] bias buffer, `yd` the output buffer; stream-ordered.
    call(OP, "cudnnAddTensor", || unsafe {
        sys::cudnnAddTensor(
            handle,
            cudnn::scalar(&ONE),
            b.raw(),
            cudnn::ptr(bp),
            cudnn::scalar(&ONE),
            yd.raw(),
            cudnn::ptr(y),
        )
    })
}

/// The input's gradient from the output's `dy` and the weight.
pub(in crate::nn::conv) fn backward_input(
    s: &ConvShape,
    dy: Operand,
    w: Operand,
) -> Result<CudaStorage> {
    let gpu = dy.0.device();
    let [x_dims, _, y_dims] = dims(s);
    let dx = CudaStorage::alloc::<f32>(gpu, x_dims.iter().product())?;
    if dx.is_empty() {
        return Ok(dx);
    }
    if y_dims.contains(&0) {
        gpu.memset_zero(OP, dx.base::<f32>(OP)?, dx.bytes())?;
        return Ok(dx);
    }
    let st = Setup::new(gpu, s, Pass::BackwardData)?;
    let (gp, wp, xp) = (
        dy.0.ptr::<f32>(OP, dy.1)?,
        w.0.ptr::<f32>(OP, w.1)?,
        dx.base::<f32>(OP)?,
    );
    let d = &st.d;
    algo::run_pass(
        OP,
        st.key,
        || search::backward_data(&st, wp, gp, xp),
        |choice| {
            st.run_with(
                choice,
                |ws, ws_bytes| {
                    // SAFETY: as in `forward_into`, for the weight, `dy` and `dx` buffers.
                    unsafe {
                        sys::cudnnConvolutionBackwardData(
                            st.handle,
                            cudnn::scalar(&ONE),
                            d.w.raw(),
                            cudnn::ptr(wp),
                            d.y.raw(),
                            cudnn::ptr(gp),
                            d.conv.raw(),
                            backward_data_algo(choice.algo),
                            cudnn::ptr(ws),
                            ws_bytes,
                            cudnn::scalar(&ZERO),
                            d.x.raw(),
                            cudnn::ptr(xp),
                        )
                    }
                },
                "cudnnConvolutionBackwardData",
            )
        },
    )?;
    Ok(dx)
}

/// The weight's gradient from the input and the output's `dy`.
pub(in crate::nn::conv) fn backward_weight(
    s: &ConvShape,
    x: Operand,
    dy: Operand,
) -> Result<CudaStorage> {
    let gpu = dy.0.device();
    let [x_dims, w_dims, _] = dims(s);
    let dw = CudaStorage::alloc::<f32>(gpu, w_dims.iter().product())?;
    if x_dims.contains(&0) {
        // No sample, or an input that is all padding: nothing reaches the weight.
        gpu.memset_zero(OP, dw.base::<f32>(OP)?, dw.bytes())?;
        return Ok(dw);
    }
    let st = Setup::new(gpu, s, Pass::BackwardFilter)?;
    let (xp, gp, wp) = (
        x.0.ptr::<f32>(OP, x.1)?,
        dy.0.ptr::<f32>(OP, dy.1)?,
        dw.base::<f32>(OP)?,
    );
    let d = &st.d;
    algo::run_pass(
        OP,
        st.key,
        || search::backward_filter(&st, xp, gp, wp),
        |choice| {
            st.run_with(
                choice,
                |ws, ws_bytes| {
                    // SAFETY: as in `forward_into`, for the input, `dy` and `dw` buffers.
                    unsafe {
                        sys::cudnnConvolutionBackwardFilter(
                            st.handle,
                            cudnn::scalar(&ONE),
                            d.x.raw(),
                            cudnn::ptr(xp),
                            d.y.raw(),
                            cudnn::ptr(gp),
                            d.conv.raw(),
                            backward_filter_algo(choice.algo),
                            cudnn::ptr(ws),
                            ws_bytes,
                            cudnn::scalar(&ZERO),
                            d.w.raw(),
                            cudnn::ptr(wp),
                        )
                    }
                },
                "cudnnConvolutionBackwardFilter",
            )
        },
    )?;
    Ok(dw)
}

/// The bias's gradient: `dy` summed over samples and positions, per output channel.
pub(in crate::nn::conv) fn backward_bias(s: &ConvShape, dy: Operand) -> Result<CudaStorage> {
    let gpu = dy.0.device();
    let db = CudaStorage::alloc::<f32>(gpu, s.o)?;
    let y_dims = dims(s)[2];
    if y_dims.contains(&0) {
        gpu.memset_zero(OP, db.base::<f32>(OP)?, db.bytes())?;
        return Ok(db);
    }
    let handle = gpu.cudnn(OP)?;
    let (yd, bd) = (
        TensorDesc::nchw(OP, y_dims)?,
        TensorDesc::nchw(OP, [1, s.o, 1, 1])?,
    );
    let (gp, bp) = (dy.0.ptr::<f32>(OP, dy.1)?, db.base::<f32>(OP)?);
    // SAFETY: `yd` describes the contiguous `dy` buffer, `bd` the new [o] buffer; stream-ordered.
    call(OP, "cudnnConvolutionBackwardBias", || unsafe {
        sys::cudnnConvolutionBackwardBias(
            handle,
            cudnn::scalar(&ONE),
            yd.raw(),
            cudnn::ptr(gp),
            cudnn::scalar(&ZERO),
            bd.raw(),
            cudnn::ptr(bp),
        )
    })?;
    Ok(db)
}

fn forward_algo(algo: u32) -> sys::cudnnConvolutionFwdAlgo_t {
    debug_assert!(algo < Pass::Forward.algorithms());
    // SAFETY: `algo::usable` keeps only numbers below the enum's COUNT, and the enum is
    // `repr(u32)` with every value from 0 to COUNT.
    unsafe { std::mem::transmute::<u32, sys::cudnnConvolutionFwdAlgo_t>(algo) }
}

fn backward_data_algo(algo: u32) -> sys::cudnnConvolutionBwdDataAlgo_t {
    debug_assert!(algo < Pass::BackwardData.algorithms());
    // SAFETY: as in `forward_algo`.
    unsafe { std::mem::transmute::<u32, sys::cudnnConvolutionBwdDataAlgo_t>(algo) }
}

fn backward_filter_algo(algo: u32) -> sys::cudnnConvolutionBwdFilterAlgo_t {
    debug_assert!(algo < Pass::BackwardFilter.algorithms());
    // SAFETY: as in `forward_algo`.
    unsafe { std::mem::transmute::<u32, sys::cudnnConvolutionBwdFilterAlgo_t>(algo) }
}

mod search;
