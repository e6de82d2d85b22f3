//! The average poolings routed to cuDNN, checked against the real cuDNN library (its descriptor
//! functions need no GPU): for every shape `cuda::cudnn_average` hands to cuDNN, the output shape
//! cuDNN derives from our descriptor must be the CPU's. Outside CI: `npm run check:cudnn`.

use std::ffi::c_int;

use cudarc::cudnn::sys;

use super::cuda::cudnn_average;
use super::{sliding_shape, PoolShape};
use crate::nn::conv::cudnn_library::ensure_cudnn_loaded;
use crate::nn::cudnn::{call, PoolDesc, TensorDesc};
use crate::{DType, Device, Tensor};

const OP: &str = "cudnn check";

fn cudnn_output(s: &PoolShape, count_padding: bool) -> Option<[usize; 4]> {
    let params = cudnn_average(s, count_padding)?;
    let pool = PoolDesc::new(OP, params).unwrap();
    let x = TensorDesc::nchw(OP, [s.planes, 1, s.h, s.w]).unwrap();
    let mut out = [0 as c_int; 4];
    // SAFETY: live descriptors; cuDNN writes the four dims.
    call(OP, "cudnnGetPooling2dForwardOutputDim", || unsafe {
        let [n, c, h, w] = &mut out;
        sys::cudnnGetPooling2dForwardOutputDim(pool.raw(), x.raw(), n, c, h, w)
    })
    .unwrap();
    Some(out.map(|d| d as usize))
}

#[test]
#[ignore = "needs the cuDNN library: npm run check:cudnn"]
fn cudnn_library_pools_to_our_output_shapes() {
    ensure_cudnn_loaded();
    let mut routed = 0;
    for (h, w) in [(8, 8), (7, 9), (32, 32), (5, 3), (1, 1)] {
        let input = Tensor::zeros(&[2, 3, h, w], DType::F32, Device::Cpu).unwrap();
        for k in 1..=3usize {
            for stride in 1..=3usize {
                for padding in 0..=k / 2 {
                    for ceil in [false, true] {
                        let Ok(s) = sliding_shape(
                            OP,
                            &input,
                            [k, k],
                            [stride, stride],
                            [padding, padding],
                            [1, 1],
                            ceil,
                        ) else {
                            continue;
                        };
                        for count_padding in [false, true] {
                            if let Some(dims) = cudnn_output(&s, count_padding) {
                                routed += 1;
                                assert_eq!(
                                    dims,
                                    [s.planes, 1, s.oh(), s.ow()],
                                    "{h}x{w} k{k} s{stride} p{padding} ceil {ceil}"
                                );
                            }
                        }
                    }
                }
            }
        }
        for out in [[1, 1], [2, 2], [h, w]] {
            if h % out[0] == 0 && w % out[1] == 0 {
                let s = PoolShape::adaptive(6, [h, w], out);
                let dims = cudnn_output(&s, false).expect("evenly divided bins go to cuDNN");
                assert_eq!(dims, [6, 1, out[0], out[1]], "adaptive {h}x{w} -> {out:?}");
                routed += 1;
            }
        }
    }
    assert!(routed > 100, "only {routed} shapes went to cuDNN");
}
