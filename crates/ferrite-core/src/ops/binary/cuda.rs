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
        (Div, DType::I64 | DType::Bool) | (Sub | Pow, DType::Bool) => false,
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
