//! `conv2d` as callers see it: values against float64, gradients against finite differences, the
//! route each pass takes, reproducibility, and typed errors. `cpu::tests` checks every route's
//! kernels on their own.

use super::cpu::{
    backward_input_route, backward_weight_route, forward_route, pairs_pay, tiles_take_forward,
    BackwardInputRoute, Route,
};
use super::reference::params;
use super::*;
use crate::autocast::DeviceType;
use crate::device::Device;
use crate::dtype::DType;
use crate::testing::{assert_close, floats, gradcheck, leaf, leaf_on, tensor, test_device, values};

/// An input shape, a weight shape, whether there is a bias, and the parameters.
type ForwardCase = ([usize; 4], [usize; 4], bool, Conv2dParams);

/// `conv2d` on `device` against the float64 reference.
fn check_forward(device: Device, (xs, ws, with_bias, p): ForwardCase) {
    let (x, w, b) = (
        tensor(&xs, 1, device),
        tensor(&ws, 2, device),
        tensor(&[ws[0]], 3, device),
    );
    let got = x.conv2d(&w, with_bias.then_some(&b), p).unwrap();
    let host = |t: &Tensor| t.to_vec_f32().unwrap();
    let s = reference::shape(xs, [ws[0], ws[2], ws[3]], p);
    let bias = with_bias.then(|| host(&b));
    let want = reference::forward(&s, &host(&x), &host(&w), bias.as_deref());
    assert_eq!(got.numel(), want.len(), "{xs:?} {ws:?} {p:?}");
    assert_close(&host(&got), &want, 1e-4);
}

test_device!(fn strides_past_the_input_leave_taps_that_read_nothing(device) {
    // Found by the fuzz suite (test/fuzz): a column stride of 2^31 panicked slicing the
    // input plane at the offset of a tap that no output column reads; so did padding as wide
    // as the dilated kernel around a 1-wide input.
    let cases: [ForwardCase; 3] = [
        ([2, 4, 12, 1], [6, 2, 1, 3], true, params([3, 1], [2, 3], [3, 3], 2)),
        ([2, 4, 11, 12], [6, 2, 5, 4], false, params([1, 1 << 31], [0, 3], [1, 3], 2)),
        ([1, 2, 5, 6], [3, 2, 2, 3], true, params([9, 4], [1, 2], [2, 1], 1)),
    ];
    for case in cases {
        check_forward(device, case);
    }
});

#[test]
fn outputs_over_the_allocation_limit_are_errors_before_any_buffer() {
    let x = Tensor::from_f32(vec![1.0], &[1, 1, 1, 1]).unwrap();
    let padding = Conv2dParams {
        padding: [1 << 20, 1 << 20],
        ..Conv2dParams::default()
    };
    // A [1, 1, 2^21 + 1, 2^21 + 1] output: 16 TiB of float32.
    let err = x.conv2d(&x, None, padding).unwrap_err();
    assert_eq!(err.code(), "OutOfMemory", "{err}");
    // Found by the fuzz suite: an empty batch passed, and planned planes 2^33 wide.
    let empty = Tensor::from_f32(vec![], &[0, 1, 3, 11]).unwrap();
    let wide = params([1, 1], [0, 1 << 32], [1, 1], 1);
    let err = empty.conv2d(&x, None, wide).unwrap_err();
    assert_eq!(err.code(), "OutOfMemory", "{err}");
}

test_device!(fn empty_inputs_have_empty_gradients(device) {
    // Found by the fuzz suite: padding gives an empty input outputs, and backward split the
    // input's gradient into chunks of no elements, which panicked.
    let x = leaf_on(&[3, 1, 0, 3], 1, device);
    let w = leaf_on(&[1, 1, 2, 4], 2, device);
    let y = x
        .conv2d(&w, None, params([1, 2], [2, 1], [1, 1], 1))
        .unwrap();
    assert_eq!(y.shape(), &[3, 1, 3, 1]);
    y.sum(&[], false).unwrap().backward(None, false).unwrap();
    assert_eq!(x.grad().unwrap().shape(), &[3, 1, 0, 3]);
    assert_eq!(w.grad().unwrap().to_vec_f32().unwrap(), vec![0.0; 8]);
});

