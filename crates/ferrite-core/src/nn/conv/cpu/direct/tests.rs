//! The direct kernels against float64 on every kind of shape they lay out differently.

use super::strided::StridedPhases;
use super::{avx512, supports, Direct};
use crate::nn::conv::reference;
use crate::nn::conv::{Conv2dParams, ConvShape};
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
/// whole tile; read in place, channels past a whole block and a last vector short of 16 positions.
#[test]
fn direct_kernels_match_a_float64_convolution() {
    if !avx512() {
        eprintln!("SKIPPED: no AVX-512 on this CPU");
        return;
    }
    let cases: [Case; 14] = [
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
    ];
    for case in cases {
        let s = shape(case);
        assert!(supports(&s), "{case:?}");
        let direct = Direct::new(&s);
        let x = values(s.n * s.c * s.h * s.w, 1);
        let w = values(s.o * s.cg() * s.taps(), 2);
        let bias = values(s.o, 3);
        let dy = values(s.n * s.o * s.ohw(), 4);
        assert_close(
            &direct.forward(&x, &w, Some(&bias)),
            &reference::forward(&s, &x, &w, Some(&bias)),
            1e-5,
        );
        assert_close(
            &direct.backward_weight(&x, &dy),
            &reference::backward_weight(&s, &x, &dy),
            1e-5,
        );
    }
}

/// The phase split against float64 loops: ResNet's stride-2 layer, odd sizes whose phases
/// differ in length, strides that differ per axis, stride 3 with a phase no tap of a 2-wide
/// kernel reaches, padding 0 and 2 (shifts of both signs), 5x5 kernels and channels that fill
/// no whole tile.
#[test]
fn strided_backward_input_matches_float64() {
    if !avx512() {
        eprintln!("SKIPPED: no AVX-512 on this CPU");
        return;
    }
    let cases: [Case; 7] = [
        ([2, 16, 32, 32], [32, 3, 3], [2, 2], [1, 1], [1, 1], 1),
        ([3, 5, 11, 9], [7, 3, 3], [2, 2], [1, 1], [1, 1], 1),
        ([2, 4, 10, 13], [9, 3, 3], [2, 3], [1, 0], [1, 1], 1),
        ([2, 3, 12, 12], [10, 2, 2], [3, 3], [0, 0], [1, 1], 1),
        ([2, 6, 9, 10], [5, 3, 3], [2, 2], [2, 2], [1, 1], 1),
        ([3, 9, 13, 12], [4, 5, 5], [2, 2], [2, 1], [1, 1], 1),
        ([2, 17, 8, 8], [3, 1, 1], [2, 2], [0, 0], [1, 1], 1),
    ];
    for case in cases {
        let s = shape(case);
        assert!(StridedPhases::supports(&s), "{case:?}");
        let w = values(s.o * s.c * s.taps(), 5);
        let dy = values(s.n * s.o * s.ohw(), 6);
        assert_close(
            &StridedPhases::new(&s).backward_input(&dy, &w),
            &reference::backward_input(&s, &w, &dy),
            1e-5,
        );
    }
}
