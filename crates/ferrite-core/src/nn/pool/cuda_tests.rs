//! CUDA pooling: which average poolings cuDNN takes (here), and on a device (`cuda` tests, which
//! run the kernels on the CPU shim too) every pooling's values, indices and gradients against
//! the CPU backend.

use super::*;
use crate::device::Device;
use crate::nn::cudnn::testing::check_against_cpu;
use crate::testing::{assert_same_values, cuda_test, floats, tensor};
use crate::Tensor;

type Pair = [usize; 2];

fn sliding(
    shape: &[usize],
    kernel: Pair,
    stride: Pair,
    padding: Pair,
    ceil_mode: bool,
) -> PoolShape {
    let x = tensor(shape, 1, Device::Cpu);
    super::super::sliding_shape("avg_pool2d", &x, kernel, stride, padding, [1, 1], ceil_mode)
        .unwrap()
}

fn adaptive(shape: &[usize], out: Pair) -> PoolShape {
    let planes = shape[..shape.len() - 2].iter().product();
    let rank = shape.len();
    PoolShape::adaptive(planes, [shape[rank - 2], shape[rank - 1]], out)
}

#[test]
fn average_pooling_goes_to_cudnn_only_where_its_windows_are_the_cpus() {
    let include = cudnnPoolingMode_t::CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING;
    let exclude = cudnnPoolingMode_t::CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING;
    assert_eq!(
        (average_mode(true), average_mode(false)),
        (include, exclude)
    );
    let s = sliding(&[2, 3, 7, 9], [3, 2], [2, 1], [1, 1], false);
    let p = cudnn_average(&s, true).unwrap();
    assert_eq!(
        (p.mode, p.window, p.stride, p.padding),
        (include, [3, 2], [2, 1], [1, 1])
    );
    assert_eq!(cudnn_average(&s, false).unwrap().mode, exclude);
    // ceil_mode adds a window here (4 outputs, cuDNN would give 3), and not there.
    assert_eq!(sliding(&[1, 2, 6, 6], [3, 3], [2, 2], [1, 1], true).oh(), 4);
    assert_eq!(
        cudnn_average(&sliding(&[1, 2, 6, 6], [3, 3], [2, 2], [1, 1], true), true),
        None
    );
    assert!(cudnn_average(&sliding(&[1, 2, 7, 7], [3, 3], [2, 2], [1, 1], true), true).is_some());
    // A kernel wider than the unpadded input, kept by ceil_mode.
    assert_eq!(
        cudnn_average(&sliding(&[1, 1, 1, 4], [2, 2], [2, 2], [0, 0], true), false),
        None
    );
    // Adaptive bins of one size are a regular window; uneven or overlapping ones are not.
    let p = cudnn_average(&adaptive(&[2, 3, 8, 12], [4, 3]), false).unwrap();
    assert_eq!((p.window, p.stride, p.padding), ([2, 4], [2, 4], [0, 0]));
    assert!(cudnn_average(&adaptive(&[2, 3, 8, 8], [1, 1]), false).is_some());
    assert_eq!(cudnn_average(&adaptive(&[2, 3, 7, 9], [3, 4]), false), None);
    assert_eq!(cudnn_average(&adaptive(&[1, 1, 5, 5], [7, 7]), false), None);
    // Planes beyond cuDNN's ints stay with the kernels.
    assert_eq!(
        cudnn_average(&adaptive(&[1 << 20, 1 << 12, 2, 2], [1, 1]), false),
        None
    );
}

#[test]
fn the_window_struct_has_the_kernels_layout() {
    // long long, then 14 ints: 64 bytes, 8-aligned, as pool.cu's PoolWindow.
    assert_eq!(std::mem::size_of::<PoolWindow>(), 64);
    assert_eq!(std::mem::align_of::<PoolWindow>(), 8);
    let s = sliding(&[2, 3, 7, 9], [3, 2], [2, 1], [1, 0], true);
    let p = PoolWindow::new("avg_pool2d", &s, true).unwrap();
    let want = PoolWindow {
        planes: 6,
        h: 7,
        w: 9,
        oh: s.oh() as i32,
        ow: s.ow() as i32,
        kernel: [3, 2],
        stride: [2, 1],
        padding: [1, 0],
        dilation: [1, 1],
        adaptive: 0,
        count_padding: 1,
    };
    assert_eq!(p, want);
    assert_eq!(
        PoolWindow::new("a", &adaptive(&[4, 5, 6], [2, 3]), false)
            .unwrap()
            .adaptive,
        1
    );
}