test_device!(fn matches_a_direct_float64_convolution(device) {
    let d = Conv2dParams::default();
    let cases: [ForwardCase; 15] = [
        ([2, 3, 7, 9], [4, 3, 3, 3], true, d),
        ([2, 3, 7, 9], [4, 3, 2, 5], true, params([1, 2], [2, 1], [1, 1], 1)),
        ([1, 2, 9, 8], [3, 2, 3, 2], false, params([1, 1], [1, 0], [2, 2], 1)),
        ([2, 4, 6, 5], [6, 2, 3, 3], false, params([2, 2], [1, 1], [1, 1], 2)),
        ([3, 4, 7, 6], [4, 1, 3, 2], true, params([2, 1], [2, 1], [2, 1], 4)),
        ([5, 3, 5, 5], [2, 3, 5, 5], true, d),
        ([3, 5, 4, 6], [7, 5, 1, 1], true, d),
        ([2, 4, 3, 5], [6, 2, 1, 1], false, params([1, 1], [0, 0], [1, 1], 2)),
        ([2, 3, 6, 6], [4, 3, 1, 1], true, params([2, 2], [1, 1], [1, 1], 1)),
        ([9, 2, 5, 4], [3, 2, 3, 3], true, params([1, 1], [1, 1], [1, 1], 1)),
        // Planes of 16x16 outputs and more: batches that span chunks, padding on one axis only
        // or none, dilation with groups, non-square kernels.
        ([5, 3, 16, 16], [4, 3, 3, 3], true, params([1, 1], [1, 1], [1, 1], 1)),
        ([3, 4, 17, 18], [6, 2, 3, 2], true, params([1, 1], [2, 0], [2, 1], 2)),
        ([2, 3, 18, 18], [5, 3, 3, 3], false, params([1, 1], [0, 0], [1, 1], 1)),
        ([1, 2, 16, 20], [3, 2, 5, 3], true, params([1, 1], [2, 1], [1, 2], 1)),
        // One big image: the gemms split across threads instead of the batch.
        ([1, 16, 24, 20], [32, 16, 3, 3], true, params([1, 1], [1, 1], [1, 1], 1)),
    ];
    for case in cases {
        check_forward(device, case);
    }
});

#[test]
fn small_planes_go_by_tap_classes_and_match_float64() {
    let cases = [
        // VGG's 4x4 and 2x2 layers, a kernel wider than the plane, stride and dilation, and
        // padding wide enough that some outputs read nothing but padding (bias only).
        (
            [3, 6, 4, 4],
            [8, 6, 3, 3],
            params([1, 1], [1, 1], [1, 1], 1),
        ),
        (
            [5, 4, 2, 2],
            [6, 4, 3, 3],
            params([1, 1], [1, 1], [1, 1], 1),
        ),
        (
            [2, 3, 4, 4],
            [4, 3, 5, 5],
            params([1, 1], [2, 2], [1, 1], 1),
        ),
        (
            [2, 4, 5, 3],
            [6, 4, 3, 3],
            params([2, 1], [1, 2], [1, 2], 1),
        ),
        (
            [2, 2, 2, 2],
            [3, 2, 3, 3],
            params([1, 1], [3, 3], [1, 1], 1),
        ),
    ];
    for (xs, ws, p) in cases {
        let shape = ConvShape::new(&leaf(&xs, 1), &leaf(&ws, 2), None, p).unwrap();
        let what = format!("{xs:?} {ws:?} {p:?}");
        assert_eq!(forward_route(&shape), Route::TapClasses, "{what}");
        assert_eq!(backward_weight_route(&shape), Route::TapClasses, "{what}");
        check_forward(Device::Cpu, (xs, ws, true, p));
        let b = leaf(&[ws[0]], 3);
        gradcheck(&[leaf(&xs, 4), leaf(&ws, 5), b], |t| {
            t[0].conv2d(&t[1], t.get(2), p)
        });
    }
}

#[test]
fn wide_layers_go_by_winograd_and_match_float64() {
    // VGG's 512->512 layer at 4x4, cut to the fewest channels and samples Winograd takes: the
    // forward, the input gradient (the transposed convolution by Winograd too) and the weight
    // gradient against float64. `cpu::winograd` tests the arithmetic on more shapes.
    let ([n, c, h, w], o) = ([16, 128, 4, 4], 128);
    let p = params([1, 1], [1, 1], [1, 1], 1);
    let (x, weight) = (leaf(&[n, c, h, w], 60), leaf(&[o, c, 3, 3], 61));
    let shape = ConvShape::new(&x, &weight, None, p).unwrap();
    assert_eq!(forward_route(&shape), Route::Winograd);
    assert_eq!(
        backward_input_route(&shape),
        BackwardInputRoute::Transposed(Route::Winograd)
    );
    assert_eq!(backward_weight_route(&shape), Route::Winograd);
    let dy = values(n * o * h * w, 62);
    let y = x.conv2d(&weight, None, p).unwrap();
    let (xs, ws) = (x.to_vec_f32().unwrap(), weight.to_vec_f32().unwrap());
    assert_close(
        &y.to_vec_f32().unwrap(),
        &reference::forward(&shape, &xs, &ws, None),
        1e-4,
    );
    y.backward(
        Some(&Tensor::from_f32(dy.clone(), y.shape()).unwrap()),
        false,
    )
    .unwrap();
    assert_close(
        &x.grad().unwrap().to_vec_f32().unwrap(),
        &reference::backward_input(&shape, &ws, &dy),
        1e-4,
    );
    assert_close(
        &weight.grad().unwrap().to_vec_f32().unwrap(),
        &reference::backward_weight(&shape, &xs, &dy),
        1e-4,
    );
}

