use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, Ordering};

use super::BinaryOp;
use crate::cpu::{collect_runs, with_wide_vectors};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::storage::CpuStorage;

/// `lhs <op> rhs` over operands viewed through `ll` and `rl` (both broadcast to `shape`). The
/// operands were promoted to one kernel dtype; each dtype's kernels are listed below it.
pub(super) fn binary(
    op: BinaryOp,
    lhs: &CpuStorage,
    ll: &Layout,
    rhs: &CpuStorage,
    rl: &Layout,
    shape: &[usize],
) -> Result<CpuStorage> {
    use CpuStorage as S;
    match (lhs, rhs) {
        (S::F32(a), S::F32(b)) => float(op, a, ll, b, rl, shape),
        (S::I64(a), S::I64(b)) => int(op, a, ll, b, rl, shape),
        (S::Bool(a), S::Bool(b)) => logic(op, a, ll, b, rl, shape),
        (S::F32(_) | S::BF16(_) | S::I64(_) | S::Bool(_), _) => Err(internal(op)),
    }
}

// Macros rather than closures over `fn` pointers: each op's function must be a type of its own
// for its loop to inline and vectorise.
macro_rules! kernel {
    ($variant:ident, $op:expr, $a:expr, $ll:expr, $b:expr, $rl:expr, $shape:expr, $f:expr) => {
        CpuStorage::$variant(zip($op.name(), $a, $ll, $b, $rl, $shape, $f)?)
    };
}

fn float(
    op: BinaryOp,
    a: &[f32],
    ll: &Layout,
    b: &[f32],
    rl: &Layout,
    shape: &[usize],
) -> Result<CpuStorage> {
    use BinaryOp::*;
    macro_rules! num {
        ($f:expr) => {
            kernel!(F32, op, a, ll, b, rl, shape, $f)
        };
    }
    Ok(match op {
        Add => num!(|x, y| x + y),
        Sub => num!(|x, y| x - y),
        Mul => num!(|x, y| x * y),
        Div => num!(|x, y| x / y),
        Pow => num!(f32::powf),
        // NaN wins, as in PyTorch.
        Maximum => num!(|x, y| {
            if x.is_nan() || y.is_nan() {
                x + y
            } else if x > y {
                x
            } else {
                y
            }
        }),
        Minimum => num!(|x, y| {
            if x.is_nan() || y.is_nan() {
                x + y
            } else if x < y {
                x
            } else {
                y
            }
        }),
        Eq | Ne | Lt | Le | Gt | Ge => compare(op, a, ll, b, rl, shape)?,
    })
}

fn int(
    op: BinaryOp,
    a: &[i64],
    ll: &Layout,
    b: &[i64],
    rl: &Layout,
    shape: &[usize],
) -> Result<CpuStorage> {
    use BinaryOp::*;
    macro_rules! num {
        ($f:expr) => {
            kernel!(I64, op, a, ll, b, rl, shape, $f)
        };
    }
    Ok(match op {
        Add => num!(i64::wrapping_add),
        Sub => num!(i64::wrapping_sub),
        Mul => num!(i64::wrapping_mul),
        Pow => CpuStorage::I64(int_pow(a, ll, b, rl, shape)?),
        Maximum => num!(i64::max),
        Minimum => num!(i64::min),
        Eq | Ne | Lt | Le | Gt | Ge => compare(op, a, ll, b, rl, shape)?,
        // Integers divide to float (see `compute_dtype`).
        Div => return Err(internal(op)),
    })
}

/// The comparisons, alike for every ordered dtype; bools have their own in `logic`.
fn compare<T: PartialOrd + Copy + Sync>(
    op: BinaryOp,
    a: &[T],
    ll: &Layout,
    b: &[T],
    rl: &Layout,
    shape: &[usize],
) -> Result<CpuStorage> {
    use BinaryOp::*;
    macro_rules! cmp {
        ($f:expr) => {
            kernel!(Bool, op, a, ll, b, rl, shape, $f)
        };
    }
    Ok(match op {
        Eq => cmp!(|x: T, y: T| x == y),
        Ne => cmp!(|x: T, y: T| x != y),
        Lt => cmp!(|x: T, y: T| x < y),
        Le => cmp!(|x: T, y: T| x <= y),
        Gt => cmp!(|x: T, y: T| x > y),
        Ge => cmp!(|x: T, y: T| x >= y),
        Add | Sub | Mul | Div | Pow | Maximum | Minimum => return Err(internal(op)),
    })
}

