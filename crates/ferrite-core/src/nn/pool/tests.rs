use super::*;
use crate::device::Device;
use crate::testing::{assert_close, gradcheck, leaf_on, tensor, test_device, values};

/// `[height, width]` of a kernel, stride, padding or dilation.
type Pair = [usize; 2];

/// A sliding-window pooling written out tap by tap in float64.
struct Reference {
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    ceil_mode: bool,
}

impl Reference {
    /// In ceil mode a window counts if it starts less than a stride after the last one that
    /// fits, and inside the input or its left padding.
    fn out_len(&self, len: usize, a: usize) -> usize {
        let (k, s, p, d) = (
            self.kernel[a],
            self.stride[a],
            self.padding[a],
            self.dilation[a],
        );
        let (reach, span) = (len + 2 * p, d * (k - 1) + 1);
        let fits = |o: usize| {
            if self.ceil_mode {
                o * s < reach - span + s && o * s < len + p
            } else {
                o * s + span <= reach
            }
        };
        (0..).take_while(|&o| fits(o)).count()
    }

    /// The input coordinate of tap `i` of output `o` along axis `a`, negative in the padding.
    fn coord(&self, o: usize, i: usize, a: usize) -> isize {
        (o * self.stride[a] + i * self.dilation[a]) as isize - self.padding[a] as isize
    }

    /// Every output of every plane: the float64 values and plane indices of its taps inside
    /// the input, and the size of its window clipped to the padded input.
    fn windows(&self, x: &[f32], [planes, h, w]: [usize; 3]) -> Vec<(Vec<(f64, usize)>, usize)> {
        let (oh, ow) = (self.out_len(h, 0), self.out_len(w, 1));
        let mut all = Vec::new();
        for p in 0..planes {
            for oy in 0..oh {
                for ox in 0..ow {
                    let rows = (0..self.kernel[0])
                        .filter(|&i| self.coord(oy, i, 0) < (h + self.padding[0]) as isize)
                        .count();
                    let cols = (0..self.kernel[1])
                        .filter(|&j| self.coord(ox, j, 1) < (w + self.padding[1]) as isize)
                        .count();
                    let mut taps = Vec::new();
                    for i in 0..self.kernel[0] {
                        for j in 0..self.kernel[1] {
                            let (y, xx) = (self.coord(oy, i, 0), self.coord(ox, j, 1));
                            if y >= 0 && xx >= 0 && y < h as isize && xx < w as isize {
                                let at = y as usize * w + xx as usize;
                                taps.push((x[p * h * w + at] as f64, at));
                            }
                        }
                    }
                    all.push((taps, rows * cols));
                }
            }
        }
        all
    }
}

fn max_case(shape: [usize; 4], r: Reference, device: Device) {
    let x = values(shape.iter().product(), 7);
    let t = tensor(&shape, 7, device);
    let (values, indices) = t
        .max_pool2d_with_indices(r.kernel, r.stride, r.padding, r.dilation, r.ceil_mode)
        .unwrap();
    assert_eq!(
        values.shape(),
        [
            shape[0],
            shape[1],
            r.out_len(shape[2], 0),
            r.out_len(shape[3], 1)
        ]
    );
    let windows = r.windows(&x, [shape[0] * shape[1], shape[2], shape[3]]);
    // The first of equal maxima, as PyTorch picks.
    let best: Vec<(f64, usize)> = windows
        .iter()
        .map(|(taps, _)| {
            taps.iter()
                .fold(taps[0], |b, &t| if t.0 > b.0 { t } else { b })
        })
        .collect();
    assert_close(
        &values.to_vec_f32().unwrap(),
        &best.iter().map(|b| b.0).collect::<Vec<_>>(),
        1e-5,
    );
    assert_eq!(
        indices.to_vec_i64().unwrap(),
        best.iter().map(|b| b.1 as i64).collect::<Vec<_>>()
    );
    // Without a gradient to route, `max_pool2d` computes the maxima alone: the same values.
    let alone = t
        .max_pool2d(r.kernel, r.stride, r.padding, r.dilation, r.ceil_mode)
        .unwrap();
    assert_eq!(alone.to_vec_f32().unwrap(), values.to_vec_f32().unwrap());
}