test_device!(fn an_empty_batch_gives_zero_weight_and_bias_gradients(device) {
    for (c, o, hw) in [(2, 3, 5), (3, 16, 32), (64, 64, 8), (256, 256, 8)] {
        let x = leaf_on(&[0, c, hw, hw], 1, device);
        let w = leaf_on(&[o, c, 3, 3], 2, device);
        let b = leaf_on(&[o], 3, device);
        let padded = params([1, 1], [1, 1], [1, 1], 1);
        let y = x.conv2d(&w, Some(&b), padded).unwrap();
        y.sum(&[], false).unwrap().backward(None, false).unwrap();
        assert!(w.grad().unwrap().to_vec_f32().unwrap().iter().all(|&g| g == 0.0));
        assert!(b.grad().unwrap().to_vec_f32().unwrap().iter().all(|&g| g == 0.0));
        assert_eq!(x.grad().unwrap().shape(), &[0, c, hw, hw]);
    }
});

test_device!(fn unbatched_and_empty_batches(device) {
    let x = tensor(&[3, 5, 6], 4, device);
    let w = tensor(&[2, 3, 3, 3], 5, device);
    let y = x.conv2d(&w, None, Conv2dParams::default()).unwrap();
    assert_eq!(y.shape(), &[2, 3, 4]);
    let batched = x
        .unsqueeze(0)
        .unwrap()
        .conv2d(&w, None, Conv2dParams::default())
        .unwrap();
    assert_eq!(y.to_vec_f32().unwrap(), batched.to_vec_f32().unwrap());
    let empty = tensor(&[0, 3, 5, 6], 6, device);
    assert_eq!(
        empty
            .conv2d(&w, None, Conv2dParams::default())
            .unwrap()
            .shape(),
        &[0, 2, 3, 4]
    );
    // Input planes with no rows: the output sees only padding.
    let flat = leaf_on(&[1, 3, 0, 6], 6, device);
    let y = flat
        .conv2d(
            &leaf_on(&[2, 3, 3, 3], 7, device),
            None,
            params([1, 1], [2, 1], [1, 1], 1),
        )
        .unwrap();
    assert_eq!(
        (y.shape(), y.to_vec_f32().unwrap()),
        (&[1, 2, 2, 6][..], vec![0.0; 24])
    );
    y.sum(&[], false).unwrap().backward(None, false).unwrap();
    assert_eq!(flat.grad().unwrap().shape(), &[1, 3, 0, 6]);
});

test_device!(fn an_arange_case_checks_by_hand(device) {
    // torch.nn.functional.conv2d(torch.arange(9.).view(1, 1, 3, 3), torch.ones(1, 1, 2, 2), padding=1)
    let x = Tensor::arange(0.0, 9.0, 1.0, DType::F32, device)
        .unwrap()
        .reshape(&[1, 1, 3, 3])
        .unwrap();
    let w = Tensor::ones(&[1, 1, 2, 2], DType::F32, device).unwrap();
    let y = x
        .conv2d(&w, None, params([1, 1], [1, 1], [1, 1], 1))
        .unwrap();
    assert_eq!(y.shape(), &[1, 1, 4, 4]);
    let want = [
        0., 1., 3., 2., 3., 8., 12., 7., 9., 20., 24., 13., 6., 13., 15., 8.,
    ];
    assert_eq!(y.to_vec_f32().unwrap(), want);
});

