//! The CUDA kernels of the binary ops (`binary.cu`): two broadcast operands, each read through its
//! own strides, into a dense output.

use super::BinaryOp;
use crate::cuda::{self, CudaStorage, LaunchConfig, Module};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::ops::copy::cuda::{base, check_same_device, kernel_strides, tag};

pub(crate) static MODULE: Module = Module::new("binary", include_str!("binary.cu"));

/// `lhs <op> rhs` over operands viewed through `ll` and `rl` (both broadcast to `shape`), which
/// were promoted to one kernel dtype (see `compute_dtype`).
pub(super) fn binary(
    op: BinaryOp,
    lhs: &CudaStorage,
    ll: &Layout,
    rhs: &CudaStorage,
    rl: &Layout,
    shape: &[usize],
) -> Result<CudaStorage> {
    use BinaryOp::*;
    let name = op.name();
    check_same_device(name, lhs, rhs)?;
    let dtype = lhs.dtype();
    let supported = match (op, dtype) {
        (Div, DType::I64 | DType::Bool) | (Sub | Pow, DType::Bool) | (_, DType::BF16) => false,
        (_, DType::F32 | DType::I64 | DType::Bool) => true,
    };
    if !supported || rhs.dtype() != dtype {
        return Err(Error::Internal {
            op: name,
            detail: "operands were not promoted to a kernel dtype".into(),
        });
    }
    let out_dtype = if op.is_comparison() {
        DType::Bool
    } else {
        dtype
    };
    let n = ll.numel();
    let out = CudaStorage::alloc_dtype(lhs.device(), out_dtype, n)?;
    if n == 0 {
        return Ok(out);
    }
    let [sa, sb] = kernel_strides(name, shape, [(ll, lhs.len()), (rl, rhs.len())])?;
    let (a, b, y, count) = (
        base(name, lhs)?,
        base(name, rhs)?,
        base(name, &out)?,
        n as i64,
    );
    if (op, dtype) == (Pow, DType::I64) {
        int_pow(lhs, [a, b, y], [sa, sb], n)?;
        return Ok(out);
    }
    let kernel = format!("binary_{name}_{}", tag(dtype));
    // SAFETY: `binary_<op>_<dtype>(const T*, Strides, const T*, Strides, U*, long long)` matches
    // the arguments; `a` and `b` are the bases of the live operands, whose views
    // `kernel_strides` checked lie inside them, and `y` a fresh storage of `n` elements of the
    // output dtype (bool for comparisons). Queued after the operands' writers.
    unsafe {
        lhs.device().launch(
            name,
            &MODULE,
            &kernel,
            LaunchConfig::elementwise(n),
            &mut cuda::args![a, sa, b, sb, y, count],
        )?;
    }
    Ok(out)
}

