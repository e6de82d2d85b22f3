//! Activation kernels on a CUDA device (`activation.cu`): the same passes as `cpu.rs`, launched
//! on the device's stream. Pointwise forwards read strided views in place through `Strides`.

use super::{Dims, Pointwise};
use crate::cuda::{self, CudaStorage, LaunchConfig, Module, Strides};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::layout::Layout;

pub(crate) static MODULE: Module = Module::new("activation", include_str!("activation.cu"));

/// Threads of a row kernel's block: enough warps to cover a row of `dim`, at most 512.
pub(crate) fn row_threads(dim: usize) -> u32 {
    dim.next_multiple_of(32).clamp(32, 512) as u32
}

/// `kind` over every element of `x` viewed through `layout` (already in the kernel dtype).
pub(super) fn pointwise_forward(
    kind: Pointwise,
    x: &CudaStorage,
    layout: &Layout,
) -> Result<CudaStorage> {
    let op = kind.name();
    let kernel = match (kind, x.dtype()) {
        (Pointwise::Relu, DType::F32) => "activation_relu_f32",
        (Pointwise::Relu, DType::I64) => "activation_relu_i64",
        (Pointwise::Sigmoid, DType::F32) => "activation_sigmoid_f32",
        (Pointwise::Tanh, DType::F32) => "activation_tanh_f32",
        (Pointwise::Relu6, DType::F32) => "activation_relu6_f32",
        (Pointwise::Relu6, DType::I64) => "activation_relu6_i64",
        (Pointwise::Sigmoid | Pointwise::Tanh, DType::I64) | (_, DType::BF16 | DType::Bool) => {
            return Err(Error::Internal {
                op,
                detail: "input was not converted to a kernel dtype".into(),
            })
        }
    };
    let n = layout.numel();
    let device = x.device();
    let mut y = CudaStorage::alloc_dtype(device, x.dtype(), n)?;
    if n == 0 {
        return Ok(y);
    }
    // The base address suits any dtype of the same size: f32 and i64 kernels index in elements.
    let src = match x.dtype() {
        DType::I64 => x.base::<i64>(op)?,
        _ => x.base::<f32>(op)?,
    };
    let dst = match x.dtype() {
        DType::I64 => y.ptr_mut::<i64>(op, &Layout::contiguous(&[n]))?,
        _ => y.ptr_mut::<f32>(op, &Layout::contiguous(&[n]))?,
    };
    let (view, contiguous) = (Strides::new(op, layout)?, layout.is_contiguous() as i32);
    // SAFETY: `src` with `view` addresses elements inside `x` (the layout was validated against
    // its storage), `dst` holds `n` elements of the same dtype; stream-ordered.
    unsafe {
        device.launch(
            op,
            &MODULE,
            kernel,
            LaunchConfig::elementwise(n),
            &mut cuda::args![src, view, contiguous, dst, n as i64],
        )
    }?;
    Ok(y)
}

/// The input gradient of `kind` from the upstream gradient `g` and the saved output `y`, both
/// contiguous and of the same length.
pub(super) fn pointwise_backward_input(
    kind: Pointwise,
    g: &CudaStorage,
    gl: &Layout,
    y: &CudaStorage,
    yl: &Layout,
) -> Result<CudaStorage> {
    let op = kind.name();
    let kernel = match kind {
        Pointwise::Relu => "activation_relu_backward_f32",
        Pointwise::Sigmoid => "activation_sigmoid_backward_f32",
        Pointwise::Tanh => "activation_tanh_backward_f32",
        Pointwise::Relu6 => "activation_relu6_backward_f32",
    };
    let n = gl.numel();
    let (gp, yp) = (g.ptr::<f32>(op, gl)?, y.ptr::<f32>(op, yl)?);
    if yl.numel() != n {
        return Err(Error::Internal {
            op,
            detail: "gradient and output lengths differ".into(),
        });
    }
    let device = g.device();
    let mut dx = CudaStorage::alloc::<f32>(device, n)?;
    if n == 0 {
        return Ok(dx);
    }
    let dp = dx.ptr_mut::<f32>(op, &Layout::contiguous(&[n]))?;
    // SAFETY: the three buffers hold `n` f32 each; stream-ordered.
    unsafe {
        device.launch(
            op,
            &MODULE,
            kernel,
            LaunchConfig::elementwise(n),
            &mut cuda::args![gp, yp, dp, n as i64],
        )
    }?;
    Ok(dx)
}