test_device!(fn gradients_match_finite_differences(device) {
    // (input, weight, bias if any, parameters, the seed of the input; the weight's and the bias's
    // follow it).
    let d = Conv2dParams::default();
    type Case<'a> = (&'a [usize], [usize; 4], Option<usize>, Conv2dParams, u64);
    let cases: [Case; 8] = [
        (&[2, 2, 5, 4], [3, 2, 3, 2], Some(3), d, 10),
        (&[2, 2, 5, 6], [3, 2, 2, 3], Some(3), params([1, 2], [2, 1], [1, 1], 1), 13),
        (&[1, 4, 6, 5], [4, 2, 2, 2], None, params([2, 1], [1, 1], [2, 2], 2), 16),
        (&[2, 3, 3, 4], [2, 3, 1, 1], Some(2), d, 18),
        (&[2, 4, 3], [2, 2, 2, 2], Some(2), params([1, 1], [1, 0], [1, 1], 1), 21),
        // Stride 1 with groups and dilation: the input gradient is a convolution of its own.
        (&[2, 4, 5, 6], [6, 2, 3, 2], None, params([1, 1], [2, 1], [2, 1], 2), 24),
        // More than 64 output channels per group: the weight gradient is accumulated row-major.
        (&[2, 2, 4, 3], [144, 1, 2, 2], Some(144), params([1, 1], [1, 0], [1, 1], 2), 28),
        // Padding wider than the kernel's span: the input gradient goes through col2im.
        (&[2, 2, 3, 3], [3, 2, 1, 2], None, params([1, 1], [1, 1], [1, 1], 1), 26),
    ];
    for (xs, ws, bias, p, seed) in cases {
        let mut inputs = vec![leaf_on(xs, seed, device), leaf_on(&ws, seed + 1, device)];
        inputs.extend(bias.map(|o| leaf_on(&[o], seed + 2, device)));
        gradcheck(&inputs, |x| x[0].conv2d(&x[1], x.get(2), p));
    }
});

#[test]
fn backward_weight_is_the_same_bit_for_bit_on_every_run() {
    // Four threads on fewer cores steal work in a different order from run to run; the sum of
    // the per-thread partial gradients must not follow it, or training would not be reproducible.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .build()
        .unwrap();
    let p = params([1, 1], [1, 1], [1, 1], 1);
    // 8x8 planes go direct (im2col without AVX-512 or NEON), 4x4 ones by tap classes.
    let direct_or_im2col = if Route::Direct.supports(&reference::shape([1, 8, 8, 8], [8, 3, 3], p))
    {
        Route::Direct
    } else {
        Route::Im2col
    };
    for ([n, c, hw], o, route) in [
        ([300, 8, 8], 8, direct_or_im2col),
        ([300, 8, 4], 8, Route::TapClasses),
    ] {
        let s = reference::shape([n, c, hw, hw], [o, 3, 3], p);
        assert_eq!(pool.install(|| backward_weight_route(&s)), route, "{s:?}");
        let x = Tensor::from_f32(values(n * c * hw * hw, 50), &[n, c, hw, hw]).unwrap();
        let dy = Tensor::from_f32(values(n * o * hw * hw, 51), &[n, o, hw, hw]).unwrap();
        let grad = || {
            pool.install(|| {
                let w = leaf(&[o, c, 3, 3], 52);
                x.conv2d(&w, None, p)
                    .unwrap()
                    .backward(Some(&dy), false)
                    .unwrap();
                w.grad().unwrap().to_vec_f32().unwrap()
            })
        };
        let first = grad();
        for _ in 0..20 {
            assert_eq!(grad(), first);
        }
    }
}

#[test]
fn batches_split_into_chunks_match_sample_by_sample() {
    // Enough samples for several chunks of side-by-side im2col columns, the last one partial
    // (without AVX-512 or NEON; with them the direct kernels take the stride-1 layer, and the
    // stride phases the strided layers' input gradients): at stride 1 the input gradient is a
    // convolution and 9x8 outputs take the weight gradient sample by sample; at stride 2 the
    // input gradient goes through col2im, and the weight gradient through two chunks (5x10
    // outputs) or one, its gemm split across threads (5x5). `cpu::tests` runs im2col on such
    // batches whatever the CPU.
    let ([n, c, h, w], o) = ([37, 8, 9, 8], 8);
    let xs = values(n * c * h * w, 40);
    // On one thread, one task runs several chunks through the same buffers, the last one narrower.
    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    for (stride, padding) in [([1, 1], [1, 1]), ([2, 1], [1, 2]), ([2, 2], [1, 2])] {
        let p = params(stride, padding, [1, 1], 1);
        let gs = values(n * o * h * w, 43);
        let run = |x: &[f32], shape: &[usize], sample: usize| {
            let x = Tensor::from_f32(x.to_vec(), shape).unwrap();
            let (wt, bt) = (leaf(&[o, c, 3, 3], 41), leaf(&[o], 42));
            x.set_requires_grad(true).unwrap();
            let y = x.conv2d(&wt, Some(&bt), p).unwrap();
            let g = Tensor::from_f32(gs[sample * y.numel()..][..y.numel()].to_vec(), y.shape())
                .unwrap();
            y.backward(Some(&g), false).unwrap();
            [y, x.grad().unwrap(), wt.grad().unwrap(), bt.grad().unwrap()]
                .map(|t| t.to_vec_f32().unwrap())
        };
        let samples: Vec<_> = (0..n)
            .map(|i| run(&xs[i * c * h * w..][..c * h * w], &[c, h, w], i))
            .collect();
        let sum = |k: usize| {
            let mut total = vec![0f64; samples[0][k].len()];
            samples.iter().for_each(|s| {
                total
                    .iter_mut()
                    .zip(&s[k])
                    .for_each(|(t, &v)| *t += v as f64)
            });
            total
        };
        for batched in [
            run(&xs, &[n, c, h, w], 0),
            one_thread.install(|| run(&xs, &[n, c, h, w], 0)),
        ] {
            for k in 0..2 {
                let want: Vec<f64> = samples
                    .iter()
                    .flat_map(|s| s[k].iter().map(|&v| v as f64))
                    .collect();
                assert_close(&batched[k], &want, 1e-5);
            }
            assert_close(&batched[2], &sum(2), 1e-4);
            assert_close(&batched[3], &sum(3), 1e-4);
        }
    }
}

