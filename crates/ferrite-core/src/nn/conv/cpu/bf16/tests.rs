//! The bf16 kernels against float64, for every mix of float32 and bf16 operands, through the
//! plain product (`cpu::bf16::reference`, on every CPU) and through `cpu::bf16::gemm` where
//! AVX512-BF16 runs.

use half::bf16;

use super::pack::PackRuns;
use super::*;
use crate::cpu::bf16::reference;
use crate::nn::conv::reference::{self as f64ref, abs, params, shape};
use crate::nn::conv::Conv2dParams;
use crate::testing::values;

/// `cpu::bf16::reference` written into an `Output`, as `gemm` writes.
struct Plain;

impl Product for Plain {
    fn gemm(
        &self,
        [m, n]: [usize; 2],
        a: &impl PackPairs,
        b: &impl PackPairs,
        out: Output<'_>,
        row_stride: usize,
        row_bias: Option<&[f32]>,
        _parallel: bool,
    ) {
        let got = reference([m, n], a, b, row_bias);
        let rows = got.chunks(n.max(1)).enumerate().take(m);
        match out {
            Output::F32 { data, accumulate } => {
                for (i, row) in rows {
                    let data = &mut data[i * row_stride..][..n];
                    data.iter_mut()
                        .zip(row)
                        .for_each(|(d, &v)| *d = if accumulate { *d + v } else { v });
                }
            }
            Output::Bf16 { data } => {
                for (i, row) in rows {
                    let data = &mut data[i * row_stride..][..n];
                    data.iter_mut()
                        .zip(row)
                        .for_each(|(d, &v)| *d = bf16::from_f32(v));
                }
            }
        }
    }
}

/// The element types a test draws its operands and results from.
trait Kind: Float + std::fmt::Debug {
    const NAME: &'static str;
    /// Whether results of this type are rounded to bf16.
    const ROUNDED: bool;
}

impl Kind for f32 {
    const NAME: &'static str = "f32";
    const ROUNDED: bool = false;
}

impl Kind for bf16 {
    const NAME: &'static str = "bf16";
    const ROUNDED: bool = true;
}

/// Test values as `T`, and as the float32 the reference reads (the same values).
fn operand<T: Kind>(len: usize, seed: u64) -> (Vec<T>, Vec<f32>) {
    let v: Vec<T> = values(len, seed).into_iter().map(T::from_f32).collect();
    let exact = v.iter().map(|x| x.to_f32()).collect();
    (v, exact)
}

/// `got` within the bound of bf16 products summed in float32: each product of two operands rounded
/// to bf16 is off by at most 2^-7 of itself (2^-8 per operand), the float32 sum of `depth` of them
/// by `depth` * 2^-24 of the sum of their magnitudes (`scale`), and a bf16 result by 2^-8 more.
#[track_caller]
fn check<Y: Kind>(what: &str, got: &[Y], want: &[f64], scale: &[f64], depth: usize) {
    let rounded = if Y::ROUNDED { 2f64.powi(-8) } else { 0.0 };
    let tol = 2f64.powi(-7) + 2f64.powi(-8) * 2f64.powi(-7) + depth as f64 * 2f64.powi(-24);
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    for (i, ((g, &w), &s)) in got.iter().zip(want).zip(scale).enumerate() {
        let g = g.to_f32() as f64;
        let bound = tol * s + rounded * (w.abs() + tol * s) + f64::MIN_POSITIVE;
        assert!(
            (g - w).abs() <= bound,
            "{what}: element {i}: {g} vs {w} (scale {s}, bound {bound})"
        );
    }
}

