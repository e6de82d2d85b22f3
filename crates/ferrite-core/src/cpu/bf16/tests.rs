use half::bf16;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;

/// The bf16 kernels run on this CPU. The tests that call this are ignored where the machine that
/// built them lacks AVX512-BF16 (build.rs); run anyway, they fail here rather than pass without
/// running.
pub(crate) fn assert_bf16_kernels_run_here() {
    assert!(
        available(),
        "this CPU lacks AVX512-BF16 (with AVX-512BW and DQ)"
    );
}

/// Where the building CPU has AMX-BF16, the products below run on its tiles too: a failed grant of
/// the tile registers would otherwise leave them untested without a word.
#[test]
#[cfg_attr(
    not(ferrite_amx_on_host),
    ignore = "the building CPU has no AMX-BF16 (or this is not Linux), so the tile kernel cannot run"
)]
fn the_tile_kernel_runs_here() {
    assert_eq!(Kernel::here(), [Kernel::Dot, Kernel::Tiles]);
    assert_eq!(Kernel::best(), Kernel::Tiles);
}

/// How an operand's lines and depth are laid out in memory.
#[derive(Clone, Copy, Debug)]
enum Layout {
    /// Depth contiguous (a row-major left operand, a transposed right one).
    KContiguous,
    /// Lines contiguous (a row-major right operand, a transposed left one).
    LinesContiguous,
    /// Neither: both strides above 1, with gaps.
    Gappy,
    /// Every line the same data (a broadcast operand): line stride 0.
    Broadcast,
}

const LAYOUTS: [Layout; 4] = [
    Layout::KContiguous,
    Layout::LinesContiguous,
    Layout::Gappy,
    Layout::Broadcast,
];

/// An owned operand of `lines x k` values and the strides to read it through.
struct Operand<T> {
    data: Vec<T>,
    lines: usize,
    k: usize,
    line_stride: usize,
    k_stride: usize,
}

impl<T: Element> Operand<T> {
    fn strided(&self) -> Strided<'_, T> {
        Strided {
            data: &self.data,
            lines: self.lines,
            k: self.k,
            line_stride: self.line_stride,
            k_stride: self.k_stride,
        }
    }

    fn at(&self, line: usize, i: usize) -> T {
        self.data[line * self.line_stride + i * self.k_stride]
    }
}

/// Small integers (exact in bf16, and their sums exact in float32) or normal draws.
fn operand(
    rng: &mut ChaCha8Rng,
    lines: usize,
    k: usize,
    layout: Layout,
    ints: bool,
) -> Operand<f32> {
    let (line_stride, k_stride, len) = match layout {
        Layout::KContiguous => (k, 1, lines * k),
        Layout::LinesContiguous => (1, lines, lines * k),
        Layout::Gappy => (2 * k + 1, 2, lines * (2 * k + 1)),
        Layout::Broadcast => (0, 1, k),
    };
    let data = (0..len.max(1))
        .map(|_| {
            if ints {
                rng.random_range(-4i32..=4) as f32
            } else {
                rng.sample::<f32, _>(rand_distr::StandardNormal)
            }
        })
        .collect();
    Operand {
        data,
        lines,
        k,
        line_stride,
        k_stride,
    }
}

fn to_bf16(op: &Operand<f32>) -> Operand<bf16> {
    Operand {
        data: op.data.iter().map(|&x| bf16::from_f32(x)).collect(),
        lines: op.lines,
        k: op.k,
        line_stride: op.line_stride,
        k_stride: op.k_stride,
    }
}

/// What a pack must write: `pair(bf16::from_f32(x[2p]), bf16::from_f32(x[2p + 1]))`, read plainly.
fn expected_pack<T: Element>(
    op: &Operand<T>,
    lines: Range<usize>,
    pairs: Range<usize>,
    stride: usize,
) -> Vec<u32> {
    let mut out = vec![u32::MAX; pairs.len() * stride];
    let value = |l: usize, i: usize| {
        if i < op.k {
            op.at(l, i).to_bf16()
        } else {
            bf16::ZERO
        }
    };
    for (row, p) in pairs.enumerate() {
        for (col, l) in lines.clone().enumerate() {
            out[row * stride + col] = pair(value(l, 2 * p), value(l, 2 * p + 1));
        }
    }
    out
}

fn check_pack<T: Element>(op: &Operand<T>, what: &str)
where
    for<'a> Strided<'a, T>: PackPairs,
{
    let pairs = op.k.div_ceil(2);
    for (lines, range) in [
        (0..op.lines, 0..pairs),
        (1.min(op.lines)..op.lines, pairs / 3..pairs),
    ] {
        let stride = lines.len() + 3;
        let mut got = vec![u32::MAX; range.len() * stride];
        op.strided()
            .pack(lines.clone(), range.clone(), stride, &mut got);
        assert_eq!(got, expected_pack(op, lines, range, stride), "{what}");
    }
}