test_device!(fn backward_computes_only_the_gradients_asked_for(device) {
    let x = tensor(&[2, 3, 5, 5], 30, device);
    let w = leaf_on(&[4, 3, 3, 3], 31, device);
    let b = tensor(&[4], 32, device);
    let y = x.conv2d(&w, Some(&b), Conv2dParams::default()).unwrap();
    assert_eq!(y.grad_fn_name(), Some("ConvolutionBackward0"));
    y.sum(&[], false).unwrap().backward(None, false).unwrap();
    assert_eq!(w.grad().unwrap().shape(), &[4, 3, 3, 3]);
    assert!(x.grad().is_none() && b.grad().is_none());
});

#[test]
fn bad_operands_are_typed_errors() {
    let t = |shape: &[usize]| Tensor::from_f32(vec![0.5; shape.iter().product()], shape).unwrap();
    let d = Conv2dParams::default();
    let err = t(&[1, 4, 8, 8])
        .conv2d(&t(&[16, 3, 3, 3]), None, params([1, 1], [0, 0], [1, 1], 2))
        .unwrap_err();
    assert_eq!(err.to_string(), "conv2d: expected input[1, 4, 8, 8] to have 6 channels (weight [16, 3, 3, 3] with groups 2), but got 4 channels");
    assert_eq!(err.code(), "ShapeMismatch");
    assert!(t(&[1, 4, 2, 8])
        .conv2d(&t(&[2, 4, 3, 3]), None, params([1, 1], [1, 0], [1, 1], 1))
        .is_ok());
    // (input, weight, bias, parameters, error code)
    let ints = Tensor::from_i64(vec![0; 4 * 64], &[1, 4, 8, 8]).unwrap();
    let int_bias = Tensor::from_i64(vec![0, 0], &[2]).unwrap();
    let cases: [(Tensor, Tensor, Option<Tensor>, Conv2dParams, &str); 14] = [
        (
            t(&[4, 8, 8, 1, 1]),
            t(&[2, 4, 3, 3]),
            None,
            d,
            "ShapeMismatch",
        ),
        (t(&[8, 8]), t(&[2, 4, 3, 3]), None, d, "ShapeMismatch"),
        (t(&[1, 4, 8, 8]), t(&[2, 4, 3]), None, d, "ShapeMismatch"),
        (t(&[1, 4, 2, 8]), t(&[2, 4, 3, 3]), None, d, "ShapeMismatch"),
        (
            t(&[1, 4, 5, 8]),
            t(&[2, 4, 3, 3]),
            None,
            params([1, 1], [0, 0], [3, 1], 1),
            "ShapeMismatch",
        ),
        (
            t(&[1, 4, 8, 8]),
            t(&[2, 4, 3, 3]),
            None,
            params([0, 1], [0, 0], [1, 1], 1),
            "InvalidArgument",
        ),
        (
            t(&[1, 4, 8, 8]),
            t(&[2, 4, 3, 3]),
            None,
            params([1, 1], [0, 0], [1, 0], 1),
            "InvalidArgument",
        ),
        (
            t(&[1, 4, 8, 8]),
            t(&[2, 4, 3, 3]),
            None,
            params([1, 1], [0, 0], [1, 1], 0),
            "InvalidArgument",
        ),
        (
            t(&[1, 4, 8, 8]),
            t(&[3, 2, 3, 3]),
            None,
            params([1, 1], [0, 0], [1, 1], 2),
            "ShapeMismatch",
        ),
        (t(&[1, 4, 8, 8]), t(&[2, 4, 0, 3]), None, d, "ShapeMismatch"),
        (
            t(&[1, 4, 8, 8]),
            t(&[2, 4, 3, 3]),
            Some(t(&[3])),
            d,
            "ShapeMismatch",
        ),
        (
            t(&[1, 4, 8, 8]),
            t(&[2, 4, 3, 3]),
            Some(t(&[1, 2])),
            d,
            "ShapeMismatch",
        ),
        (ints, t(&[2, 4, 3, 3]), None, d, "DTypeMismatch"),
        (
            t(&[1, 4, 8, 8]),
            t(&[2, 4, 3, 3]),
            Some(int_bias),
            d,
            "DTypeMismatch",
        ),
    ];
    for (x, w, b, p, code) in cases {
        let err = x.conv2d(&w, b.as_ref(), p).unwrap_err();
        assert_eq!(
            err.code(),
            code,
            "{:?} {:?} {p:?}: {err}",
            x.shape(),
            w.shape()
        );
    }
}

