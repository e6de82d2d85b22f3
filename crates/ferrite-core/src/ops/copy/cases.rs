//! Test inputs for the CUDA ops against the CPU: one logical tensor in several layouts (dense,
//! transposed, narrowed, expanded, permuted), built by the same view ops on both devices, since
//! `to_device` itself makes a tensor dense; and a gradient check of an op on both devices.

use crate::device::Device;
use crate::dtype::DType;
use crate::error::Result;
use crate::ops::binary::BinaryOp;
use crate::tensor::Tensor;
use crate::testing::{assert_same_values, floats, leaf_on, values};

/// One logical tensor on the CPU and on the device, laid out alike.
pub(crate) struct Case {
    pub layout: &'static str,
    pub cpu: Tensor,
    pub dev: Tensor,
}

/// The layouts a test tensor of `shape` can have. Each is a view of its own dense tensor, so the
/// values differ between layouts; on the CPU and the device they are the same.
#[derive(Clone, Copy)]
enum View {
    Dense,
    /// The transpose of a dense tensor with the last two dims swapped.
    Transposed,
    /// The middle of a dense tensor two longer in the last dim.
    Narrowed,
    /// A dense tensor with size 1 in dim 0, expanded (stride 0).
    Expanded,
    /// The reversed permutation of a dense tensor of the reversed shape.
    Reversed,
}

impl View {
    fn name(self) -> &'static str {
        match self {
            View::Dense => "dense",
            View::Transposed => "transposed",
            View::Narrowed => "narrowed",
            View::Expanded => "expanded",
            View::Reversed => "reversed",
        }
    }

    /// The shape of the dense tensor the view is taken of, if it applies to `shape`.
    fn base_shape(self, shape: &[usize]) -> Option<Vec<usize>> {
        let rank = shape.len();
        let mut base = shape.to_vec();
        match self {
            View::Dense => {}
            View::Transposed if rank >= 2 => base.swap(rank - 2, rank - 1),
            View::Narrowed if rank >= 1 => base[rank - 1] += 2,
            View::Expanded if rank >= 1 && shape[0] > 1 => base[0] = 1,
            View::Reversed if rank >= 3 => base.reverse(),
            View::Transposed | View::Narrowed | View::Expanded | View::Reversed => return None,
        }
        Some(base)
    }

    fn apply(self, base: &Tensor, shape: &[usize]) -> Tensor {
        let rank = shape.len() as i64;
        match self {
            View::Dense => base.clone(),
            View::Transposed => base.transpose(rank - 2, rank - 1).unwrap(),
            View::Narrowed => base.narrow(rank - 1, 1, shape[shape.len() - 1]).unwrap(),
            View::Expanded => {
                let sizes: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
                base.expand(&sizes).unwrap()
            }
            View::Reversed => {
                let order: Vec<i64> = (0..rank).rev().collect();
                base.permute(&order).unwrap()
            }
        }
    }
}

const VIEWS: [View; 5] = [
    View::Dense,
    View::Transposed,
    View::Narrowed,
    View::Expanded,
    View::Reversed,
];

/// Float32 tensors of `shape` (values in [-1, 1) from `seed`) in every layout that applies.
pub(crate) fn cases(shape: &[usize], seed: u64, device: Device) -> Vec<Case> {
    VIEWS
        .iter()
        .filter_map(|&view| {
            let base_shape = view.base_shape(shape)?;
            let n = base_shape.iter().product();
            let base = floats(values(n, seed), &base_shape, Device::Cpu);
            let on_device = base.to_device(device).unwrap();
            Some(Case {
                layout: view.name(),
                cpu: view.apply(&base, shape),
                dev: view.apply(&on_device, shape),
            })
        })
        .collect()
}

/// `cases` converted to `dtype`: int64 holds the values times 5 truncated (-5 to 4, with ties),
/// bool holds whether they are positive.
pub(crate) fn cases_of(dtype: DType, shape: &[usize], seed: u64, device: Device) -> Vec<Case> {
    let convert = |t: &Tensor| -> Tensor {
        match dtype {
            DType::F32 => t.clone(),
            DType::BF16 => t.to_dtype(DType::BF16).unwrap(),
            DType::I64 => t
                .binary_scalar(BinaryOp::Mul, 5.0)
                .unwrap()
                .to_dtype(DType::I64)
                .unwrap(),
            DType::Bool => t.binary_scalar(BinaryOp::Gt, 0.0).unwrap(),
        }
    };
    cases(shape, seed, device)
        .into_iter()
        .map(|c| Case {
            layout: c.layout,
            cpu: convert(&c.cpu),
            dev: convert(&c.dev),
        })
        .collect()
}

/// Odd sizes at ranks 0 to 4.
pub(crate) const SHAPES: [&[usize]; 8] = [
    &[],
    &[1],
    &[7],
    &[257],
    &[33, 3],
    &[3, 1, 5],
    &[2, 3, 5, 7],
    &[1031, 2],
];

/// `f` of leaves of `shapes` on the CPU and on `device`: the same values out, and the same
/// gradients of a weighted sum of the output (within 1e-4 relative).
#[track_caller]
pub(crate) fn assert_same_gradients(
    shapes: &[&[usize]],
    device: Device,
    f: impl Fn(&[Tensor]) -> Result<Tensor>,
) {
    let run = |on: Device| {
        let leaves: Vec<Tensor> = shapes
            .iter()
            .enumerate()
            .map(|(i, shape)| leaf_on(shape, 11 + i as u64, on))
            .collect();
        let out = f(&leaves).unwrap();
        let weights = floats(
            values(out.numel(), 99).iter().map(|v| v + 1.5).collect(),
            out.shape(),
            on,
        );
        out.mul(&weights)
            .unwrap()
            .sum(&[], false)
            .unwrap()
            .backward(None, false)
            .unwrap();
        let grads: Vec<Tensor> = leaves
            .iter()
            .map(|l| l.grad().expect("an input got no gradient"))
            .collect();
        (out, grads)
    };
    let (want, want_grads) = run(Device::Cpu);
    let (got, got_grads) = run(device);
    assert_same_values(&got, &want, 1e-4);
    for (g, w) in got_grads.iter().zip(&want_grads) {
        assert_eq!(g.device(), device, "the gradient left the device");
        assert_same_values(g, w, 1e-4);
    }
}