/// Runs the three passes and the bias gradient of `s` with operands of types X (input and `dy`),
/// W (weight and bias), output Y, through `p`.
fn check_passes<X: Kind, W: Kind, Y: Kind>(p: &impl Product, s: &ConvShape, seed: u64, name: &str) {
    let (x, xf) = operand::<X>(s.n * s.c * s.hw(), seed);
    let (w, wf) = operand::<W>(s.o * s.k(), seed + 1);
    let (b, bf) = operand::<W>(s.o, seed + 2);
    let (dy, dyf) = operand::<X>(s.n * s.o * s.ohw(), seed + 3);
    let what = |pass: &str| {
        format!(
            "{name} {pass} x {} w {} out {} {s:?}",
            X::NAME,
            W::NAME,
            Y::NAME
        )
    };
    check::<Y>(
        &what("forward"),
        &forward::<X, W, W, Y>(p, s, &x, &w, Some(&b)),
        &f64ref::forward(s, &xf, &wf, Some(&bf)),
        &f64ref::forward(s, &abs(&xf), &abs(&wf), Some(&abs(&bf))),
        s.k(),
    );
    check::<Y>(
        &what("input gradient"),
        &backward_input::<X, W, Y>(p, s, &dy, &w),
        &f64ref::backward_input(s, &wf, &dyf),
        &f64ref::backward_input(s, &abs(&wf), &abs(&dyf)),
        s.og() * s.taps(),
    );
    check::<Y>(
        &what("weight gradient"),
        &backward_weight::<X, X, Y>(p, s, &x, &dy),
        &f64ref::backward_weight(s, &xf, &dyf),
        &f64ref::backward_weight(s, &abs(&xf), &abs(&dyf)),
        s.n * s.ohw(),
    );
    // The bias gradient is a float32 sum of exact values: only float32's rounding and Y's.
    let db = backward_bias::<X, Y>(s, &dy);
    let want = f64ref::backward_bias(s, &dyf);
    let scale = f64ref::backward_bias(s, &abs(&dyf));
    for (o, (g, (&w, &sc))) in db.iter().zip(want.iter().zip(&scale)).enumerate() {
        let rounded = if Y::ROUNDED { 2f64.powi(-8) } else { 0.0 };
        let bound = sc * s.ohw() as f64 * 2f64.powi(-23) + rounded * w.abs() + 1e-30;
        assert!(
            (g.to_f32() as f64 - w).abs() <= bound,
            "{}: channel {o}: {g:?} vs {w}",
            what("bias gradient")
        );
    }
}

/// Every mix of operand and result types for `s`.
fn check_mixes(p: &impl Product, s: &ConvShape, seed: u64, name: &str) {
    check_passes::<f32, f32, bf16>(p, s, seed, name);
    check_passes::<bf16, f32, f32>(p, s, seed, name);
    check_passes::<f32, bf16, f32>(p, s, seed, name);
    check_passes::<bf16, bf16, bf16>(p, s, seed, name);
}

/// 3x3 with padding 1 at `stride`.
fn three(stride: usize) -> Conv2dParams {
    params([stride, stride], [1, 1], [1, 1], 1)
}

/// Input [n, c, h, w], weight [o, kh, kw], parameters.
type Case = ([usize; 4], [usize; 3], Conv2dParams);