/// Autocast on for the CPU while alive.
struct Autocast(Option<DType>);

impl Autocast {
    fn on() -> Autocast {
        Autocast(crate::autocast::set(DeviceType::Cpu, Some(DType::BF16)).unwrap())
    }
}

impl Drop for Autocast {
    fn drop(&mut self) {
        crate::autocast::set(DeviceType::Cpu, self.0).unwrap();
    }
}

/// A float32 leaf, or (with `dtype` bf16) a bf16 leaf of the same values rounded.
fn leaf_of(shape: &[usize], seed: u64, dtype: DType) -> Tensor {
    let t = tensor(shape, seed, Device::Cpu).to_dtype(dtype).unwrap();
    t.set_requires_grad(true).unwrap();
    t
}

/// A tensor's values as float32, whatever its float dtype.
fn host(t: &Tensor) -> Vec<f32> {
    t.to_dtype(DType::F32).unwrap().to_vec_f32().unwrap()
}

/// `got` within `2^-6` of the sum of the magnitudes of the products behind each element (bf16
/// operands and a bf16 result: 2^-7 + 2^-8 with room for float32's sums).
#[track_caller]
fn assert_bf16_close(what: &str, got: &[f32], want: &[f64], scale: &[f64]) {
    reference::assert_within_scale(what, got, want, scale, 2f64.powi(-6));
}

/// Runs `conv2d` on operands of `dtypes` (input, weight, bias) and backward with `dy` = 1, and
/// checks the output's dtype (`out`), each gradient's (its input's) and every value.
fn check_bf16_conv(dtypes: [DType; 3], [c, o]: [usize; 2], out: DType) {
    let p = params([1, 1], [1, 1], [1, 1], 1);
    // 35 samples of a 6x5 plane: 1050 positions, enough for the bf16 kernels.
    let (xs, ws) = ([35, c, 6, 5], [o, c, 3, 3]);
    let (x, w, b) = (
        leaf_of(&xs, 1, dtypes[0]),
        leaf_of(&ws, 2, dtypes[1]),
        leaf_of(&[o], 3, dtypes[2]),
    );
    let y = x.conv2d(&w, Some(&b), p).unwrap();
    assert_eq!(y.dtype(), out, "{dtypes:?}");
    let s = reference::shape(xs, [o, 3, 3], p);
    let (xv, wv, bv) = (host(&x), host(&w), host(&b));
    let abs = reference::abs;
    let what = format!("{dtypes:?}");
    assert_bf16_close(
        &format!("forward {what}"),
        &host(&y),
        &reference::forward(&s, &xv, &wv, Some(&bv)),
        &reference::forward(&s, &abs(&xv), &abs(&wv), Some(&abs(&bv))),
    );
    let dy = vec![1f32; y.numel()];
    {
        let _off = crate::autocast::Suspended::new();
        y.sum(&[], false).unwrap().backward(None, false).unwrap();
    }
    let grads = [&x, &w, &b].map(|t| t.grad().unwrap());
    for (t, g) in [&x, &w, &b].iter().zip(&grads) {
        assert_eq!(
            g.dtype(),
            t.dtype(),
            "{what}: a gradient in its input's dtype"
        );
    }
    assert_bf16_close(
        &format!("input gradient {what}"),
        &host(&grads[0]),
        &reference::backward_input(&s, &wv, &dy),
        &reference::backward_input(&s, &abs(&wv), &dy),
    );
    assert_bf16_close(
        &format!("weight gradient {what}"),
        &host(&grads[1]),
        &reference::backward_weight(&s, &xv, &dy),
        &reference::backward_weight(&s, &abs(&xv), &dy),
    );
    assert_bf16_close(
        &format!("bias gradient {what}"),
        &host(&grads[2]),
        &reference::backward_bias(&s, &dy),
        &reference::backward_bias(&s, &dy),
    );
}