#[test]
#[cfg_attr(
    not(ferrite_bf16_on_host),
    ignore = "the building CPU has no AVX512-BF16, so no bf16 kernel can run"
)]
fn packing_rounds_like_half_in_every_layout() {
    assert_bf16_kernels_run_here();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    // Random bit patterns (NaNs, infinities, subnormals included) and exact ties.
    let specials = [
        0.0f32,
        -0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        f32::MAX,
        f32::MIN_POSITIVE,
        f32::from_bits(1),
        f32::from_bits(0x8000_7fff),
        f32::from_bits(0x3f80_8000),
        f32::from_bits(0x3f81_8000),
        f32::from_bits(0x7f7f_ffff),
        f32::from_bits(0x7fc0_0001),
        f32::from_bits(0x0000_8000),
    ];
    for layout in LAYOUTS {
        for (lines, k) in [(1, 1), (3, 5), (16, 32), (17, 33), (40, 70), (5, 64)] {
            let mut op = operand(&mut rng, lines, k, layout, false);
            for (x, i) in op.data.iter_mut().zip(0..) {
                *x = if i % 3 == 0 {
                    specials[(i / 3) % specials.len()]
                } else {
                    f32::from_bits(rng.random())
                };
            }
            check_pack(&op, &format!("f32 {layout:?} {lines}x{k}"));
            check_pack(&to_bf16(&op), &format!("bf16 {layout:?} {lines}x{k}"));
            // Ordinary values (the one-instruction rounding), a quarter of them exact ties.
            let mut op = operand(&mut rng, lines, k, layout, false);
            for x in op.data.iter_mut().step_by(4) {
                *x = f32::from_bits(x.to_bits() & 0xffff_0000 | 0x8000);
            }
            check_pack(&op, &format!("f32 {layout:?} {lines}x{k} ordinary"));
        }
    }
}

/// `out`'s prior content, the product over the test's operands in float64, and a bound on its
/// error: each operand rounded to bf16 (relative 2^-8 each), float32 sums over k terms.
fn check_against_f64(
    got: &[f64],
    a: &Operand<f32>,
    b: &Operand<f32>,
    prior: &[f32],
    bias: Option<&[f32]>,
    bf16_out: bool,
    what: &str,
) {
    let (m, n, k) = (a.lines, b.lines, a.k);
    for i in 0..m {
        for j in 0..n {
            let (mut sum, mut magnitude) = (0f64, 0f64);
            for p in 0..k {
                let product = a.at(i, p) as f64 * b.at(j, p) as f64;
                sum += product;
                magnitude += product.abs();
            }
            let extra = prior[i * n + j] as f64 + bias.map_or(0.0, |b| b[i] as f64);
            let want = sum + extra;
            let eps = 2f64.powi(-8);
            let mut tol = magnitude * (2.0 * eps + eps * eps + (k as f64 + 2.0) * 2f64.powi(-24))
                + extra.abs() * 2f64.powi(-23);
            if bf16_out {
                tol += (want.abs() + tol) * eps;
            }
            let g = got[i * n + j];
            assert!(
                (g - want).abs() <= tol,
                "{what}: [{i},{j}] got {g}, want {want} ± {tol}"
            );
        }
    }
}

/// Every output kind of one product, against `reference` (exactly, for integer data) and float64.
fn check_product(kernel: Kernel, a: &Operand<f32>, b: &Operand<f32>, ints: bool, what: &str) {
    let (m, n) = (a.lines, b.lines);
    let bias: Vec<f32> = (0..m).map(|i| (i % 7) as f32 - 3.0).collect();
    let prior: Vec<f32> = (0..m * n).map(|i| (i % 5) as f32 - 2.0).collect();
    let zeros = vec![0f32; m * n];
    let (ab, bb) = (to_bf16(a), to_bf16(b));
    for parallel in [false, true] {
        for with_bias in [false, true] {
            let bias = with_bias.then_some(&bias[..]);
            let what = format!("{what} parallel {parallel} bias {with_bias}");
            let reference = reference([m, n], &a.strided(), &b.strided(), bias);

            // float32, overwritten, rows apart by more than n.
            let row_stride = n + 3;
            let mut out = vec![f32::NAN; (m - 1) * row_stride + n];
            let output = Output::F32 {
                data: &mut out,
                accumulate: false,
            };
            gemm_with(
                kernel,
                [m, n],
                &a.strided(),
                &b.strided(),
                output,
                row_stride,
                bias,
                parallel,
            );
            let dense: Vec<f32> = (0..m * n)
                .map(|x| out[x / n * row_stride + x % n])
                .collect();
            if ints {
                assert_eq!(dense, reference, "{what}: f32");
            }
            let wide: Vec<f64> = dense.iter().map(|&x| x as f64).collect();
            check_against_f64(&wide, a, b, &zeros, bias, false, &what);

            // float32, accumulated, from bf16 operands (the same values once rounded).
            let mut out = prior.clone();
            let output = Output::F32 {
                data: &mut out,
                accumulate: true,
            };
            gemm_with(
                kernel,
                [m, n],
                &ab.strided(),
                &bb.strided(),
                output,
                n,
                bias,
                parallel,
            );
            if ints {
                let want: Vec<f32> = reference.iter().zip(&prior).map(|(r, p)| r + p).collect();
                assert_eq!(out, want, "{what}: accumulate");
            }
            let wide: Vec<f64> = out.iter().map(|&x| x as f64).collect();
            check_against_f64(&wide, a, b, &prior, bias, false, &what);

            // bf16 out, one operand of each type.
            let mut out = vec![bf16::NAN; m * n];
            gemm_with(
                kernel,
                [m, n],
                &a.strided(),
                &bb.strided(),
                Output::Bf16 { data: &mut out },
                n,
                bias,
                parallel,
            );
            if ints {
                let want: Vec<bf16> = reference.iter().map(|&x| bf16::from_f32(x)).collect();
                assert_eq!(out, want, "{what}: bf16");
            }
            let wide: Vec<f64> = out.iter().map(|&x| x.to_f64()).collect();
            check_against_f64(&wide, a, b, &zeros, bias, true, &what);
        }
    }
}