fn avg_case(shape: [usize; 4], r: Reference, count_include_pad: bool, device: Device) {
    let x = values(shape.iter().product(), 8);
    let t = tensor(&shape, 8, device);
    let y = t
        .avg_pool2d(
            r.kernel,
            r.stride,
            r.padding,
            r.ceil_mode,
            count_include_pad,
        )
        .unwrap();
    let want: Vec<f64> = r
        .windows(&x, [shape[0] * shape[1], shape[2], shape[3]])
        .iter()
        .map(|(taps, padded)| {
            taps.iter().map(|t| t.0).sum::<f64>()
                / if count_include_pad {
                    *padded
                } else {
                    taps.len()
                } as f64
        })
        .collect();
    assert_eq!(
        y.shape()[2..],
        [r.out_len(shape[2], 0), r.out_len(shape[3], 1)]
    );
    assert_close(&y.to_vec_f32().unwrap(), &want, 1e-5);
}

fn window(
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    ceil_mode: bool,
) -> Reference {
    Reference {
        kernel,
        stride,
        padding,
        dilation,
        ceil_mode,
    }
}

test_device!(fn max_pool_matches_a_float64_reference(device) {
    // (input shape, kernel, stride, padding, dilation, ceil_mode)
    type Case = ([usize; 4], Pair, Pair, Pair, Pair, bool);
    let cases: [Case; 10] = [
        ([2, 3, 6, 8], [2, 2], [2, 2], [0, 0], [1, 1], false),
        ([2, 3, 7, 9], [3, 3], [2, 2], [0, 0], [1, 1], false),
        ([1, 2, 5, 5], [3, 3], [1, 1], [1, 1], [1, 1], false),
        ([1, 2, 5, 5], [2, 2], [2, 2], [0, 0], [1, 1], true),
        ([2, 2, 7, 9], [3, 3], [2, 2], [1, 1], [1, 1], true),
        ([1, 1, 5, 5], [2, 2], [2, 2], [1, 1], [1, 1], true),
        ([1, 2, 6, 7], [2, 3], [1, 2], [1, 1], [1, 1], false),
        ([1, 2, 7, 9], [3, 3], [1, 1], [0, 0], [2, 2], false),
        ([1, 1, 6, 6], [3, 3], [2, 2], [1, 1], [2, 1], true),
        ([3, 40, 9, 11], [3, 2], [2, 1], [1, 1], [1, 2], false),
    ];
    for (shape, kernel, stride, padding, dilation, ceil_mode) in cases {
        max_case(
            shape,
            window(kernel, stride, padding, dilation, ceil_mode),
            device,
        );
    }
});

test_device!(fn max_pool_keeps_the_first_tie_and_pads_with_minus_infinity(device) {
    let on_device = |v: Vec<f32>| {
        Tensor::from_f32(v, &[1, 2, 2])
            .unwrap()
            .to_device(device)
            .unwrap()
    };
    let x = on_device(vec![-5., -5., -7., -5.]);
    let (v, i) = x
        .max_pool2d_with_indices([2, 2], [1, 1], [1, 1], [1, 1], false)
        .unwrap();
    assert_eq!(v.shape(), &[1, 3, 3]);
    assert_eq!(
        v.to_vec_f32().unwrap(),
        vec![-5., -5., -5., -5., -5., -5., -7., -5., -5.]
    );
    assert_eq!(i.to_vec_i64().unwrap(), vec![0, 0, 1, 0, 0, 1, 2, 3, 3]);
    // 2x2 windows at stride 2 take their own path: the same first tie.
    let (v, i) = x
        .max_pool2d_with_indices([2, 2], [2, 2], [0, 0], [1, 1], false)
        .unwrap();
    assert_eq!(
        (v.to_vec_f32().unwrap(), i.to_vec_i64().unwrap()),
        (vec![-5.], vec![0])
    );
    let nan = on_device(vec![1., f32::NAN, 3., 2.]);
    assert!(nan
        .max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false)
        .unwrap()
        .item()
        .unwrap()
        .is_nan());
});

