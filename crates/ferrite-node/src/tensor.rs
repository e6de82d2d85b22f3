//! Tensor methods, as functions of a tensor handle (see `handle.rs`): getters, autograd, views,
//! elementwise ops and reductions.

use ferrite_core::trace::Op;
use ferrite_core::{BinaryOp, CpuStorage, Error, ReduceOp, UnaryOp};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::{self, guard, js_error};
use crate::handle::{apply, run_op, wrap, TensorHandle};

#[napi]
pub enum BinaryOpCode {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Maximum,
    Minimum,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl From<BinaryOpCode> for BinaryOp {
    fn from(op: BinaryOpCode) -> Self {
        match op {
            BinaryOpCode::Add => BinaryOp::Add,
            BinaryOpCode::Sub => BinaryOp::Sub,
            BinaryOpCode::Mul => BinaryOp::Mul,
            BinaryOpCode::Div => BinaryOp::Div,
            BinaryOpCode::Pow => BinaryOp::Pow,
            BinaryOpCode::Maximum => BinaryOp::Maximum,
            BinaryOpCode::Minimum => BinaryOp::Minimum,
            BinaryOpCode::Eq => BinaryOp::Eq,
            BinaryOpCode::Ne => BinaryOp::Ne,
            BinaryOpCode::Lt => BinaryOp::Lt,
            BinaryOpCode::Le => BinaryOp::Le,
            BinaryOpCode::Gt => BinaryOp::Gt,
            BinaryOpCode::Ge => BinaryOp::Ge,
        }
    }
}

#[napi]
pub enum UnaryOpCode {
    Neg,
    Abs,
    Exp,
    Log,
    Sqrt,
}

impl From<UnaryOpCode> for UnaryOp {
    fn from(op: UnaryOpCode) -> Self {
        match op {
            UnaryOpCode::Neg => UnaryOp::Neg,
            UnaryOpCode::Abs => UnaryOp::Abs,
            UnaryOpCode::Exp => UnaryOp::Exp,
            UnaryOpCode::Log => UnaryOp::Log,
            UnaryOpCode::Sqrt => UnaryOp::Sqrt,
        }
    }
}

#[napi]
pub enum ReduceOpCode {
    Sum,
    Mean,
    Max,
    Min,
    ArgMax,
    ArgMin,
}

impl From<ReduceOpCode> for ReduceOp {
    fn from(op: ReduceOpCode) -> Self {
        match op {
            ReduceOpCode::Sum => ReduceOp::Sum,
            ReduceOpCode::Mean => ReduceOp::Mean,
            ReduceOpCode::Max => ReduceOp::Max,
            ReduceOpCode::Min => ReduceOp::Min,
            ReduceOpCode::ArgMax => ReduceOp::ArgMax,
            ReduceOpCode::ArgMin => ReduceOp::ArgMin,
        }
    }
}

#[napi]
pub fn shape(handle: TensorHandle) -> Result<Vec<i64>, String> {
    Ok(handle
        .peek("shape")?
        .shape()
        .iter()
        .map(|&d| d as i64)
        .collect())
}

#[napi]
pub fn dtype(handle: TensorHandle) -> Result<&'static str, String> {
    Ok(handle.peek("dtype")?.dtype().name())
}

#[napi]
pub fn device(handle: TensorHandle) -> Result<String, String> {
    Ok(handle.peek("device")?.device().to_string())
}

#[napi]
pub fn requires_grad(handle: TensorHandle) -> Result<bool, String> {
    Ok(handle.peek("requiresGrad")?.requires_grad())
}

#[napi]
pub fn set_requires_grad(handle: TensorHandle, requires_grad: bool) -> Result<(), String> {
    let t = handle.get("requiresGrad")?;
    guard("requiresGrad", || t.set_requires_grad(requires_grad))
}

#[napi]
pub fn is_leaf(handle: TensorHandle) -> Result<bool, String> {
    Ok(handle.peek("isLeaf")?.is_leaf())
}

/// In-place changes so far to the tensor's storage (shared with its views).
#[napi]
pub fn version(handle: TensorHandle) -> Result<f64, String> {
    Ok(handle.peek("_version")?.version() as f64)
}

/// PyTorch's name of the node that produced this tensor, e.g. `MulBackward0`.
#[napi]
pub fn grad_fn(handle: TensorHandle) -> Result<Option<&'static str>, String> {
    Ok(handle.peek("gradFn")?.grad_fn_name())
}

#[napi]
pub fn grad(env: Env, handle: TensorHandle) -> Result<Option<TensorHandle>, String> {
    Ok(handle.get("grad")?.grad().map(|g| wrap(&env, g)))
}

