//! The cuDNN convolution: its descriptor parameters here, and on a device (`cuda` tests) every
//! pass against the CPU kernels for every kind of parameter. Without cuDNN (the CPU shim) the
//! device tests say they were skipped and return.

use super::algo::{cached, AlgoKey, Pass};
use super::*;
use crate::cuda::settings;
use crate::device::Device;
use crate::nn::conv::reference::params;
use crate::nn::conv::Conv2dParams;
use crate::nn::cudnn::testing::{check_against_cpu, skip_without_cudnn};
use crate::testing::{cuda_test, tensor};

fn shape_of(x: &[usize], w: [usize; 4], p: Conv2dParams) -> ConvShape {
    let (x, w) = (tensor(x, 1, Device::Cpu), tensor(&w, 2, Device::Cpu));
    ConvShape::new(&x, &w, None, p).unwrap()
}

#[test]
fn descriptors_get_the_shapes_sizes_and_cudnn_agrees_on_the_output() {
    let s = shape_of(
        &[2, 6, 11, 9],
        [4, 3, 3, 2],
        params([2, 1], [1, 0], [1, 3], 2),
    );
    assert_eq!(dims(&s), [[2, 6, 11, 9], [4, 3, 3, 2], [2, 4, 6, 6]]);
    let p = conv_params(&s).unwrap();
    assert_eq!(
        (p.padding, p.stride, p.dilation, p.groups),
        ([1, 0], [2, 1], [1, 3], 2)
    );
    // Unbatched inputs are a batch of one.
    assert_eq!(
        dims(&shape_of(&[3, 5, 5], [2, 3, 3, 3], Conv2dParams::default()))[0],
        [1, 3, 5, 5]
    );
    for stride in 1..4 {
        for padding in 0..3 {
            for dilation in 1..4 {
                for (len, kernel) in [(7, 3), (8, 1), (5, 5), (13, 4)] {
                    let p = params([stride, 1], [padding, 0], [dilation, 1], 1);
                    let x = [1, 1, len, 3];
                    if len + 2 * padding < dilation * (kernel - 1) + 1 {
                        continue;
                    }
                    let s = shape_of(&x, [1, 1, kernel, 1], p);
                    assert_eq!(
                        s.oh,
                        cudnn_output_len(len, kernel, padding, stride, dilation),
                        "{p:?} {x:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn sizes_over_cudnns_ints_are_refused_before_any_call() {
    let mut s = shape_of(&[1, 1, 4, 4], [1, 1, 1, 1], Conv2dParams::default());
    s.padding = [1 << 31, 0];
    assert_eq!(conv_params(&s).unwrap_err().code(), "InvalidArgument");
    let mut s = shape_of(&[1, 1, 4, 4], [1, 1, 1, 1], Conv2dParams::default());
    s.n = 1 << 30;
    let err = crate::nn::cudnn::nchw(OP, dims(&s)[0]).unwrap_err();
    assert!(err.to_string().contains("element count"), "{err}");
}

/// conv2d on `device` against the CPU, forward and every gradient, with TF32 off.
#[track_caller]
fn check(device: Device, x: &[usize], w: [usize; 4], bias: bool, p: Conv2dParams) {
    settings::set_allow_tf32_cudnn(false);
    let w = w.to_vec();
    let o = [w[0]];
    let mut shapes: Vec<&[usize]> = vec![x, &w];
    if bias {
        shapes.push(&o);
    }
    check_against_cpu(device, &shapes, 1e-4, |t| t[0].conv2d(&t[1], t.get(2), p));
}

cuda_test!(fn cuda_conv2d_matches_the_cpu_for_every_parameter(device) {
    if skip_without_cudnn("cuda_conv2d_matches_the_cpu_for_every_parameter", device) {
        return;
    }
    let default = Conv2dParams::default();
    check(device, &[2, 3, 7, 9], [4, 3, 3, 3], true, default);
    check(device, &[2, 3, 7, 9], [4, 3, 3, 3], false, default);
    check(device, &[3, 2, 13, 11], [5, 2, 3, 2], true, params([2, 3], [1, 2], [2, 1], 1));
    check(device, &[2, 4, 8, 8], [6, 2, 3, 3], true, params([1, 1], [1, 1], [1, 1], 2));
    // Depthwise, strided; pointwise; unbatched; a kernel as large as the padded input.
    check(device, &[1, 5, 6, 6], [5, 1, 3, 3], false, params([2, 2], [1, 1], [1, 1], 5));
    check(device, &[3, 8, 5, 5], [4, 8, 1, 1], true, default);
    check(device, &[3, 10, 10], [2, 3, 5, 5], true, params([1, 1], [2, 2], [1, 1], 1));
    check(device, &[2, 2, 3, 4], [3, 2, 5, 6], true, params([1, 1], [1, 1], [1, 1], 1));
    // ResNet's shapes: a 3x3 block and its strided 1x1 shortcut.
    check(device, &[4, 16, 32, 32], [32, 16, 3, 3], false, params([2, 2], [1, 1], [1, 1], 1));
    check(device, &[4, 16, 32, 32], [32, 16, 1, 1], false, params([2, 2], [0, 0], [1, 1], 1));
});

cuda_test!(fn cuda_conv2d_handles_empty_batches_and_all_padding_inputs(device) {
    if skip_without_cudnn("cuda_conv2d_handles_empty_batches_and_all_padding_inputs", device) {
        return;
    }
    check(device, &[0, 3, 5, 5], [2, 3, 3, 3], true, Conv2dParams::default());
    // Height 0: every output reads only padding, so it is the bias.
    check(device, &[2, 2, 0, 4], [3, 2, 1, 1], true, params([1, 1], [1, 0], [1, 1], 1));
});

cuda_test!(fn cuda_conv2d_caches_one_algorithm_per_pass_and_shape(device) {
    if skip_without_cudnn("cuda_conv2d_caches_one_algorithm_per_pass_and_shape", device) {
        return;
    }
    settings::set_allow_tf32_cudnn(false);
    let p = params([1, 1], [1, 1], [1, 1], 1);
    let (x, w) = (tensor(&[3, 4, 9, 9], 1, device), tensor(&[5, 4, 3, 3], 2, device));
    let s = ConvShape::new(&x, &w, None, p).unwrap();
    let key = |pass| AlgoKey {
        device: 0,
        shape: s,
        pass,
        tf32: false,
        benchmark: settings::cudnn_benchmark(),
    };
    let y = x.conv2d(&w, None, p).unwrap();
    let first = cached(&key(Pass::Forward)).expect("the forward's algorithm is cached");
    assert_eq!(first.math, algo::math_type(false));
    let again = x.conv2d(&w, None, p).unwrap();
    assert_eq!(cached(&key(Pass::Forward)), Some(first));
    crate::testing::assert_same_values(&again, &y.to_device(Device::Cpu).unwrap(), 0.0);
});