test_device!(fn max_pool_without_indices_agrees_at_every_width_and_with_nan(device) {
    // 2x2 windows at stride 2 (vectorised rows of 16 windows and their tails) and 3x3 ones, with
    // NaN sprinkled in: the maxima alone equal those picked with their indices.
    for w in [2, 3, 8, 30, 32, 33, 34, 62, 66] {
        for (kernel, stride) in [([2, 2], [2, 2]), ([3, 3], [2, 2])] {
            let shape = [2, 3, 5, w.max(3)];
            let n = shape.iter().product();
            let mut x = values(n, w as u64);
            for i in (0..n).step_by(13) {
                x[i] = f32::NAN;
            }
            let t = Tensor::from_f32(x, &shape).unwrap().to_device(device).unwrap();
            let (with_indices, _) = t
                .max_pool2d_with_indices(kernel, stride, [0, 0], [1, 1], false)
                .unwrap();
            let alone = t.max_pool2d(kernel, stride, [0, 0], [1, 1], false).unwrap();
            let bits = |t: &Tensor| -> Vec<u32> {
                t.to_vec_f32().unwrap().iter().map(|v| if v.is_nan() { u32::MAX } else { v.to_bits() }).collect()
            };
            assert_eq!(bits(&alone), bits(&with_indices), "width {w}, kernel {kernel:?}");
            assert!(alone.to_vec_f32().unwrap().iter().any(|v| v.is_nan()));
        }
    }
});

test_device!(fn max_pool_pairs_pick_the_first_tie_and_the_last_nan_at_every_width(device) {
    // Three levels and NaN give ties in most windows; the vectorised rows must pick as the
    // scalar rule does: the first of equal maxima, the last NaN.
    for w in [2, 4, 30, 32, 34, 64, 66] {
        let (planes, h) = (3, 4);
        let n = planes * h * w;
        let x: Vec<f32> = (0..n)
            .map(|i| match (i * 7 + i / 5) % 11 {
                0 => f32::NAN,
                k => (k % 3) as f32,
            })
            .collect();
        let t = Tensor::from_f32(x.clone(), &[1, planes, h, w]).unwrap().to_device(device).unwrap();
        let (values, indices) = t
            .max_pool2d_with_indices([2, 2], [2, 2], [0, 0], [1, 1], false)
            .unwrap();
        let (values, indices) = (values.to_vec_f32().unwrap(), indices.to_vec_i64().unwrap());
        let (oh, ow) = (h / 2, w / 2);
        for p in 0..planes {
            for oy in 0..oh {
                for ox in 0..ow {
                    let plane = &x[p * h * w..][..h * w];
                    let taps = [0, 1, w, w + 1].map(|d| 2 * oy * w + 2 * ox + d);
                    let mut at = taps[0];
                    for &i in &taps[1..] {
                        if plane[i] > plane[at] || plane[i].is_nan() {
                            at = i;
                        }
                    }
                    let o = (p * oh + oy) * ow + ox;
                    assert_eq!(indices[o], at as i64, "width {w}, plane {p}, window {oy},{ox}");
                    assert_eq!(values[o].to_bits(), plane[at].to_bits());
                }
            }
        }
    }
});

test_device!(fn avg_pool_matches_a_float64_reference(device) {
    // (input shape, kernel, stride, padding, ceil_mode, count_include_pad)
    type Case = ([usize; 4], Pair, Pair, Pair, bool, bool);
    let cases: [Case; 10] = [
        ([2, 3, 6, 8], [2, 2], [2, 2], [0, 0], false, true),
        ([1, 2, 7, 9], [3, 3], [2, 2], [1, 1], false, true),
        ([1, 2, 7, 9], [3, 3], [2, 2], [1, 1], false, false),
        ([1, 2, 5, 5], [2, 2], [2, 2], [0, 0], true, true),
        ([1, 1, 6, 6], [3, 3], [2, 2], [0, 0], true, true),
        ([2, 1, 6, 8], [3, 3], [2, 2], [1, 1], true, true),
        ([2, 1, 6, 8], [3, 3], [2, 2], [1, 1], true, false),
        ([1, 2, 5, 7], [2, 3], [1, 2], [1, 1], false, false),
        ([2, 2, 9, 4], [3, 1], [3, 1], [0, 0], false, true),
        ([3, 40, 9, 11], [3, 3], [2, 1], [1, 1], true, false),
    ];
    for (shape, kernel, stride, padding, ceil_mode, count_include_pad) in cases {
        let r = window(kernel, stride, padding, [1, 1], ceil_mode);
        avg_case(shape, r, count_include_pad, device);
    }
});

test_device!(fn adaptive_outputs_over_the_allocation_limit_are_errors_before_any_buffer(device) {
    // Found by the fuzz suite: the bins of an output 2^31 wide took all memory.
    let x = Tensor::ones(&[1, 1, 2, 2], DType::F32, device).unwrap();
    for size in [[4, 1 << 40], [1 << 40, 1]] {
        let e = x.adaptive_avg_pool2d(size).unwrap_err();
        assert_eq!(e.code(), "OutOfMemory", "{e}");
    }
    let empty = Tensor::zeros(&[0, 1, 2, 2], DType::F32, device).unwrap();
    let e = empty.adaptive_avg_pool2d([1, 1 << 40]).unwrap_err();
    assert_eq!(e.code(), "OutOfMemory", "{e}");
});