#[napi]
pub fn set_grad(handle: TensorHandle, grad: Option<TensorHandle>) -> Result<(), String> {
    let t = handle.get("grad")?;
    let grad = grad.map(|g| g.get("grad")).transpose()?;
    guard("grad", || t.set_grad(grad))
}

/// Back-propagates from this tensor into the `grad` of every leaf it depends on.
#[napi]
pub fn backward(
    handle: TensorHandle,
    grad: Option<TensorHandle>,
    retain_graph: bool,
) -> Result<(), String> {
    let t = handle.get("backward")?;
    let grad = grad.map(|g| g.get("backward")).transpose()?;
    guard("backward", || t.backward(grad.as_ref(), retain_graph))
}

/// Copies `src` into this tensor's storage (broadcasting, converting the dtype).
#[napi]
pub fn copy_from(handle: TensorHandle, src: TensorHandle) -> Result<(), String> {
    let t = handle.get("copy_")?;
    let src = src.get("copy_")?;
    guard("copy_", || t.copy_(&src))
}

#[napi]
pub fn detach(env: Env, handle: TensorHandle) -> Result<TensorHandle, String> {
    apply(&env, handle, "detach", |t| Ok(t.detach()))
}

#[napi]
pub fn is_contiguous(handle: TensorHandle) -> Result<bool, String> {
    Ok(handle.peek("isContiguous")?.is_contiguous())
}

#[napi]
pub fn shares_storage(handle: TensorHandle, other: TensorHandle) -> Result<bool, String> {
    Ok(handle
        .peek("sharesStorage")?
        .shares_storage(&other.peek("sharesStorage")?))
}

/// PyTorch's print layout, e.g. `tensor([1., 2.])`.
#[napi]
pub fn format(handle: TensorHandle) -> Result<String, String> {
    let t = handle.peek("toString")?;
    guard("toString", || Ok(t.to_string()))
}

#[napi]
pub fn item(handle: TensorHandle) -> Result<f64, String> {
    let t = handle.get("item")?;
    guard("item", || t.item())
}

/// Row-major float32 copy of a float tensor: float32 as it is, bfloat16 widened exactly (JS has
/// no bfloat16 array; every bfloat16 is a float32 with its low 16 bits zero).
#[napi]
pub fn to_float32_array(handle: TensorHandle) -> Result<Float32Array, String> {
    let t = handle.get("toFloat32Array")?;
    guard("toTypedArray", || match t.to_cpu_storage()? {
        CpuStorage::F32(v) => Ok(v),
        CpuStorage::BF16(v) => Ok(v.into_iter().map(f32::from).collect()),
        other @ (CpuStorage::I64(_) | CpuStorage::Bool(_)) => Err(Error::dtype(
            "toTypedArray",
            "float32 or bfloat16",
            other.dtype(),
        )),
    })
    .map(Float32Array::new)
}

/// Row-major int64 copy (int64 tensors only).
#[napi]
pub fn to_int64_array(handle: TensorHandle) -> Result<BigInt64Array, String> {
    let t = handle.get("toInt64Array")?;
    guard("toTypedArray", || t.to_vec_i64()).map(BigInt64Array::new)
}

/// Row-major copy as float64 whatever the dtype, for building JS numbers.
#[napi]
pub fn to_float64_array(handle: TensorHandle) -> Result<Float64Array, String> {
    let t = handle.get("toArray")?;
    guard("toArray", || t.to_vec_f64()).map(Float64Array::new)
}

#[napi]
pub fn binary(
    env: Env,
    handle: TensorHandle,
    op: BinaryOpCode,
    other: TensorHandle,
) -> Result<TensorHandle, String> {
    let op = BinaryOp::from(op);
    run_op(
        &env,
        op.name(),
        Op::Binary(op),
        &[Some(handle), Some(other)],
    )
}

#[napi]
pub fn binary_scalar(
    env: Env,
    handle: TensorHandle,
    op: BinaryOpCode,
    scalar: f64,
) -> Result<TensorHandle, String> {
    let op = BinaryOp::from(op);
    run_op(
        &env,
        op.name(),
        Op::BinaryScalar { op, scalar },
        &[Some(handle)],
    )
}

#[napi]
pub fn unary(env: Env, handle: TensorHandle, op: UnaryOpCode) -> Result<TensorHandle, String> {
    let op = UnaryOp::from(op);
    run_op(&env, op.name(), Op::Unary(op), &[Some(handle)])
}

/// Reduces over `dims` (all dims when empty).
#[napi]
pub fn reduce(
    env: Env,
    handle: TensorHandle,
    op: ReduceOpCode,
    dims: Vec<i64>,
    keep_dim: bool,
) -> Result<TensorHandle, String> {
    let op = ReduceOp::from(op);
    let reduce = Op::Reduce { op, dims, keep_dim };
    run_op(&env, op.name(), reduce, &[Some(handle)])
}