/// Under autocast, float32 and bf16 operands in any mix give gradients in each operand's dtype and
/// a bf16 output by the bf16 gemm, where the CPU has it and the layer has 32 channels or more in
/// and out on a plane too small for the direct kernels (and no AMX tiles take it); else a float32
/// output.
#[test]
fn autocast_gives_bf16_and_each_gradient_in_its_inputs_dtype() {
    use DType::{BF16, F32};
    let _on = Autocast::on();
    let wide_shape = reference::shape(
        [35, 32, 6, 5],
        [32, 3, 3],
        params([1, 1], [1, 1], [1, 1], 1),
    );
    let wide = if crate::autocast::native_bf16(Device::Cpu) && !tiles_take_forward(&wide_shape) {
        BF16
    } else {
        F32
    };
    for dtypes in [
        [F32, F32, F32],
        [BF16, F32, F32],
        [F32, BF16, BF16],
        [BF16, BF16, F32],
    ] {
        check_bf16_conv(dtypes, [32, 32], wide);
        check_bf16_conv(dtypes, [3, 4], F32);
    }
}

/// Outside autocast, bf16 operands give bf16 (by the bf16 kernels, or in float32 rounded once).
#[test]
fn bf16_operands_give_bf16() {
    check_bf16_conv([DType::BF16; 3], [3, 4], DType::BF16);
    check_bf16_conv([DType::BF16; 3], [32, 32], DType::BF16);
}

#[test]
fn operands_of_different_dtypes_are_typed_errors_outside_autocast() {
    let x = tensor(&[1, 3, 5, 5], 1, Device::Cpu)
        .to_dtype(DType::BF16)
        .unwrap();
    let w = tensor(&[2, 3, 3, 3], 2, Device::Cpu);
    let err = x.conv2d(&w, None, Conv2dParams::default()).unwrap_err();
    assert_eq!(err.code(), "DTypeMismatch");
    assert!(err.to_string().contains("should be the same"), "{err}");
    let b = tensor(&[2], 3, Device::Cpu);
    let w = w.to_dtype(DType::BF16).unwrap();
    let err = x.conv2d(&w, Some(&b), Conv2dParams::default()).unwrap_err();
    assert!(err.to_string().contains("bias type"), "{err}");
    let _on = Autocast::on();
    assert!(x.conv2d(&w, Some(&b), Conv2dParams::default()).is_ok());
}

/// Under autocast, a layer the direct kernels take computes on bf16 pairs (of channels; of
/// positions for the weight gradient): its output and gradients are float32 sums of the
/// bf16-rounded operands' products, which float32 products miss by far more than float32
/// rounding. Where AMX tiles run, they take it instead (the same products); where only the bf16
/// gemm would, the pairs do not pay and such a small layer computes in float32, within float32
/// rounding of the unrounded operands' products; so does every layer where autocast takes no bf16
/// kernels (Intel without AMX; `direct::pairs`' tests check the pairs there). All three come back
/// float32.
#[test]
#[cfg_attr(
    not(ferrite_bf16_on_host),
    ignore = "the building CPU has no AVX512-BF16, so no bf16 kernel can run"
)]
fn autocast_runs_direct_layers_on_bf16_channel_pairs() {
    crate::cpu::bf16::tests::assert_bf16_kernels_run_here();
    let p = params([1, 1], [1, 1], [1, 1], 1);
    // Four samples: 1024 positions, enough for the bf16 kernels (`bf16_batch_pays`).
    let ([n, c, o], hw) = ([4, 16, 16], 16);
    let s = reference::shape([n, c, hw, hw], [o, 3, 3], p);
    assert_eq!(forward_route(&s), Route::Direct);
    assert_eq!(
        backward_input_route(&s),
        BackwardInputRoute::Transposed(Route::Direct)
    );
    assert_eq!(backward_weight_route(&s), Route::Direct);
    let (x, w) = (leaf(&[n, c, hw, hw], 1), leaf(&[o, c, 3, 3], 2));
    let y = {
        let _on = Autocast::on();
        x.conv2d(&w, None, p).unwrap()
    };
    let dy = tensor(y.shape(), 3, Device::Cpu);
    y.backward(Some(&dy), false).unwrap();
    let (dx, dw) = (x.grad().unwrap(), w.grad().unwrap());
    for t in [&y, &dx, &dw] {
        assert_eq!(t.dtype(), DType::F32);
    }
    let rounds =
        crate::autocast::native_bf16(Device::Cpu) && (pairs_pay() || tiles_take_forward(&s));
    let round = |t: &Tensor| match rounds {
        true => host(&t.to_dtype(DType::BF16).unwrap()),
        false => host(t),
    };
    let (xv, wv) = (host(&x), host(&w));
    let (xr, wr, dyr) = (round(&x), round(&w), round(&dy));
    let abs = reference::abs;
    // Float32 sums of exact products: 9c (or 9o) additions, each off by 2^-24 of the sum so far.
    let sums = |terms: usize| terms as f64 * f64::from(f32::EPSILON) / 2.0;
    let forward_scale = reference::forward(&s, &abs(&xr), &abs(&wr), None);
    let check = |what, got: &[f32], want: &[f64], scale: &[f64], tol| {
        reference::assert_within_scale(what, got, want, scale, tol)
    };
    check(
        "forward",
        &host(&y),
        &reference::forward(&s, &xr, &wr, None),
        &forward_scale,
        sums(9 * c),
    );
    check(
        "input gradient",
        &host(&dx),
        &reference::backward_input(&s, &wr, &dyr),
        &reference::backward_input(&s, &abs(&wr), &abs(&dyr)),
        sums(9 * o),
    );
    check(
        "weight gradient",
        &host(&dw),
        &reference::backward_weight(&s, &xr, &dyr),
        &reference::backward_weight(&s, &abs(&xr), &abs(&dyr)),
        sums(n * hw * hw),
    );
    // Float32 products would land within float32 rounding of the unrounded operands' sums.
    let float32 = reference::forward(&s, &xv, &wv, None);
    let off = host(&y)
        .iter()
        .zip(&float32)
        .zip(&forward_scale)
        .map(|((&g, &f), &m)| (f64::from(g) - f).abs() / m)
        .fold(0.0, f64::max);
    match rounds {
        true => assert!(
            off > 100.0 * sums(9 * c),
            "the forward looks like float32 products: off by {off:e}"
        ),
        false => assert!(off <= sums(9 * c), "off float32 products by {off:e}"),
    }
}