test_device!(fn adaptive_avg_pool_uses_pytorch_bins(device) {
    // Rows 0..2, 1..4, 3..5 and columns 0..3, 2..5, 4..7 of arange(35).view(1, 5, 7): overlapping bins.
    let x = Tensor::arange(0.0, 35.0, 1.0, DType::F32, device)
        .unwrap()
        .reshape(&[1, 5, 7])
        .unwrap();
    let y = x.adaptive_avg_pool2d([3, 3]).unwrap();
    assert_eq!(y.shape(), &[1, 3, 3]);
    assert_close(
        &y.to_vec_f32().unwrap(),
        &[4.5, 6.5, 8.5, 15.0, 17.0, 19.0, 25.5, 27.5, 29.5],
        1e-5,
    );
    // Upsampling repeats values; the identity size changes nothing.
    let small = Tensor::arange(1.0, 5.0, 1.0, DType::F32, device)
        .unwrap()
        .reshape(&[1, 1, 2, 2])
        .unwrap();
    assert_close(
        &small
            .adaptive_avg_pool2d([3, 3])
            .unwrap()
            .to_vec_f32()
            .unwrap(),
        &[1., 1.5, 2., 2., 2.5, 3., 3., 3.5, 4.],
        1e-5,
    );
    assert_eq!(
        x.adaptive_avg_pool2d([5, 7]).unwrap().to_vec_f32().unwrap(),
        x.to_vec_f32().unwrap()
    );
    assert_close(
        &x.adaptive_avg_pool2d([1, 1]).unwrap().to_vec_f32().unwrap(),
        &[17.0],
        1e-5,
    );
});

test_device!(fn gradients_match_finite_differences(device) {
    // Distinct values, so that no max is a tie that finite differences would split.
    let distinct = |shape: &[usize], seed: u64| {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|i| ((i as u64 * 37 + seed) % n as u64) as f32 / n as f32)
            .collect();
        let t = Tensor::from_f32(v, shape)
            .unwrap()
            .to_device(device)
            .unwrap();
        t.set_requires_grad(true).unwrap();
        t
    };
    gradcheck(&[distinct(&[2, 2, 5, 6], 1)], |x| {
        x[0].max_pool2d([3, 2], [2, 1], [1, 1], [1, 2], true)
    });
    gradcheck(&[distinct(&[2, 5, 5], 2)], |x| {
        x[0].max_pool2d([2, 2], [1, 1], [0, 0], [1, 1], false)
    });
    gradcheck(&[leaf_on(&[2, 2, 5, 6], 3, device)], |x| {
        x[0].avg_pool2d([3, 3], [2, 2], [1, 1], true, true)
    });
    gradcheck(&[leaf_on(&[2, 2, 5, 6], 4, device)], |x| {
        x[0].avg_pool2d([2, 3], [1, 2], [1, 1], false, false)
    });
    gradcheck(&[leaf_on(&[2, 5, 7], 5, device)], |x| {
        x[0].adaptive_avg_pool2d([3, 4])
    });
    gradcheck(&[leaf_on(&[1, 2, 3, 2], 6, device)], |x| {
        x[0].adaptive_avg_pool2d([4, 3])
    });
});

test_device!(fn unbatched_and_empty_batches(device) {
    let x = tensor(&[2, 5, 6], 10, device);
    let batched = x
        .unsqueeze(0)
        .unwrap()
        .max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], true)
        .unwrap();
    let unbatched = x.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], true).unwrap();
    assert_eq!(unbatched.shape(), &[2, 3, 3]);
    assert_eq!(
        unbatched.to_vec_f32().unwrap(),
        batched.to_vec_f32().unwrap()
    );
    let empty = Tensor::zeros(&[0, 2, 5, 6], DType::F32, device).unwrap();
    assert_eq!(
        empty
            .avg_pool2d([2, 2], [2, 2], [0, 0], false, true)
            .unwrap()
            .shape(),
        &[0, 2, 2, 3]
    );
    assert_eq!(
        empty.adaptive_avg_pool2d([2, 2]).unwrap().shape(),
        &[0, 2, 2, 2]
    );
});