fn cases() -> Vec<Case> {
    let plain = params([1, 1], [0, 0], [1, 1], 1);
    vec![
        // The tutorial's layer kinds, smaller: 3 input channels, stride 2, small planes (folded).
        ([3, 3, 12, 12], [5, 3, 3], three(1)),
        ([3, 6, 9, 10], [7, 3, 3], three(2)),
        ([5, 9, 4, 4], [11, 3, 3], three(1)),
        ([7, 5, 2, 2], [6, 3, 3], three(1)),
        // Fewer output channels than input ones: the input gradient by the transposed
        // convolution, folded.
        ([6, 8, 3, 3], [5, 3, 3], three(1)),
        // One sample (an unbatched input): the product split across threads.
        ([1, 5, 7, 19], [3, 3, 3], three(1)),
        // 1x1 at stride 1 and 2, 5x5 with unequal padding, padding 0.
        ([2, 5, 5, 7], [9, 1, 1], plain),
        ([3, 6, 9, 9], [4, 1, 1], params([2, 2], [0, 0], [1, 1], 1)),
        ([2, 3, 12, 11], [4, 5, 5], params([1, 1], [2, 1], [1, 1], 1)),
        ([2, 4, 8, 9], [5, 3, 3], plain),
        // Dilation with groups, groups, dilation at stride 2.
        ([2, 8, 9, 10], [12, 3, 3], params([1, 1], [2, 2], [2, 2], 2)),
        ([3, 6, 8, 8], [4, 3, 3], params([1, 1], [1, 1], [1, 1], 2)),
        ([2, 4, 11, 11], [6, 3, 3], params([2, 2], [1, 2], [2, 1], 1)),
        // Padding wider than the kernel's span: no transposed convolution.
        ([2, 2, 3, 3], [3, 1, 2], params([1, 1], [1, 1], [1, 1], 1)),
        // An empty batch: empty results, zero weight and bias gradients.
        ([0, 3, 5, 5], [4, 3, 3], three(1)),
        // A column stride of 3 (no vector packing).
        ([2, 3, 10, 13], [4, 3, 3], params([1, 3], [1, 1], [1, 1], 1)),
        // Rows of more than 16 outputs (several vectors), odd plane sizes.
        ([2, 3, 21, 37], [4, 3, 3], three(1)),
    ]
}

#[test]
fn the_packing_matches_float64() {
    for (i, (input, weight, p)) in (0..).zip(cases()) {
        check_mixes(&Plain, &shape(input, weight, p), 10 * i, "plain");
    }
}

#[test]
#[cfg_attr(
    not(ferrite_bf16_on_host),
    ignore = "the building CPU has no AVX512-BF16, so no bf16 kernel can run"
)]
fn the_kernels_match_float64() {
    crate::cpu::bf16::tests::assert_bf16_kernels_run_here();
    for (i, (input, weight, p)) in (0..).zip(cases()) {
        check_mixes(&Bf16Gemm, &shape(input, weight, p), 10 * i, "gemm");
    }
}

/// The vector packing and the plain one agree bit for bit, runs cut anywhere, at step 1 and 3.
#[test]
fn vector_and_plain_packing_agree() {
    let row: Vec<f32> = values(40, 7).iter().map(|v| v * 3e4).collect();
    let row16: Vec<bf16> = row.iter().map(|&v| bf16::from_f32(v)).collect();
    for (start, lo, hi, len) in [
        (-3, 3, 20, 33),
        (0, 0, 40, 40),
        (5, 0, 30, 31),
        (-1, 1, 17, 17),
    ] {
        let run = |lo, hi| pack::Run::new(&row, start, lo, hi);
        let run16 = |lo, hi| pack::Run::new(&row16, start, lo, hi);
        let mut plain = vec![0u32; len];
        let mut vector = vec![1u32; len];
        pack::pack_runs_plainly([run(lo, hi), run(lo + 1, hi - 1)], 1, &mut plain);
        f32::pack_runs([run(lo, hi), run(lo + 1, hi - 1)], 1, &mut vector);
        assert_eq!(plain, vector, "f32 {start} {lo} {hi} {len}");
        pack::pack_runs_plainly([run16(lo, hi), run16(lo + 1, hi - 1)], 1, &mut plain);
        bf16::pack_runs([run16(lo, hi), run16(lo + 1, hi - 1)], 1, &mut vector);
        assert_eq!(plain, vector, "bf16 {start} {lo} {hi} {len}");
    }
    let run = |lo, hi| pack::Run::new(&row, -2, lo, hi);
    let (mut plain, mut vector) = (vec![0u32; 14], vec![1u32; 14]);
    pack::pack_runs_plainly([run(1, 14), run(2, 13)], 3, &mut plain);
    f32::pack_runs([run(1, 14), run(2, 13)], 3, &mut vector);
    assert_eq!(plain, vector, "f32 at step 3");
}