/// Sizes around the tiles (8/12/16 rows x 48/32/16 columns), the depth block (256 pairs), the
/// row block (192) and the column chunk (384), and the degenerate ones.
const SHAPES: [[usize; 3]; 16] = [
    [1, 1, 1],
    [1, 1, 2],
    [1, 7, 3],
    [3, 1, 5],
    [5, 17, 1],
    [2, 3, 0],
    [8, 48, 256],
    [9, 49, 257],
    [17, 33, 255],
    [33, 16, 300],
    [25, 31, 77],
    [13, 100, 513],
    [200, 40, 30],
    [30, 400, 40],
    [7, 20, 600],
    [64, 97, 258],
];

#[test]
#[cfg_attr(
    not(ferrite_bf16_on_host),
    ignore = "the building CPU has no AVX512-BF16, so no bf16 kernel can run"
)]
fn products_match_the_reference_and_float64() {
    assert_bf16_kernels_run_here();
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    for (s, [m, n, k]) in SHAPES.into_iter().enumerate() {
        for (ai, a_layout) in LAYOUTS.into_iter().enumerate() {
            // Every pair of layouts would be 16 per shape; a rotation covers each with each.
            for b_layout in [LAYOUTS[(ai + s) % 4], LAYOUTS[(ai + s + 1) % 4]] {
                for ints in [true, false] {
                    let a = operand(&mut rng, m, k, a_layout, ints);
                    let b = operand(&mut rng, n, k, b_layout, ints);
                    for kernel in Kernel::here() {
                        let what = format!(
                            "{kernel:?} {m}x{n}x{k} a {a_layout:?} b {b_layout:?} ints {ints}"
                        );
                        check_product(kernel, &a, &b, ints, &what);
                    }
                }
            }
        }
    }
}

#[test]
#[cfg_attr(
    not(ferrite_bf16_on_host),
    ignore = "the building CPU has no AVX512-BF16, so no bf16 kernel can run"
)]
fn large_products_in_parallel_match_float64() {
    assert_bf16_kernels_run_here();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    // 800 rows of bf16 output over 3 depth blocks: more than one task's float32 buffer of rows.
    for [m, n, k] in [
        [300, 500, 700],
        [520, 16, 1200],
        [70, 30, 2000],
        [800, 20, 1100],
    ] {
        let a = operand(&mut rng, m, k, Layout::KContiguous, false);
        let b = operand(&mut rng, n, k, Layout::LinesContiguous, false);
        let zeros = vec![0.0; m * n];
        for kernel in Kernel::here() {
            let what = format!("{kernel:?} {m}x{n}x{k}");
            let mut out = vec![0f32; m * n];
            let output = Output::F32 {
                data: &mut out,
                accumulate: false,
            };
            let (ap, bp) = (a.strided(), b.strided());
            gemm_with(kernel, [m, n], &ap, &bp, output, n, None, true);
            let wide: Vec<f64> = out.iter().map(|&x| x as f64).collect();
            check_against_f64(&wide, &a, &b, &zeros, None, false, &what);
            let mut out = vec![bf16::ZERO; m * n];
            let output = Output::Bf16 { data: &mut out };
            gemm_with(kernel, [m, n], &ap, &bp, output, n, None, true);
            let wide: Vec<f64> = out.iter().map(|&x| x.to_f64()).collect();
            check_against_f64(&wide, &a, &b, &zeros, None, true, &what);
        }
    }
}