fn logic(
    op: BinaryOp,
    a: &[bool],
    ll: &Layout,
    b: &[bool],
    rl: &Layout,
    shape: &[usize],
) -> Result<CpuStorage> {
    use BinaryOp::*;
    macro_rules! logic {
        ($f:expr) => {
            kernel!(Bool, op, a, ll, b, rl, shape, $f)
        };
    }
    Ok(match op {
        Add | Maximum => logic!(|x, y| x | y),
        Mul | Minimum => logic!(|x, y| x & y),
        Eq => logic!(|x, y| x == y),
        Ne => logic!(|x, y| x != y),
        Lt => logic!(|x, y| !x & y),
        Le => logic!(|x, y| x <= y),
        Gt => logic!(|x, y| x & !y),
        Ge => logic!(|x, y| x >= y),
        // Refused for bools, or promoted away from them (see `compute_dtype`).
        Sub | Div | Pow => return Err(internal(op)),
    })
}

fn internal(op: BinaryOp) -> Error {
    Error::Internal {
        op: op.name(),
        detail: "operands were not promoted to a kernel dtype".into(),
    }
}

fn int_pow(a: &[i64], ll: &Layout, b: &[i64], rl: &Layout, shape: &[usize]) -> Result<Vec<i64>> {
    let negative = AtomicBool::new(false);
    let out = zip("pow", a, ll, b, rl, shape, |x: i64, y: i64| {
        if y < 0 {
            negative.store(true, Ordering::Relaxed);
        }
        x.wrapping_pow(y.clamp(0, u32::MAX as i64) as u32)
    })?;
    if negative.into_inner() {
        return Err(Error::invalid(
            "pow",
            "integers to negative integer powers are not allowed",
        ));
    }
    Ok(out)
}

/// `f` over two broadcast operands; the stride-0/1 cases are split out so they vectorise.
fn zip<T: Copy + Sync, U: Send>(
    op: &'static str,
    a: &[T],
    la: &Layout,
    b: &[T],
    lb: &Layout,
    shape: &[usize],
    f: impl Fn(T, T) -> U + Sync,
) -> Result<Vec<U>> {
    collect_runs(
        op,
        shape,
        [la, lb],
        |out: &mut [MaybeUninit<U>], [ia, ib], [sa, sb]| {
            let n = out.len();
            match (sa, sb) {
                (1, 1) => {
                    for ((o, &x), &y) in out.iter_mut().zip(&a[ia..ia + n]).zip(&b[ib..ib + n]) {
                        o.write(f(x, y));
                    }
                }
                (1, 0) => {
                    let y = b[ib];
                    for (o, &x) in out.iter_mut().zip(&a[ia..ia + n]) {
                        o.write(f(x, y));
                    }
                }
                (0, 1) => {
                    let x = a[ia];
                    for (o, &y) in out.iter_mut().zip(&b[ib..ib + n]) {
                        o.write(f(x, y));
                    }
                }
                _ => {
                    for (i, o) in out.iter_mut().enumerate() {
                        o.write(f(a[ia + i * sa], b[ib + i * sb]));
                    }
                }
            }
        },
    )
}

/// `relu(a + b)` over two float32 operands of one shape, as `add` then `relu` compute it (NaN
/// passes the ReLU).
pub(super) fn add_relu(a: &[f32], la: &Layout, b: &[f32], lb: &Layout) -> Result<Vec<f32>> {
    collect_runs(
        "add_relu",
        la.shape(),
        [la, lb],
        |out: &mut [MaybeUninit<f32>], [ia, ib], [sa, sb]| {
            let n = out.len();
            with_wide_vectors(
                #[inline(always)]
                || match (sa, sb) {
                    (1, 1) => {
                        for ((o, &x), &y) in out.iter_mut().zip(&a[ia..ia + n]).zip(&b[ib..ib + n])
                        {
                            o.write(relu(x + y));
                        }
                    }
                    _ => {
                        for (i, o) in out.iter_mut().enumerate() {
                            o.write(relu(a[ia + i * sa] + b[ib + i * sb]));
                        }
                    }
                },
            )
        },
    )
}

/// ReLU as `Tensor::relu` computes it: NaN passes through.
#[inline(always)]
fn relu(v: f32) -> f32 {
    if v > 0.0 || v.is_nan() {
        v
    } else {
        0.0
    }
}

/// ReLU's backward from its output `y`, as `relu`'s: `g` where `y > 0`, else 0. Both dense.
pub(super) fn relu_backward(g: &[f32], y: &[f32]) -> Result<Vec<f32>> {
    let layout = Layout::contiguous(&[g.len()]);
    collect_runs(
        "add_relu",
        layout.shape(),
        [&layout, &layout],
        |out: &mut [MaybeUninit<f32>], [at, _], _| {
            let n = out.len();
            with_wide_vectors(
                #[inline(always)]
                || {
                    for ((o, &g), &y) in out.iter_mut().zip(&g[at..at + n]).zip(&y[at..at + n]) {
                        o.write(if y > 0.0 { g } else { 0.0 });
                    }
                },
            )
        },
    )
}