/// (shape, kernel, stride, padding, dilation, ceil_mode)
type MaxCase<'a> = (&'a [usize], Pair, Pair, Pair, Pair, bool);

const MAX_CASES: [MaxCase<'static>; 7] = [
    (&[2, 3, 7, 9], [3, 3], [2, 2], [1, 1], [1, 1], false),
    (&[1, 2, 8, 8], [2, 2], [2, 2], [0, 0], [1, 1], false),
    (&[2, 2, 11, 10], [3, 2], [2, 3], [1, 1], [2, 3], true),
    // Overlapping windows: an element's gradient gathers from several.
    (&[3, 5, 5], [2, 3], [1, 1], [1, 1], [1, 1], false),
    (&[1, 1, 1, 1], [1, 1], [1, 1], [0, 0], [1, 1], false),
    // A window with no tap inside the input (-inf at its start).
    (&[1, 1, 1, 1], [2, 2], [2, 2], [1, 1], [3, 3], true),
    (&[0, 3, 4, 4], [2, 2], [2, 2], [0, 0], [1, 1], false),
];

cuda_test!(fn cuda_max_pool2d_matches_the_cpu(device) {
    for (shape, kernel, stride, padding, dilation, ceil) in MAX_CASES {
        let pool = |t: &Tensor| t.max_pool2d_with_indices(kernel, stride, padding, dilation, ceil);
        check_against_cpu(device, &[shape], 1e-6, |t| Ok(pool(&t[0])?.0));
        let x = tensor(shape, 1, Device::Cpu);
        let (_, want) = pool(&x).unwrap();
        let (_, got) = pool(&x.to_device(device).unwrap()).unwrap();
        assert_same_values(&got, &want, 0.0);
    }
});

cuda_test!(fn cuda_max_pool2d_keeps_the_cpus_ties_and_nans(device) {
    let nan = f32::NAN;
    let values = vec![
        1.0, 1.0, 0.0, 2.0, 2.0, //
        nan, 1.0, nan, 2.0, -1.0, //
        3.0, 3.0, 3.0, nan, 0.5, //
        f32::NEG_INFINITY, 0.0, 0.0, 0.0, 7.0,
    ];
    let x = floats(values, &[1, 1, 4, 5], Device::Cpu);
    for (kernel, stride) in [([2, 2], [1, 1]), ([3, 2], [1, 2]), ([2, 3], [2, 1])] {
        let pool = |t: &Tensor| t.max_pool2d_with_indices(kernel, stride, [1, 1], [1, 1], true);
        let (want, want_at) = pool(&x).unwrap();
        let (got, got_at) = pool(&x.to_device(device).unwrap()).unwrap();
        assert_same_values(&got, &want, 0.0);
        assert_same_values(&got_at, &want_at, 0.0);
    }
});

/// (shape, kernel, stride, padding, ceil_mode)
type AvgCase<'a> = (&'a [usize], Pair, Pair, Pair, bool);

const AVG_CASES: [AvgCase<'static>; 6] = [
    (&[2, 3, 7, 9], [3, 3], [2, 2], [1, 1], false),
    (&[1, 2, 6, 6], [3, 3], [2, 2], [1, 1], true),
    (&[2, 4, 8, 8], [2, 2], [2, 2], [0, 0], false),
    (&[3, 5, 7], [2, 3], [1, 2], [1, 1], false),
    (&[1, 1, 1, 4], [2, 2], [2, 2], [0, 0], true),
    (&[0, 3, 4, 4], [2, 2], [2, 2], [0, 0], false),
];

cuda_test!(fn cuda_avg_pool2d_matches_the_cpu(device) {
    for (shape, kernel, stride, padding, ceil) in AVG_CASES {
        for count_pad in [true, false] {
            check_against_cpu(device, &[shape], 1e-5, |t| {
                t[0].avg_pool2d(kernel, stride, padding, ceil, count_pad)
            });
        }
    }
});

cuda_test!(fn cuda_adaptive_avg_pool2d_matches_the_cpu(device) {
    let cases: [(&[usize], Pair); 6] = [
        (&[2, 3, 7, 9], [3, 4]),
        (&[2, 3, 8, 8], [4, 4]),
        (&[2, 4, 33, 33], [1, 1]),
        (&[1, 2, 5, 5], [7, 7]),
        (&[3, 6, 5], [2, 5]),
        (&[0, 2, 4, 4], [2, 2]),
    ];
    for (shape, out) in cases {
        check_against_cpu(device, &[shape], 1e-5, |t| t[0].adaptive_avg_pool2d(out));
    }
});
