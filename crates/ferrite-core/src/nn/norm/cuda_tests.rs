//! Batch norm on a device against the CPU backend: evaluation (its kernels run on the CPU shim
//! too) and training with its running statistics (cuDNN only: skipped without it).

use super::super::Dims;
use super::*;
use crate::device::Device;
use crate::nn::cudnn::testing::{check_against_cpu, skip_without_cudnn};
use crate::testing::{assert_same_values, cuda_test, floats, tensor, values};
use crate::Tensor;

#[test]
fn every_rank_is_a_4d_cudnn_tensor_with_its_positions_in_one_dim() {
    let dims = |n, c, s| cudnn_dims(Dims { n, c, s });
    assert_eq!(dims(6, 3, 1), [6, 3, 1, 1]); // [N, C]
    assert_eq!(dims(4, 3, 5), [4, 3, 5, 1]); // [N, C, L]
    assert_eq!(dims(2, 3, 16), [2, 3, 16, 1]); // [N, C, 4, 4]
    assert_eq!(dims(2, 3, 8), [2, 3, 8, 1]); // [N, C, 2, 2, 2]
}

const SHAPES: [&[usize]; 5] = [
    &[6, 3],
    &[4, 3, 5],
    &[2, 3, 4, 4],
    &[2, 3, 2, 2, 2],
    &[16, 4, 8, 8],
];

/// Running statistics of `c` channels on the CPU and on `device`: a mean and a positive variance.
fn running(c: usize, device: Device) -> [[Tensor; 2]; 2] {
    let mean = values(c, 10);
    let var: Vec<f32> = values(c, 11).iter().map(|v| v + 1.5).collect();
    [Device::Cpu, device].map(|on| {
        [
            floats(mean.clone(), &[c], on),
            floats(var.clone(), &[c], on),
        ]
    })
}

cuda_test!(fn cuda_batch_norm_evaluation_matches_the_cpu(device) {
    let empty: &[usize] = &[0, 3, 4];
    for shape in SHAPES.into_iter().chain([empty]) {
        let c = shape[1];
        let [host, dev] = running(c, device);
        let stats = |t: &Tensor| if t.device() == Device::Cpu { &host } else { &dev };
        check_against_cpu(device, &[shape, &[c], &[c]], 1e-5, |t| {
            let [rm, rv] = stats(&t[0]);
            t[0].batch_norm(Some(rm), Some(rv), Some(&t[1]), Some(&t[2]), false, 0.1, 1e-5)
        });
        check_against_cpu(device, &[shape], 1e-5, |t| {
            let [rm, rv] = stats(&t[0]);
            t[0].batch_norm(Some(rm), Some(rv), None, None, false, 0.1, 1e-3)
        });
        assert_same_values(&dev[0], &host[0], 0.0);
        assert_same_values(&dev[1], &host[1], 0.0);
    }
});

cuda_test!(fn cuda_batch_norm_training_matches_the_cpu(device) {
    if skip_without_cudnn("cuda_batch_norm_training_matches_the_cpu", device) {
        return;
    }
    for shape in SHAPES {
        let c = shape[1];
        check_against_cpu(device, &[shape, &[c], &[c]], 1e-4, |t| {
            t[0].batch_norm(None, None, Some(&t[1]), Some(&t[2]), true, 0.1, 1e-5)
        });
        check_against_cpu(device, &[shape, &[c]], 1e-4, |t| {
            t[0].batch_norm(None, None, Some(&t[1]), None, true, 0.1, 1e-5)
        });
        check_against_cpu(device, &[shape], 1e-4, |t| {
            t[0].batch_norm(None, None, None, None, true, 0.1, 1e-5)
        });
    }
});

cuda_test!(fn cuda_batch_norm_training_updates_the_running_statistics_as_the_cpu(device) {
    if skip_without_cudnn("cuda_batch_norm_training_updates_the_running_statistics_as_the_cpu", device) {
        return;
    }
    for shape in SHAPES {
        let c = shape[1];
        // Offset values, so that the variance is small beside the mean.
        let x: Vec<f32> = values(shape.iter().product(), 12).iter().map(|v| v * 3.0 + 50.0).collect();
        let inputs = [Device::Cpu, device].map(|on| floats(x.clone(), shape, on));
        for given in [[true, true], [true, false], [false, true]] {
            let [host, dev] = running(c, device);
            for (x, [rm, rv]) in inputs.iter().zip([&host, &dev]) {
                let (rm, rv) = (given[0].then_some(rm), given[1].then_some(rv));
                for momentum in [0.1, 1.0] {
                    x.batch_norm(rm, rv, None, None, true, momentum, 1e-5).unwrap();
                }
            }
            assert_same_values(&dev[0], &host[0], 1e-5);
            assert_same_values(&dev[1], &host[1], 1e-4);
        }
    }
});

cuda_test!(fn cuda_batch_norm_backward_keeps_the_weight_the_forward_saw(device) {
    if skip_without_cudnn("cuda_batch_norm_backward_keeps_the_weight_the_forward_saw", device) {
        return;
    }
    let want = |on: Device| {
        let x = crate::testing::leaf_on(&[4, 3, 5], 1, on);
        let w = tensor(&[3], 2, on);
        let y = x.batch_norm(None, None, Some(&w), None, true, 0.1, 1e-5).unwrap();
        // A later in-place change of the weight must not reach the gradient.
        w.copy_(&tensor(&[3], 3, on)).unwrap();
        y.backward(Some(&tensor(&[4, 3, 5], 4, on)), false).unwrap();
        x.grad().unwrap()
    };
    assert_same_values(&want(device), &want(Device::Cpu), 1e-4);
});
