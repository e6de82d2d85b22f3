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
    let Device::Cuda(index) = device else { unreachable!() };
    let before = super::memory_stats(index).allocated;
    let t = Tensor::zeros(&[1000], crate::DType::F32, device).unwrap();
    assert!(super::memory_stats(index).allocated >= before + 4000);
    drop(t);
    assert_eq!(super::memory_stats(index).allocated, before);
    super::empty_cache();
    assert!(super::memory_stats(index).peak_allocated >= 4000);
});

cuda_test!(fn cuda_gradients_flow_back_across_devices(device) {
    let x = leaf(&[4], 1);
    let y = x.to_device(device).unwrap();
    assert_eq!(y.grad_fn_name(), Some("ToCopyBackward0"));
    y.to_device(Device::Cpu).unwrap().sum(&[], false).unwrap().backward(None, false).unwrap();
    assert_eq!(x.grad().unwrap().to_vec_f32().unwrap(), vec![1.0; 4]);
});