test_device!(fn grad_fn_names_match_pytorch(device) {
    let x = leaf_on(&[1, 2, 4, 4], 9, device);
    assert_eq!(
        x.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false)
            .unwrap()
            .grad_fn_name(),
        Some("MaxPool2DWithIndicesBackward0")
    );
    assert_eq!(
        x.avg_pool2d([2, 2], [2, 2], [0, 0], false, true)
            .unwrap()
            .grad_fn_name(),
        Some("AvgPool2DBackward0")
    );
    assert_eq!(
        x.adaptive_avg_pool2d([1, 1]).unwrap().grad_fn_name(),
        Some("AdaptiveAvgPool2DBackward0")
    );
});

test_device!(fn bad_arguments_are_typed_errors(device) {
    let t = |shape: &[usize]| Tensor::full(shape, 0.5, DType::F32, device).unwrap();
    const SHAPE: &str = "ShapeMismatch";
    const INVALID: &str = "InvalidArgument";
    // (input shape, kernel, stride, padding, dilation, error code)
    type MaxCase = (&'static [usize], Pair, Pair, Pair, Pair, &'static str);
    let max_cases: [MaxCase; 9] = [
        (&[5, 5], [2, 2], [2, 2], [0, 0], [1, 1], SHAPE),
        (&[1, 1, 1, 5, 5], [2, 2], [2, 2], [0, 0], [1, 1], SHAPE),
        (&[1, 0, 5, 5], [2, 2], [2, 2], [0, 0], [1, 1], SHAPE),
        (&[1, 1, 2, 2], [3, 3], [3, 3], [0, 0], [1, 1], SHAPE),
        (&[1, 1, 5, 5], [3, 3], [1, 1], [0, 0], [3, 1], SHAPE),
        (&[1, 1, 5, 5], [0, 2], [1, 1], [0, 0], [1, 1], INVALID),
        (&[1, 1, 5, 5], [2, 2], [2, 0], [0, 0], [1, 1], INVALID),
        (&[1, 1, 5, 5], [2, 2], [2, 2], [0, 0], [0, 1], INVALID),
        (&[1, 1, 5, 5], [2, 2], [2, 2], [2, 0], [1, 1], INVALID),
    ];
    for (shape, k, s, p, d, code) in max_cases {
        let err = t(shape).max_pool2d(k, s, p, d, false).unwrap_err();
        assert_eq!(err.code(), code, "{shape:?} {k:?} {s:?} {p:?} {d:?}: {err}");
    }
    // (input shape, kernel, stride, padding, error code)
    type AvgCase = (&'static [usize], Pair, Pair, Pair, &'static str);
    let avg_cases: [AvgCase; 4] = [
        (&[5, 5], [2, 2], [2, 2], [0, 0], SHAPE),
        (&[1, 1, 2, 2], [5, 5], [1, 1], [1, 1], SHAPE),
        (&[1, 1, 5, 5], [3, 3], [1, 1], [2, 1], INVALID),
        (&[1, 1, 5, 5], [3, 3], [0, 1], [0, 0], INVALID),
    ];
    for (shape, k, s, p, code) in avg_cases {
        let err = t(shape).avg_pool2d(k, s, p, false, true).unwrap_err();
        assert_eq!(err.code(), code, "{shape:?} {k:?} {s:?} {p:?}: {err}");
    }
    let adaptive_cases: [(&[usize], [usize; 2], &str); 3] = [
        (&[5, 5], [1, 1], SHAPE),
        (&[1, 5, 0], [1, 1], SHAPE),
        (&[1, 5, 5], [0, 1], INVALID),
    ];
    for (shape, size, code) in adaptive_cases {
        let err = t(shape).adaptive_avg_pool2d(size).unwrap_err();
        assert_eq!(err.code(), code, "{shape:?} {size:?}: {err}");
    }
    let ints = Tensor::ones(&[1, 5, 5], DType::I64, device).unwrap();
    assert_eq!(
        ints.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false)
            .unwrap_err()
            .code(),
        "DTypeMismatch"
    );
    assert_eq!(
        ints.adaptive_avg_pool2d([2, 2]).unwrap_err().code(),
        "DTypeMismatch"
    );
    let err = t(&[1, 1, 2, 2])
        .max_pool2d([3, 3], [3, 3], [0, 0], [1, 1], false)
        .unwrap_err();
    assert_eq!(err.to_string(), "max_pool2d: input [1, 1, 2, 2] is too small for kernel size [3, 3] with padding [0, 0] and dilation [1, 1]: the output would be 0 x 0");
});
