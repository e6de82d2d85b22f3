//! The candidates of each pass, best first: cuDNN's heuristics, then (benchmarking) the same
//! algorithms timed by `cudnnFind*AlgorithmEx` on the pass's own buffers. See `algo`.

use std::ffi::c_int;

use cudarc::cudnn::sys;

use super::algo::{self, Choice, Pass, RawPerf};
use super::{Setup, OP};
use crate::error::Result;
use crate::nn::cudnn::{self, call};

/// Fills a perf array through `f(requested, returned, results)` and keeps what cuDNN returned.
fn perfs(
    function: &'static str,
    requested: c_int,
    f: impl FnOnce(c_int, *mut c_int, *mut RawPerf) -> sys::cudnnStatus_t,
) -> Result<Vec<RawPerf>> {
    let mut results = vec![RawPerf::default(); requested.max(1) as usize];
    let mut returned: c_int = 0;
    call(OP, function, || {
        f(requested, &mut returned, results.as_mut_ptr())
    })?;
    results.truncate(returned.clamp(0, requested) as usize);
    Ok(results)
}

/// How many algorithms `function` reports for its pass.
fn max_count(
    function: &'static str,
    f: impl FnOnce(*mut c_int) -> sys::cudnnStatus_t,
) -> Result<c_int> {
    let mut count: c_int = 0;
    call(OP, function, || f(&mut count))?;
    Ok(count.max(1))
}

/// The heuristic candidates, then, when benchmarking and their largest workspace can be had,
/// the timed ones (falling back to the heuristic order if timing leaves none).
fn choose(
    st: &Setup,
    pass: Pass,
    heuristic: Vec<RawPerf>,
    find: impl FnOnce(u64, usize) -> Result<Vec<RawPerf>>,
) -> Result<Vec<Choice>> {
    let tf32 = st.key.tf32;
    let candidates = algo::usable(&heuristic, pass, tf32, usize::MAX);
    // Timing costs one run of each algorithm per new shape and gives the fastest.
    if !st.key.benchmark {
        return Ok(candidates);
    }
    let bytes = algo::search_workspace(&candidates);
    let Ok(workspace) = st.gpu.workspace(OP, bytes) else {
        return Ok(candidates);
    };
    // A failed timing run (cuDNN could not get memory of its own, say) leaves the heuristics.
    let timed = match find(workspace.ptr(), bytes) {
        Ok(found) => algo::usable(&found, pass, tf32, bytes),
        Err(_) => Vec::new(),
    };
    Ok(if timed.is_empty() { candidates } else { timed })
}

pub(super) fn forward(st: &Setup, x: u64, w: u64, y: u64) -> Result<Vec<Choice>> {
    let (h, d) = (st.handle, &st.d);
    st.reset_math()?;
    // SAFETY (this and the calls below): the handle and descriptors are live; cuDNN writes at
    // most `requested` results into an array of that many perf structs of its layout (RawPerf,
    // checked by a test); FindEx runs the algorithms on the pass's own contiguous buffers and a
    // workspace of `bytes`, stream-ordered.
    let requested = max_count("cudnnGetConvolutionForwardAlgorithmMaxCount", |n| unsafe {
        sys::cudnnGetConvolutionForwardAlgorithmMaxCount(h, n)
    })?;
    let heuristic = perfs(
        "cudnnGetConvolutionForwardAlgorithm_v7",
        requested,
        |r, n, p| unsafe {
            sys::cudnnGetConvolutionForwardAlgorithm_v7(
                h,
                d.x.raw(),
                d.w.raw(),
                d.conv.raw(),
                d.y.raw(),
                r,
                n,
                p.cast(),
            )
        },
    )?;
    choose(st, Pass::Forward, heuristic, |ws, bytes| {
        perfs(
            "cudnnFindConvolutionForwardAlgorithmEx",
            requested,
            |r, n, p| unsafe {
                sys::cudnnFindConvolutionForwardAlgorithmEx(
                    h,
                    d.x.raw(),
                    cudnn::ptr(x),
                    d.w.raw(),
                    cudnn::ptr(w),
                    d.conv.raw(),
                    d.y.raw(),
                    cudnn::ptr(y),
                    r,
                    n,
                    p.cast(),
                    cudnn::ptr(ws),
                    bytes,
                )
            },
        )
    })
}

pub(super) fn backward_data(st: &Setup, w: u64, dy: u64, dx: u64) -> Result<Vec<Choice>> {
    let (h, d) = (st.handle, &st.d);
    st.reset_math()?;
    // SAFETY: as in `forward`.
    let requested = max_count(
        "cudnnGetConvolutionBackwardDataAlgorithmMaxCount",
        |n| unsafe { sys::cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, n) },
    )?;
    let heuristic = perfs(
        "cudnnGetConvolutionBackwardDataAlgorithm_v7",
        requested,
        |r, n, p| unsafe {
            sys::cudnnGetConvolutionBackwardDataAlgorithm_v7(
                h,
                d.w.raw(),
                d.y.raw(),
                d.conv.raw(),
                d.x.raw(),
                r,
                n,
                p.cast(),
            )
        },
    )?;
    choose(st, Pass::BackwardData, heuristic, |ws, bytes| {
        perfs(
            "cudnnFindConvolutionBackwardDataAlgorithmEx",
            requested,
            |r, n, p| unsafe {
                sys::cudnnFindConvolutionBackwardDataAlgorithmEx(
                    h,
                    d.w.raw(),
                    cudnn::ptr(w),
                    d.y.raw(),
                    cudnn::ptr(dy),
                    d.conv.raw(),
                    d.x.raw(),
                    cudnn::ptr(dx),
                    r,
                    n,
                    p.cast(),
                    cudnn::ptr(ws),
                    bytes,
                )
            },
        )
    })
}

pub(super) fn backward_filter(st: &Setup, x: u64, dy: u64, dw: u64) -> Result<Vec<Choice>> {
    let (h, d) = (st.handle, &st.d);
    st.reset_math()?;
    // SAFETY: as in `forward`.
    let requested = max_count(
        "cudnnGetConvolutionBackwardFilterAlgorithmMaxCount",
        |n| unsafe { sys::cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h, n) },
    )?;
    let heuristic = perfs(
        "cudnnGetConvolutionBackwardFilterAlgorithm_v7",
        requested,
        |r, n, p| unsafe {
            sys::cudnnGetConvolutionBackwardFilterAlgorithm_v7(
                h,
                d.x.raw(),
                d.y.raw(),
                d.conv.raw(),
                d.w.raw(),
                r,
                n,
                p.cast(),
            )
        },
    )?;
    choose(st, Pass::BackwardFilter, heuristic, |ws, bytes| {
        perfs(
            "cudnnFindConvolutionBackwardFilterAlgorithmEx",
            requested,
            |r, n, p| unsafe {
                sys::cudnnFindConvolutionBackwardFilterAlgorithmEx(
                    h,
                    d.x.raw(),
                    cudnn::ptr(x),
                    d.y.raw(),
                    cudnn::ptr(dy),
                    d.conv.raw(),
                    d.w.raw(),
                    cudnn::ptr(dw),
                    r,
                    n,
                    p.cast(),
                    cudnn::ptr(ws),
                    bytes,
                )
            },
        )
    })
}