/// int64 pow, which fails as on the CPU when any exponent is negative: the kernel raises a flag
/// on the device, and reading it back waits for the kernel.
fn int_pow(
    lhs: &CudaStorage,
    [a, b, y]: [u64; 3],
    [sa, sb]: [cuda::Strides; 2],
    n: usize,
) -> Result<()> {
    let device = lhs.device();
    let flag = device.workspace("pow", 4)?;
    device.memset_zero("pow", flag.ptr(), 4)?;
    let (negative, count) = (flag.ptr(), n as i64);
    // SAFETY: `binary_pow_i64(const long long*, Strides, const long long*, Strides, long long*,
    // long long, int*)` matches the arguments; the pointers are as in `binary`, and `negative`
    // is a live block of 4 bytes, zeroed above in stream order.
    unsafe {
        device.launch(
            "pow",
            &MODULE,
            "binary_pow_i64",
            LaunchConfig::elementwise(n),
            &mut cuda::args![a, sa, b, sb, y, count, negative],
        )?;
    }
    let mut raised = [0u8; 4];
    device.download("pow", &mut raised, negative)?;
    if i32::from_ne_bytes(raised) != 0 {
        return Err(Error::invalid(
            "pow",
            "integers to negative integer powers are not allowed",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::Device;
    use crate::ops::copy::cases::{assert_same_gradients, cases_of};
    use crate::testing::{assert_same_values, cuda_test};
    use crate::Tensor;
    use BinaryOp::*;

    const OPS: [BinaryOp; 13] = [
        Add, Sub, Mul, Div, Pow, Maximum, Minimum, Eq, Ne, Lt, Le, Gt, Ge,
    ];
    const DTYPES: [DType; 3] = [DType::F32, DType::I64, DType::Bool];

    /// Shape pairs that broadcast: equal, scalar against any rank, size 1 in every position, and
    /// missing leading dims.
    const PAIRS: [(&[usize], &[usize]); 8] = [
        (&[7], &[7]),
        (&[], &[2, 3, 5, 7]),
        (&[33, 3], &[]),
        (&[3, 1, 5], &[4, 1]),
        (&[1, 5], &[3, 1, 5]),
        (&[2, 1, 5, 1], &[3, 1, 7]),
        (&[1031, 2], &[1031, 1]),
        (&[2, 3, 5, 7], &[2, 3, 5, 7]),
    ];

    /// `op` on the device and on the CPU: the same values, or the same error.
    #[track_caller]
    fn check(op: BinaryOp, a: (&Tensor, &Tensor), b: (&Tensor, &Tensor), what: &str) {
        match (a.0.binary(op, b.0), a.1.binary(op, b.1)) {
            (Ok(got), Ok(want)) => assert_same_values(&got, &want, 1e-5),
            (Err(got), Err(want)) => assert_eq!(got.to_string(), want.to_string(), "{what}"),
            (got, want) => panic!("{what}: {got:?} on the device, {want:?} on the CPU"),
        }
    }

    cuda_test!(fn cuda_binary_ops_match_the_cpu_for_every_dtype_pair_and_broadcast(device) {
        for (sa, sb) in PAIRS {
            for da in DTYPES {
                for db in DTYPES {
                    let lhs = cases_of(da, sa, 1, device);
                    let rhs = cases_of(db, sb, 2, device);
                    // Every layout of each side, against a rotating layout of the other.
                    for (i, l) in lhs.iter().enumerate() {
                        let r = &rhs[i % rhs.len()];
                        for op in OPS {
                            let what = format!("{} {da}{sa:?} ({}) {db}{sb:?} ({})", op.name(), l.layout, r.layout);
                            // int64 pow refuses negative exponents: give it their absolute values too.
                            check(op, (&l.dev, &l.cpu), (&r.dev, &r.cpu), &what);
                            if op == Pow {
                                let (rd, rc) = (r.dev.abs().unwrap(), r.cpu.abs().unwrap());
                                check(op, (&l.dev, &l.cpu), (&rd, &rc), &what);
                            }
                        }
                    }
                }
            }
        }
    });

    cuda_test!(fn cuda_binary_special_values_and_scalars_match_the_cpu(device) {
        let specials = [0.0, -0.0, 1.0, -1.0, 2.5, f32::NAN, f32::INFINITY, f32::NEG_INFINITY];
        let n = specials.len();
        let a = Tensor::from_f32(specials.to_vec(), &[n, 1]).unwrap();
        let b = Tensor::from_f32(specials.to_vec(), &[1, n]).unwrap();
        let ints = Tensor::from_i64(vec![i64::MIN, i64::MAX, -3, 0, 2, 63, 64], &[7, 1]).unwrap();
        let pairs = [(a, b), (ints.clone(), ints.transpose(0, 1).unwrap().abs().unwrap())];
        for (x, y) in pairs {
            let (xd, yd) = (x.to_device(device).unwrap(), y.to_device(device).unwrap());
            for op in OPS {
                check(op, (&xd, &x), (&yd, &y), op.name());
            }
        }
        for dtype in DTYPES {
            for case in cases_of(dtype, &[3, 5], 4, device) {
                for scalar in [2.0, 0.5, -3.0, 0.0, f64::NAN, 1e10] {
                    for op in OPS {
                        match (case.dev.binary_scalar(op, scalar), case.cpu.binary_scalar(op, scalar)) {
                            (Ok(got), Ok(want)) => assert_same_values(&got, &want, 1e-5),
                            (Err(got), Err(want)) => assert_eq!(got.to_string(), want.to_string()),
                            (got, want) => panic!("{} {scalar}: {got:?} vs {want:?}", op.name()),
                        }
                    }
                }
            }
        }
        let host = Tensor::ones(&[2], DType::F32, Device::Cpu).unwrap();
        let dev = host.to_device(device).unwrap();
        assert_eq!(dev.add(&host).unwrap_err().code(), "DeviceMismatch");
    });

    cuda_test!(fn cuda_binary_gradients_match_the_cpu_with_broadcasting(device) {
        for op in [Add, Sub, Mul, Div, Pow, Maximum, Minimum] {
            for (sa, sb) in [(&[3, 1, 5][..], &[4, 1][..]), (&[2, 3][..], &[][..]), (&[6][..], &[6][..])] {
                assert_same_gradients(&[sa, sb], device, |x| {
                    // pow on positive bases, where its gradient is defined.
                    let l = match op {
                        Pow => x[0].abs()?.binary_scalar(Add, 0.5)?,
                        _ => x[0].clone(),
                    };
                    l.binary(op, &x[1])
                });
            }
        }
    });
}
