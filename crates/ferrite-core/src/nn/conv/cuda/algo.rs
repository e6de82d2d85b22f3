//! Which cuDNN algorithm runs a convolution pass, picked once per (device, shape, pass, TF32
//! setting) and kept for the process, as PyTorch does with `cudnn.benchmark`: cuDNN's heuristics
//! (`cudnnGet*Algorithm_v7`, which need no GPU memory) give the candidates and their workspace
//! sizes; with benchmarking on, `cudnnFind*AlgorithmEx` then runs them on the pass's own buffers
//! (with one workspace as large as the largest candidate's, from the caching allocator) and orders
//! them by time. The first candidate that runs is cached; one that fails (its workspace cannot be
//! had, say) gives way to the next, and a cached one that fails sends the pass back to the search.
//!
//! Unverified on hardware: the selection logic is unit-tested; the cuDNN calls run only on a GPU.

use std::collections::HashMap;
use std::ffi::c_int;
use std::sync::{Mutex, OnceLock};

use cudarc::cudnn::sys::{self, cudnnMathType_t};

use super::super::ConvShape;
use crate::error::{Error, Result};

/// The three passes of a convolution, each with its own algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Pass {
    Forward,
    BackwardData,
    BackwardFilter,
}

impl Pass {
    /// How many algorithms cuDNN 9 has for the pass (its `*_ALGO_COUNT`).
    pub(super) fn algorithms(self) -> u32 {
        match self {
            Pass::Forward => {
                sys::cudnnConvolutionFwdAlgo_t::CUDNN_CONVOLUTION_FWD_ALGO_COUNT as u32
            }
            Pass::BackwardData => {
                sys::cudnnConvolutionBwdDataAlgo_t::CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT as u32
            }
            Pass::BackwardFilter => {
                sys::cudnnConvolutionBwdFilterAlgo_t::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT as u32
            }
        }
    }
}

/// What an algorithm is cached under. The batch size is part of the shape, as in PyTorch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct AlgoKey {
    pub device: usize,
    pub shape: ConvShape,
    pub pass: Pass,
    pub tf32: bool,
    /// Whether the choice was timed (`cuda::settings::cudnn_benchmark`), as PyTorch keeps the
    /// two apart.
    pub benchmark: bool,
}

/// An algorithm of one pass (its number in that pass's enum), the math type it was found with,
/// and the workspace it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Choice {
    pub algo: u32,
    pub math: cudnnMathType_t,
    pub workspace: usize,
}

/// cuDNN's `cudnnConvolution*AlgoPerf_t` (the three share one layout), read with plain integers
/// so that a value this build's enums lack cannot be mistaken for one of them.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct RawPerf {
    pub algo: u32,
    pub status: u32,
    pub time: f32,
    pub memory: usize,
    pub determinism: u32,
    pub math: u32,
    pub reserved: [c_int; 3],
}

/// The math types a float32 convolution may run with: FMA only without TF32 (as PyTorch
/// asserts), and never the conversion to half precision.
pub(super) fn math_type(tf32: bool) -> cudnnMathType_t {
    if tf32 {
        cudnnMathType_t::CUDNN_DEFAULT_MATH
    } else {
        cudnnMathType_t::CUDNN_FMA_MATH
    }
}

fn math_from(value: u32, tf32: bool) -> Option<cudnnMathType_t> {
    use cudnnMathType_t::*;
    match value {
        0 if tf32 => Some(CUDNN_DEFAULT_MATH),
        1 if tf32 => Some(CUDNN_TENSOR_OP_MATH),
        3 => Some(CUDNN_FMA_MATH),
        _ => None,
    }
}

/// The usable results of a search, in cuDNN's order (best first): succeeded, a known algorithm
/// of the pass, a math type the TF32 setting allows, and a workspace within `max_workspace`.
pub(super) fn usable(
    perfs: &[RawPerf],
    pass: Pass,
    tf32: bool,
    max_workspace: usize,
) -> Vec<Choice> {
    perfs
        .iter()
        .filter(|p| p.status == sys::cudnnStatus_t::CUDNN_STATUS_SUCCESS as u32)
        .filter(|p| p.algo < pass.algorithms() && p.memory <= max_workspace)
        .filter_map(|p| {
            math_from(p.math, tf32).map(|math| Choice {
                algo: p.algo,
                math,
                workspace: p.memory,
            })
        })
        .collect()
}

