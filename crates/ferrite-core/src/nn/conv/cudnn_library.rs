//! Our convolution and batch-norm descriptors checked against the real cuDNN library, whose
//! descriptor functions need no GPU: the output shape cuDNN derives from our descriptors must be
//! the one `ConvShape` (and so the output descriptor we pass) says. Outside CI, since the cuDNN
//! wheel is about half a gigabyte: `npm run check:cudnn`.

use std::ffi::c_int;

use cudarc::cudnn::sys;

use super::cuda::{conv_params, dims};
use super::reference::{params, shape};
use crate::cuda::{library_problem, CudaLibrary};
use crate::nn::cudnn::{call, ConvDesc, FilterDesc, TensorDesc};

const OP: &str = "cudnn check";

pub(crate) fn ensure_cudnn_loaded() {
    if let Some(problem) = library_problem(CudaLibrary::Cudnn) {
        panic!("this check needs the cuDNN library (npm run check:cudnn installs it): {problem}");
    }
}

fn four(desc: &TensorDesc) -> [c_int; 4] {
    let (mut dtype, mut dims, mut strides) =
        (sys::cudnnDataType_t::CUDNN_DATA_DOUBLE, [0; 4], [0; 4]);
    // SAFETY: `desc` is a live 4-d descriptor; cuDNN writes the eight ints and the dtype.
    call(OP, "cudnnGetTensor4dDescriptor", || unsafe {
        sys::cudnnGetTensor4dDescriptor(
            desc.raw(),
            &mut dtype,
            &mut dims[0],
            &mut dims[1],
            &mut dims[2],
            &mut dims[3],
            &mut strides[0],
            &mut strides[1],
            &mut strides[2],
            &mut strides[3],
        )
    })
    .unwrap();
    assert_eq!(dtype, sys::cudnnDataType_t::CUDNN_DATA_FLOAT);
    dims
}

#[test]
#[ignore = "needs the cuDNN library: npm run check:cudnn"]
fn cudnn_library_derives_our_convolution_output_shapes() {
    ensure_cudnn_loaded();
    let cases = [
        ([2, 3, 9, 9], [4, 3, 3], params([1, 1], [0, 0], [1, 1], 1)),
        (
            [1, 3, 32, 32],
            [16, 3, 3],
            params([1, 1], [1, 1], [1, 1], 1),
        ),
        ([3, 4, 11, 7], [6, 3, 2], params([2, 3], [1, 0], [1, 2], 2)),
        ([1, 8, 5, 5], [8, 3, 3], params([2, 2], [2, 2], [2, 2], 8)),
        ([5, 6, 13, 17], [9, 1, 5], params([3, 1], [0, 2], [1, 1], 3)),
        ([1, 1, 1, 1], [1, 1, 1], params([1, 1], [0, 0], [1, 1], 1)),
    ];
    for (x, w, p) in cases {
        let s = shape(x, w, p);
        let [xd, wd, yd] = dims(&s);
        let math = sys::cudnnMathType_t::CUDNN_FMA_MATH;
        let (xdesc, wdesc) = (
            TensorDesc::nchw(OP, xd).unwrap(),
            FilterDesc::new(OP, wd).unwrap(),
        );
        let conv = ConvDesc::new(OP, conv_params(&s).unwrap(), math).unwrap();
        let mut out = [0 as c_int; 4];
        // SAFETY: live descriptors; cuDNN writes the four dims.
        call(OP, "cudnnGetConvolution2dForwardOutputDim", || unsafe {
            let [n, c, h, w] = &mut out;
            sys::cudnnGetConvolution2dForwardOutputDim(
                conv.raw(),
                xdesc.raw(),
                wdesc.raw(),
                n,
                c,
                h,
                w,
            )
        })
        .unwrap();
        assert_eq!(out.map(|d| d as usize), yd, "{x:?} * {w:?} with {p:?}");
    }
}

#[test]
#[ignore = "needs the cuDNN library: npm run check:cudnn"]
fn cudnn_library_derives_batch_norm_channel_descriptors() {
    ensure_cudnn_loaded();
    for x in [[4, 3, 5, 5], [2, 64, 1, 1], [1, 7, 3, 1]] {
        let xdesc = TensorDesc::nchw(OP, x).unwrap();
        let channels = TensorDesc::batch_norm_channels(OP, &xdesc).unwrap();
        assert_eq!(four(&channels), [1, x[1] as c_int, 1, 1], "{x:?}");
        assert_eq!(four(&xdesc).map(|d| d as usize), x);
    }
}
