//! The direct kernels against float64 on every kind of shape they lay out differently, on the
//! instruction set of this CPU (AVX-512 on x86-64, NEON on aarch64).

use super::strided::StridedPhases;
use super::{isa, supports, Direct};
use crate::nn::conv::reference;
use crate::nn::conv::{Conv2dParams, ConvShape};
use crate::nn::Activation;
use crate::testing::{assert_close, values};

/// [n, c, h, w], [o, kh, kw], stride, padding, dilation, groups.
type Case = (
    [usize; 4],
    [usize; 3],
    [usize; 2],
    [usize; 2],
    [usize; 2],
    usize,
);

/// The direct kernels run on this CPU. The tests that call this are ignored where the machine
/// that built them lacks the instruction set (build.rs); run anyway (`--ignored`), or built on
/// one CPU and run on another without it, they fail here rather than pass without running.
fn assert_kernels_run_here() {
    assert!(
        isa::available(),
        "this CPU lacks the direct kernels' instruction set (AVX-512F and VL on x86-64, NEON on aarch64)"
    );
}

/// `assert_close(got, want, 1e-5)`; the largest error relative to `max(|want|, 1)`.
fn max_error(got: &[f32], want: &[f64]) -> f64 {
    assert_close(got, want, 1e-5);
    got.iter()
        .zip(want)
        .map(|(&g, &w)| (g as f64 - w).abs() / w.abs().max(1.0))
        .fold(0.0, f64::max)
}

fn shape((input, weight, stride, padding, dilation, groups): Case) -> ConvShape {
    let p = Conv2dParams {
        stride,
        padding,
        dilation,
        groups,
    };
    reference::shape(input, weight, p)
}

/// Every kind of shape the direct kernels lay out differently, against float64 loops: odd sizes,
/// stride 2 and 3 (phase planes; at stride 2 rows longer than one 32-value split, even and odd
/// padding), dilation, unequal padding, groups, channels that fill no whole tile, a batch smaller
/// than the thread count, 5x5 kernels, at stride 1 rows sharing their padding columns (no
/// padding, padding wider than the kernel's reach) and grids of 1, 2 or 3 vectors past the last
/// whole tile; read in place, channels past a whole block, a last vector short of a whole one, and
/// rows narrower than a NEON vector with fewer output channels than one.
#[test]
#[cfg_attr(
    not(ferrite_direct_isa_on_host),
    ignore = "the building CPU has no AVX-512F+VL, so no direct kernel can run"
)]
fn direct_kernels_match_a_float64_convolution() {
    assert_kernels_run_here();
    let cases: [Case; 15] = [
        ([2, 3, 11, 9], [5, 3, 3], [1, 1], [1, 1], [1, 1], 1),
        ([3, 3, 35, 37], [4, 3, 3], [2, 2], [2, 0], [1, 1], 1),
        ([3, 16, 16, 16], [16, 3, 3], [1, 1], [1, 1], [1, 1], 1),
        ([2, 9, 13, 12], [20, 3, 3], [2, 2], [1, 1], [1, 1], 1),
        ([2, 4, 14, 15], [6, 3, 3], [3, 2], [2, 0], [1, 1], 1),
        ([2, 6, 12, 12], [34, 3, 3], [1, 1], [2, 2], [2, 2], 2),
        ([1, 5, 10, 10], [17, 3, 3], [1, 1], [1, 1], [1, 1], 1),
        ([2, 3, 12, 11], [4, 5, 5], [1, 1], [2, 1], [1, 1], 1),
        ([5, 33, 9, 9], [40, 3, 3], [1, 1], [0, 1], [1, 2], 1),
        ([3, 8, 8, 8], [16, 3, 3], [1, 1], [1, 1], [1, 1], 1),
        ([2, 4, 7, 9], [5, 3, 3], [1, 1], [1, 0], [1, 1], 1),
        ([2, 3, 7, 6], [5, 3, 3], [1, 1], [3, 3], [1, 1], 1),
        ([2, 70, 8, 8], [12, 3, 3], [1, 1], [1, 1], [1, 1], 1),
        ([2, 3, 9, 7], [5, 5, 5], [1, 1], [2, 2], [1, 1], 1),
        ([2, 5, 10, 3], [3, 3, 3], [1, 1], [1, 1], [1, 1], 1),
    ];
    let mut worst: f64 = 0.0;
    for case in cases {
        let s = shape(case);
        assert!(supports(&s), "{case:?}");
        let direct = Direct::new(&s);
        let x = values(s.n * s.c * s.h * s.w, 1);
        let w = values(s.o * s.cg() * s.taps(), 2);
        let bias = values(s.o, 3);
        let dy = values(s.n * s.o * s.ohw(), 4);
        worst = worst.max(max_error(
            &direct.forward(&x, &w, Some(&bias), Activation::Identity),
            &reference::forward(&s, &x, &w, Some(&bias)),
        ));
        worst = worst.max(max_error(
            &direct.backward_weight(&x, &dy),
            &reference::backward_weight(&s, &x, &dy),
        ));
    }
    eprintln!("direct forward and weight gradient: largest relative error {worst:.2e}");
}

/// The phase split against float64 loops: ResNet's stride-2 layer, odd sizes whose phases
/// differ in length, strides that differ per axis, stride 3 with a phase no tap of a 2-wide
/// kernel reaches, padding 0 and 2 (shifts of both signs), 5x5 kernels and channels that fill
/// no whole tile.
#[test]
#[cfg_attr(
    not(ferrite_direct_isa_on_host),
    ignore = "the building CPU has no AVX-512F+VL, so no direct kernel can run"
)]
fn strided_backward_input_matches_float64() {
    assert_kernels_run_here();
    let cases: [Case; 7] = [
        ([2, 16, 32, 32], [32, 3, 3], [2, 2], [1, 1], [1, 1], 1),
        ([3, 5, 11, 9], [7, 3, 3], [2, 2], [1, 1], [1, 1], 1),
        ([2, 4, 10, 13], [9, 3, 3], [2, 3], [1, 0], [1, 1], 1),
        ([2, 3, 12, 12], [10, 2, 2], [3, 3], [0, 0], [1, 1], 1),
        ([2, 6, 9, 10], [5, 3, 3], [2, 2], [2, 2], [1, 1], 1),
        ([3, 9, 13, 12], [4, 5, 5], [2, 2], [2, 1], [1, 1], 1),
        ([2, 17, 8, 8], [3, 1, 1], [2, 2], [0, 0], [1, 1], 1),
    ];
    let mut worst: f64 = 0.0;
    for case in cases {
        let s = shape(case);
        assert!(StridedPhases::supports(&s), "{case:?}");
        let w = values(s.o * s.c * s.taps(), 5);
        let dy = values(s.n * s.o * s.ohw(), 6);
        worst = worst.max(max_error(
            &StridedPhases::new(&s).backward_input(&dy, &w),
            &reference::backward_input(&s, &w, &dy),
        ));
    }
    eprintln!("stride-phase input gradient: largest relative error {worst:.2e}");
}