const ACTIVATIONS: [Activation; 4] = [
    Activation::Identity,
    Activation::Relu,
    Activation::Relu6,
    Activation::Silu,
];

test_device!(fn conv2d_activated_is_conv2d_then_the_activation_with_its_gradients(device) {
    let p = params([1, 1], [1, 1], [1, 1], 1);
    for activation in ACTIVATIONS {
        for with_bias in [false, true] {
            // Scaled up so that relu6 clips on both sides.
            let xs: Vec<f32> = values(2 * 3 * 5 * 4, 1).iter().map(|v| v * 8.0).collect();
            let x = floats(xs, &[2, 3, 5, 4], device);
            x.set_requires_grad(true).unwrap();
            let w = leaf_on(&[4, 3, 3, 3], 2, device);
            let b = leaf_on(&[4], 3, device);
            let bias = with_bias.then_some(&b);
            let fused = x.conv2d_activated(&w, bias, p, activation).unwrap();
            let composed = activation.compose(x.conv2d(&w, bias, p).unwrap()).unwrap();
            let what = format!("{activation:?} bias {with_bias}");
            assert_eq!(host(&fused), host(&composed), "{what}");
            let grads = |y: &Tensor| {
                for t in [&x, &w, &b] {
                    t.set_grad(None).unwrap();
                }
                y.sum(&[], false).unwrap().backward(None, false).unwrap();
                [&x, &w, &b].map(|t| t.grad().map(|g| host(&g)))
            };
            assert_eq!(grads(&fused), grads(&composed), "{what}");
        }
    }
    assert_eq!(Activation::parse("relu6").unwrap(), Activation::Relu6);
    assert_eq!(Activation::parse("gelu").unwrap_err().code(), "InvalidArgument");
    for activation in ACTIVATIONS {
        assert_eq!(Activation::parse(activation.name()).unwrap(), activation);
    }
});

test_device!(fn conv2d_activated_without_gradients_gives_the_composed_bits(device) {
    // Batched and unbatched, with a NaN; operands that need no gradient, or under no_grad.
    for (xs, ws, p) in [
        (vec![2, 5, 9, 11], [13, 5, 3, 3], params([1, 1], [1, 1], [1, 1], 1)),
        (vec![9, 7, 8], [6, 3, 3, 3], params([2, 1], [1, 0], [1, 1], 3)),
    ] {
        let mut xv: Vec<f32> = values(xs.iter().product(), 4).iter().map(|v| v * 4.0).collect();
        xv[3] = f32::NAN;
        let x = floats(xv, &xs, device);
        let (w, b) = (tensor(&ws, 5, device), tensor(&[ws[0]], 6, device));
        for activation in ACTIVATIONS {
            for bias in [None, Some(&b)] {
                let want = activation.compose(x.conv2d(&w, bias, p).unwrap()).unwrap();
                let got = x.conv2d_activated(&w, bias, p, activation).unwrap();
                assert_eq!(got.shape(), want.shape());
                let bits = |t: &Tensor| host(t).iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&got), bits(&want), "{activation:?} {xs:?}");
                let leaf = x.detach();
                leaf.set_requires_grad(true).unwrap();
                let _no_grad = crate::autograd::NoGradGuard::new();
                let got = leaf.conv2d_activated(&w, bias, p, activation).unwrap();
                assert!(!got.requires_grad());
                assert_eq!(bits(&got), bits(&want), "{activation:?} {xs:?} under no_grad");
            }
        }
    }
});
