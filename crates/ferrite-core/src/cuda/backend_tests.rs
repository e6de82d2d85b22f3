//! The backend's own paths on a device: copies both ways for every dtype, the allocator's
//! statistics, autograd across devices, and device mismatches.

use crate::device::Device;
use crate::testing::{assert_same_values, cuda_test, floats, leaf};
use crate::Tensor;

cuda_test!(fn cuda_copies_every_dtype_both_ways(device) {
    let cases = [
        Tensor::from_f32(vec![1.5, -2.0, f32::NAN, 0.0, 7.25], &[5]).unwrap(),
        Tensor::from_i64(vec![i64::MIN, -1, 0, 1, i64::MAX, 3, 4], &[7]).unwrap(),
        Tensor::from_bool(vec![true, false, true], &[3, 1]).unwrap(),
        Tensor::from_f32(vec![], &[0, 3]).unwrap(),
        Tensor::from_f32(vec![4.0], &[]).unwrap(),
    ];
    for host in cases {
        let on_device = host.to_device(device).unwrap();
        assert_eq!(on_device.device(), device);
        assert_same_values(&on_device, &host, 0.0);
    }
});

cuda_test!(fn cuda_uploads_strided_views_as_their_values(device) {
    let host = floats((0..12).map(|v| v as f32).collect(), &[3, 4], Device::Cpu);
    let view = host.transpose(0, 1).unwrap().narrow(0, 1, 2).unwrap();
    assert_same_values(&view.to_device(device).unwrap(), &view, 0.0);
});

cuda_test!(fn cuda_memory_is_counted_and_returned(device) {
    // Other tests allocate on the same device at the same time, so only bounds hold here; the
    // exact bookkeeping is checked on the allocator itself (alloc.rs).
    let Device::Cuda(index) = device else { unreachable!() };
    let requests = super::memory_stats(index).requests;
    let t = Tensor::zeros(&[1000], crate::DType::F32, device).unwrap();
    let live = super::memory_stats(index);
    assert!(live.allocated >= 4000 && live.reserved >= live.allocated, "{live:?}");
    assert!(live.requests > requests);
    drop(t);
    super::empty_cache();
    let after = super::memory_stats(index);
    assert!(after.peak_allocated >= 4000 && after.reserved >= after.allocated, "{after:?}");
});

cuda_test!(fn cuda_gradients_flow_back_across_devices(device) {
    let x = leaf(&[4], 1);
    let y = x.to_device(device).unwrap();
    assert_eq!(y.grad_fn_name(), Some("ToCopyBackward0"));
    y.to_device(Device::Cpu).unwrap().sum(&[], false).unwrap().backward(None, false).unwrap();
    assert_eq!(x.grad().unwrap().to_vec_f32().unwrap(), vec![1.0; 4]);
});

cuda_test!(fn cuda_constants_are_filled_on_the_device(device) {
    for dtype in [crate::DType::F32, crate::DType::I64, crate::DType::Bool] {
        for (shape, value) in [(&[0usize][..], 1.0), (&[7], -2.5), (&[3, 1, 5], 1.0), (&[], 0.0)] {
            let want = Tensor::full(shape, value, dtype, Device::Cpu).unwrap();
            assert_same_values(&Tensor::full(shape, value, dtype, device).unwrap(), &want, 0.0);
        }
    }
    let ones = Tensor::ones(&[2, 3], crate::DType::F32, device).unwrap();
    assert_eq!(ones.device(), device);
});