/// Softmax (or log-softmax) of the contiguous `x` along the middle of `d`.
pub(super) fn softmax_forward(
    op: &'static str,
    x: &CudaStorage,
    layout: &Layout,
    d: Dims,
    log: bool,
) -> Result<CudaStorage> {
    let src = x.ptr::<f32>(op, layout)?;
    let n = layout.numel();
    let device = x.device();
    let mut y = CudaStorage::alloc::<f32>(device, n)?;
    if n == 0 {
        return Ok(y);
    }
    let dst = y.ptr_mut::<f32>(op, &Layout::contiguous(&[n]))?;
    let log = log as i32;
    let (outer, dim, inner) = (d.outer as i64, d.dim as i64, d.inner as i64);
    // SAFETY: `src` and `dst` hold outer * dim * inner f32 each; stream-ordered.
    unsafe {
        if d.inner == 1 {
            let config = LaunchConfig::rows(d.outer, row_threads(d.dim), 0);
            let args = &mut cuda::args![src, dst, outer, dim, log];
            device.launch(op, &MODULE, "activation_softmax_rows_f32", config, args)
        } else {
            let config = LaunchConfig::elementwise(d.outer * d.inner);
            let args = &mut cuda::args![src, dst, outer, dim, inner, log];
            device.launch(op, &MODULE, "activation_softmax_cols_f32", config, args)
        }
    }?;
    Ok(y)
}

/// Input gradient of softmax (or log-softmax) from its output `y` and gradient `g`, contiguous.
pub(super) fn softmax_backward_input(
    op: &'static str,
    (g, gl): (&CudaStorage, &Layout),
    (y, yl): (&CudaStorage, &Layout),
    d: Dims,
    log: bool,
) -> Result<CudaStorage> {
    let (gp, yp) = (g.ptr::<f32>(op, gl)?, y.ptr::<f32>(op, yl)?);
    let n = gl.numel();
    let device = g.device();
    let mut dx = CudaStorage::alloc::<f32>(device, n)?;
    if n == 0 {
        return Ok(dx);
    }
    let dp = dx.ptr_mut::<f32>(op, &Layout::contiguous(&[n]))?;
    let log = log as i32;
    let (outer, dim, inner) = (d.outer as i64, d.dim as i64, d.inner as i64);
    // SAFETY: the three buffers hold outer * dim * inner f32 each; stream-ordered.
    unsafe {
        if d.inner == 1 {
            let config = LaunchConfig::rows(d.outer, row_threads(d.dim), 0);
            let args = &mut cuda::args![gp, yp, dp, outer, dim, log];
            device.launch(
                op,
                &MODULE,
                "activation_softmax_backward_rows_f32",
                config,
                args,
            )
        } else {
            let config = LaunchConfig::elementwise(d.outer * d.inner);
            let args = &mut cuda::args![gp, yp, dp, outer, dim, inner, log];
            device.launch(
                op,
                &MODULE,
                "activation_softmax_backward_cols_f32",
                config,
                args,
            )
        }
    }?;
    Ok(dx)
}

#[cfg(test)]
mod tests {
    use super::super::Tensor;
    use crate::device::Device;
    use crate::dtype::DType;
    use crate::testing::{assert_same_values, cuda_test, tensor, values};

    /// `got` (on the device) against `want` (on the CPU): same shape and dtype, within 1e-4.
    #[track_caller]
    fn same(got: &Tensor, want: &Tensor) {
        assert_same_values(got, want, 1e-4);
    }

    type Activation = fn(&Tensor) -> crate::Result<Tensor>;

    /// Shapes of every rank up to 4 with odd sizes; element counts 1, 7, 33, 257 and 1031.
    const SHAPES: [&[usize]; 8] = [
        &[1],
        &[7],
        &[1031],
        &[3, 11],
        &[257, 1],
        &[2, 3, 5],
        &[3, 1, 11, 1],
        &[2, 3, 4, 5],
    ];

    /// The CPU tensor and the same values on `device`, scaled to reach the saturated ranges.
    fn pair(shape: &[usize], seed: u64, device: Device) -> (Tensor, Tensor) {
        let v = values(shape.iter().product(), seed);
        let x = Tensor::from_f32(v.iter().map(|v| v * 9.0).collect(), shape).unwrap();
        let d = x.to_device(device).unwrap();
        (x, d)
    }

    /// `f` forward on both devices, then backward with the same upstream gradient.
    fn forward_and_backward(f: impl Fn(&Tensor) -> Tensor, x: &Tensor, dx: &Tensor, seed: u64) {
        let (x, dx) = (x.detach(), dx.detach());
        x.set_requires_grad(true).unwrap();
        dx.set_requires_grad(true).unwrap();
        let (y, dy) = (f(&x), f(&dx));
        same(&dy, &y);
        let g = tensor(y.shape(), seed, Device::Cpu);
        y.backward(Some(&g), false).unwrap();
        dy.backward(Some(&g.to_device(dx.device()).unwrap()), false)
            .unwrap();
        same(&dx.grad().unwrap(), &x.grad().unwrap());
    }