/// argmax/argmin over `dim`, or over the flattened tensor when `dim` is undefined.
#[napi]
pub fn arg_reduce(
    env: Env,
    handle: TensorHandle,
    op: ReduceOpCode,
    dim: Option<i64>,
    keep_dim: bool,
) -> Result<TensorHandle, String> {
    let op = ReduceOp::from(op);
    let reduce = Op::ArgReduce { op, dim, keep_dim };
    run_op(&env, op.name(), reduce, &[Some(handle)])
}

#[napi]
pub fn matmul(env: Env, handle: TensorHandle, other: TensorHandle) -> Result<TensorHandle, String> {
    run_op(&env, "matmul", Op::Matmul, &[Some(handle), Some(other)])
}

#[napi]
pub fn reshape(env: Env, handle: TensorHandle, shape: Vec<i64>) -> Result<TensorHandle, String> {
    run_op(&env, "reshape", Op::Reshape { shape }, &[Some(handle)])
}

#[napi]
pub fn view(env: Env, handle: TensorHandle, shape: Vec<i64>) -> Result<TensorHandle, String> {
    run_op(&env, "view", Op::View { shape }, &[Some(handle)])
}

#[napi]
pub fn flatten(
    env: Env,
    handle: TensorHandle,
    start_dim: i64,
    end_dim: i64,
) -> Result<TensorHandle, String> {
    let op = Op::Flatten { start_dim, end_dim };
    run_op(&env, "flatten", op, &[Some(handle)])
}

#[napi]
pub fn permute(env: Env, handle: TensorHandle, dims: Vec<i64>) -> Result<TensorHandle, String> {
    run_op(&env, "permute", Op::Permute { dims }, &[Some(handle)])
}

#[napi]
pub fn transpose(
    env: Env,
    handle: TensorHandle,
    dim0: i64,
    dim1: i64,
) -> Result<TensorHandle, String> {
    run_op(
        &env,
        "transpose",
        Op::Transpose { dim0, dim1 },
        &[Some(handle)],
    )
}

#[napi]
pub fn unsqueeze(env: Env, handle: TensorHandle, dim: i64) -> Result<TensorHandle, String> {
    run_op(&env, "unsqueeze", Op::Unsqueeze { dim }, &[Some(handle)])
}

#[napi]
pub fn squeeze(env: Env, handle: TensorHandle, dim: Option<i64>) -> Result<TensorHandle, String> {
    run_op(&env, "squeeze", Op::Squeeze { dim }, &[Some(handle)])
}

#[napi]
pub fn expand(env: Env, handle: TensorHandle, shape: Vec<i64>) -> Result<TensorHandle, String> {
    run_op(&env, "expand", Op::Expand { shape }, &[Some(handle)])
}

#[napi]
pub fn narrow(
    env: Env,
    handle: TensorHandle,
    dim: i64,
    start: i64,
    length: i64,
) -> Result<TensorHandle, String> {
    // i64, not u32: napi takes a u32 argument modulo 2^32, so a length of 2^40 became 0.
    let count = |name: &str, value: i64| {
        usize::try_from(value).map_err(|_| {
            js_error(Error::invalid(
                "narrow",
                format!("{name} must be non-negative, got {value}"),
            ))
        })
    };
    let op = Op::Narrow {
        dim,
        start: count("start", start)?,
        length: count("length", length)?,
    };
    run_op(&env, "narrow", op, &[Some(handle)])
}

#[napi]
pub fn select(
    env: Env,
    handle: TensorHandle,
    dim: i64,
    index: i64,
) -> Result<TensorHandle, String> {
    run_op(&env, "select", Op::Select { dim, index }, &[Some(handle)])
}

#[napi]
pub fn contiguous(env: Env, handle: TensorHandle) -> Result<TensorHandle, String> {
    run_op(&env, "contiguous", Op::Contiguous, &[Some(handle)])
}

/// A copy with its own storage.
#[napi]
pub fn copy(env: Env, handle: TensorHandle) -> Result<TensorHandle, String> {
    run_op(&env, "clone", Op::Clone, &[Some(handle)])
}

#[napi]
pub fn to_dtype(
    env: Env,
    handle: TensorHandle,
    dtype_name: String,
) -> Result<TensorHandle, String> {
    let dtype = convert::dtype(&dtype_name).map_err(js_error)?;
    run_op(&env, "to", Op::ToDtype(dtype), &[Some(handle)])
}

#[napi]
pub fn to_device(
    env: Env,
    handle: TensorHandle,
    device_name: String,
) -> Result<TensorHandle, String> {
    apply(&env, handle, "to", |t| {
        t.to_device(convert::device(&device_name)?)
    })
}