/// The workspace a benchmark search gets: the largest any heuristic candidate needs, so that
/// every one of them can be timed.
pub(super) fn search_workspace(candidates: &[Choice]) -> usize {
    candidates.iter().map(|c| c.workspace).max().unwrap_or(0)
}

fn cache() -> &'static Mutex<HashMap<AlgoKey, Choice>> {
    static CACHE: OnceLock<Mutex<HashMap<AlgoKey, Choice>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

pub(super) fn cached(key: &AlgoKey) -> Option<Choice> {
    let cache = cache().lock().unwrap_or_else(|e| e.into_inner());
    cache.get(key).copied()
}

fn remember(key: AlgoKey, choice: Choice) {
    let mut cache = cache().lock().unwrap_or_else(|e| e.into_inner());
    cache.insert(key, choice);
}

/// Runs a pass with its cached algorithm, or searches (`search` gives the candidates, best
/// first) and runs the first candidate that succeeds, caching it.
pub(super) fn run_pass(
    op: &'static str,
    key: AlgoKey,
    search: impl FnOnce() -> Result<Vec<Choice>>,
    mut run: impl FnMut(Choice) -> Result<()>,
) -> Result<()> {
    if let Some(choice) = cached(&key) {
        if run(choice).is_ok() {
            return Ok(());
        }
    }
    let mut last = None;
    for choice in search()? {
        match run(choice) {
            Ok(()) => {
                remember(key, choice);
                return Ok(());
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| Error::Internal {
        op,
        detail: format!(
            "cuDNN offers no algorithm for the {:?} pass of {:?} with TF32 {}",
            key.pass,
            key.shape,
            if key.tf32 { "allowed" } else { "off" }
        ),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::conv::Conv2dParams;
    use crate::testing::tensor;

    fn perf(algo: u32, status: u32, memory: usize, math: u32) -> RawPerf {
        RawPerf {
            algo,
            status,
            memory,
            math,
            ..RawPerf::default()
        }
    }

    #[test]
    fn perf_results_are_read_with_cudnns_layout() {
        use std::mem::{align_of, size_of};
        for (size, align) in [
            (
                size_of::<sys::cudnnConvolutionFwdAlgoPerf_t>(),
                align_of::<sys::cudnnConvolutionFwdAlgoPerf_t>(),
            ),
            (
                size_of::<sys::cudnnConvolutionBwdDataAlgoPerf_t>(),
                align_of::<sys::cudnnConvolutionBwdDataAlgoPerf_t>(),
            ),
            (
                size_of::<sys::cudnnConvolutionBwdFilterAlgoPerf_t>(),
                align_of::<sys::cudnnConvolutionBwdFilterAlgoPerf_t>(),
            ),
        ] {
            assert_eq!((size_of::<RawPerf>(), align_of::<RawPerf>()), (size, align));
        }
    }

    #[test]
    fn only_results_the_tf32_setting_allows_are_used() {
        let ok = sys::cudnnStatus_t::CUDNN_STATUS_SUCCESS as u32;
        let failed = sys::cudnnStatus_t::CUDNN_STATUS_NOT_SUPPORTED as u32;
        let perfs = [
            perf(1, ok, 100, 0),    // default math: TF32 on Ampere
            perf(6, ok, 0, 1),      // tensor-op math
            perf(2, ok, 50, 2),     // down-converts to half: never
            perf(0, ok, 10, 3),     // FMA
            perf(4, failed, 10, 3), // did not run
            perf(9, ok, 10, 3),     // not an algorithm of this pass
            perf(5, ok, 1 << 40, 3),
        ];
        let algos = |tf32, max| -> Vec<u32> {
            usable(&perfs, Pass::Forward, tf32, max)
                .iter()
                .map(|c| c.algo)
                .collect()
        };
        assert_eq!(algos(true, usize::MAX), [1, 6, 0, 5]);
        assert_eq!(algos(false, usize::MAX), [0, 5]);
        assert_eq!(algos(false, 1 << 20), [0]);
        let filter = usable(&perfs, Pass::BackwardFilter, false, usize::MAX);
        assert_eq!(filter.iter().map(|c| c.algo).collect::<Vec<_>>(), [0, 5]);
        assert_eq!(
            usable(&perfs, Pass::BackwardData, false, 100)[0].math,
            math_type(false)
        );
        assert_eq!(math_type(true), cudnnMathType_t::CUDNN_DEFAULT_MATH);
        assert_eq!(math_type(false), cudnnMathType_t::CUDNN_FMA_MATH);
        assert_eq!(
            search_workspace(&usable(&perfs, Pass::Forward, true, usize::MAX)),
            1 << 40
        );
        assert_eq!(search_workspace(&[]), 0);
    }

    fn key(pass: Pass, tf32: bool, batch: usize, stride: usize) -> AlgoKey {
        let device = crate::device::Device::Cpu;
        let (x, w) = (
            tensor(&[batch, 4, 9, 9], 1, device),
            tensor(&[6, 2, 3, 3], 2, device),
        );
        let params = Conv2dParams {
            stride: [stride, 1],
            groups: 2,
            ..Conv2dParams::default()
        };
        AlgoKey {
            device: 0,
            shape: ConvShape::new(&x, &w, None, params).unwrap(),
            pass,
            tf32,
            benchmark: true,
        }
    }

    #[test]
    fn the_cache_keys_every_pass_shape_tf32_and_benchmark_setting_apart() {
        let keys = [
            key(Pass::Forward, true, 2, 1),
            key(Pass::BackwardData, true, 2, 1),
            key(Pass::BackwardFilter, true, 2, 1),
            key(Pass::Forward, false, 2, 1),
            key(Pass::Forward, true, 3, 1),
            key(Pass::Forward, true, 2, 2),
            AlgoKey {
                device: 1,
                ..key(Pass::Forward, true, 2, 1)
            },
            AlgoKey {
                benchmark: false,
                ..key(Pass::Forward, true, 2, 1)
            },
        ];
        let distinct: std::collections::HashSet<_> = keys.iter().collect();
        assert_eq!(distinct.len(), keys.len());
        assert_eq!(key(Pass::Forward, true, 2, 1), keys[0]);
    }

    #[test]
    fn a_pass_runs_the_first_candidate_that_works_and_caches_it() {
        let key = AlgoKey {
            device: 7,
            ..key(Pass::BackwardData, false, 5, 2)
        };
        let choice = |algo| Choice {
            algo,
            math: cudnnMathType_t::CUDNN_FMA_MATH,
            workspace: 0,
        };
        let mut tried = Vec::new();
        run_pass(
            "conv2d",
            key,
            || Ok(vec![choice(3), choice(1), choice(0)]),
            |c| {
                tried.push(c.algo);
                if c.algo == 3 {
                    Err(Error::invalid("conv2d", "workspace unavailable"))
                } else {
                    Ok(())
                }
            },
        )
        .unwrap();
        assert_eq!(tried, [3, 1]);
        assert_eq!(cached(&key), Some(choice(1)));
        // The cached algorithm runs without a search.
        run_pass(
            "conv2d",
            key,
            || panic!("searched again"),
            |c| {
                assert_eq!(c.algo, 1);
                Ok(())
            },
        )
        .unwrap();
        // Nothing works: the last error is returned.
        let other = AlgoKey { device: 8, ..key };
        let err = run_pass(
            "conv2d",
            other,
            || Ok(vec![choice(2)]),
            |_| Err(Error::invalid("conv2d", "no luck")),
        );
        assert_eq!(err.unwrap_err().to_string(), "conv2d: no luck");
        let none = run_pass(
            "conv2d",
            AlgoKey { device: 9, ..key },
            || Ok(vec![]),
            |_| Ok(()),
        );
        assert_eq!(none.unwrap_err().code(), "Internal");
    }
}