    cuda_test!(fn pointwise_activations_match_the_cpu(device) {
        let activations: [Activation; 4] = [Tensor::relu, Tensor::sigmoid, Tensor::tanh, Tensor::relu6];
        for (i, shape) in SHAPES.iter().enumerate() {
            let (x, dx) = pair(shape, i as u64, device);
            for f in activations {
                forward_and_backward(|t| f(t).unwrap(), &x, &dx, 40 + i as u64);
            }
        }
    });

    cuda_test!(fn pointwise_activations_read_strided_views(device) {
        let (x, dx) = pair(&[5, 7, 3], 1, device);
        let views: [fn(&Tensor) -> Tensor; 3] = [
            |t| t.transpose(0, 2).unwrap(),
            |t| t.narrow(1, 2, 4).unwrap(),
            |t| t.narrow(2, 1, 1).unwrap().expand(&[5, 7, 6]).unwrap(),
        ];
        for view in views {
            for f in [Tensor::relu, Tensor::sigmoid, Tensor::tanh, Tensor::relu6] as [Activation; 4] {
                same(&f(&view(&dx)).unwrap(), &f(&view(&x)).unwrap());
            }
        }
    });

    cuda_test!(fn pointwise_dtypes_and_special_values(device) {
        let ints = Tensor::from_i64(vec![-2, 0, 3, i64::MIN, i64::MAX], &[5]).unwrap();
        let got = ints.to_device(device).unwrap().relu().unwrap();
        assert_eq!(got.dtype(), DType::I64);
        assert_eq!(
            got.to_device(Device::Cpu).unwrap().to_vec_i64().unwrap(),
            ints.relu().unwrap().to_vec_i64().unwrap()
        );
        let got = ints.to_device(device).unwrap().relu6().unwrap();
        assert_eq!(
            got.to_device(Device::Cpu).unwrap().to_vec_i64().unwrap(),
            ints.relu6().unwrap().to_vec_i64().unwrap()
        );
        let sig = ints.to_device(device).unwrap().sigmoid().unwrap();
        assert_eq!(sig.dtype(), DType::F32);
        let special = vec![f32::NAN, f32::NEG_INFINITY, f32::INFINITY, -0.0, 100.0, -100.0];
        let x = Tensor::from_f32(special, &[6]).unwrap();
        let dx = x.to_device(device).unwrap();
        for f in [Tensor::relu, Tensor::sigmoid, Tensor::tanh, Tensor::relu6] as [Activation; 4] {
            let (want, got) = (f(&x).unwrap(), f(&dx).unwrap());
            let got = got.to_device(Device::Cpu).unwrap().to_vec_f32().unwrap();
            let want = want.to_vec_f32().unwrap();
            assert!(got[0].is_nan() && want[0].is_nan());
            assert_eq!(got[1..], want[1..]);
        }
    });

    /// Softmax inputs: a rank 1-4 shape, with one large dim for the multi-warp row kernel.
    const SOFTMAX_SHAPES: [&[usize]; 6] = [
        &[7],
        &[1031],
        &[3, 257],
        &[5, 1, 9],
        &[2, 3, 4, 5],
        &[3, 600, 2],
    ];

    cuda_test!(fn softmax_along_every_dim_matches_the_cpu(device) {
        for (i, shape) in SOFTMAX_SHAPES.iter().enumerate() {
            let (x, dx) = pair(shape, 10 + i as u64, device);
            for dim in -(shape.len() as i64)..shape.len() as i64 {
                let seed = 20 + i as u64;
                forward_and_backward(|t| t.softmax(dim).unwrap(), &x, &dx, seed);
                forward_and_backward(|t| t.log_softmax(dim).unwrap(), &x, &dx, seed);
            }
        }
    });

    cuda_test!(fn softmax_of_strided_views_and_large_logits(device) {
        let (x, dx) = pair(&[4, 6, 5], 3, device);
        let t = |t: &Tensor| t.transpose(0, 2).unwrap();
        for dim in 0..3 {
            same(&t(&dx).softmax(dim).unwrap(), &t(&x).softmax(dim).unwrap());
            same(&t(&dx).log_softmax(dim).unwrap(), &t(&x).log_softmax(dim).unwrap());
        }
        let big = vec![1000.0, 1001.0, -1000.0, 0.0, 88.0, 89.0, -1e30, 1e30];
        let x = Tensor::from_f32(big, &[2, 4]).unwrap();
        let dx = x.to_device(device).unwrap();
        for dim in [0, 1] {
            same(&dx.softmax(dim).unwrap(), &x.softmax(dim).unwrap());
            same(&dx.log_softmax(dim).unwrap(), &x.log_softmax(dim).unwrap());
        }
        let empty = Tensor::from_f32(vec![], &[0, 3]).unwrap().to_device(device).unwrap();
        assert_eq!(empty.softmax(1).unwrap().shape(), &[0, 3]);
        let scalar = Tensor::from_f32(values(1, 1), &[]).unwrap().to_device(device).unwrap();
        assert_eq!(scalar.log_softmax(0).unwrap().item().unwrap(), 0.0);
    });
}
