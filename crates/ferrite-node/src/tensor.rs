//! `NativeTensor`: the JS handle of a core tensor. Its bytes are reported to V8 as external
//! memory so that garbage collection feels their weight (except while `tidy` will free them);
//! `dispose()` frees them at once.

use std::cell::Cell;

use ferrite_core::{BinaryOp, ReduceOp, Tensor, UnaryOp};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::{device, dtype, guard};

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

#[napi(custom_finalize)]
pub struct NativeTensor {
    tensor: Option<Tensor>,
    /// Bytes announced to V8 for this handle, taken back on dispose or finalize.
    reported: i64,
}

thread_local! {
    /// `tidy` scopes open on this thread (each JS thread calls from its own OS thread).
    static TIDY_DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Enters a `tidy` scope: tensors made until the matching `exitTidy` are not announced to V8.
/// `tidy` disposes them itself, and announcing them made V8 run two full garbage collections per
/// training step (external memory grew by 64 MB), whose marking took a tenth of the CPU time.
#[napi]
pub fn enter_tidy() {
    TIDY_DEPTH.with(|d| d.set(d.get() + 1));
}

/// Leaves the scope `enterTidy` entered.
#[napi]
pub fn exit_tidy() {
    TIDY_DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
}

/// Wraps a core tensor for JS, announcing its storage to V8 unless a `tidy` scope will dispose it.
pub fn wrap(env: &Env, tensor: Tensor) -> NativeTensor {
    let mut handle = NativeTensor {
        tensor: Some(tensor),
        reported: 0,
    };
    if TIDY_DEPTH.with(Cell::get) == 0 {
        handle.announce(env.clone());
    }
    handle
}

impl ObjectFinalize for NativeTensor {
    fn finalize(self, env: Env) -> Result<()> {
        if self.reported != 0 {
            env.adjust_external_memory(-self.reported)?;
        }
        Ok(())
    }
}

impl NativeTensor {
    pub(crate) fn get(&self, op: &'static str) -> Result<&Tensor, String> {
        self.tensor.as_ref().ok_or_else(|| {
            napi::Error::new(
                "DisposedTensor".to_string(),
                format!("{op}: the tensor was disposed and cannot be used"),
            )
        })
    }

    /// Runs `f` on this tensor and wraps the tensor it returns.
    pub(crate) fn op(
        &self,
        env: &Env,
        op: &'static str,
        f: impl FnOnce(&Tensor) -> ferrite_core::Result<Tensor>,
    ) -> Result<NativeTensor, String> {
        let t = self.get(op)?;
        guard(op, || f(t)).map(|out| wrap(env, out))
    }
}

#[napi]
impl NativeTensor {
    #[napi(getter)]
    pub fn shape(&self) -> Result<Vec<i64>, String> {
        Ok(self
            .get("shape")?
            .shape()
            .iter()
            .map(|&d| d as i64)
            .collect())
    }

    #[napi(getter)]
    pub fn dtype(&self) -> Result<&'static str, String> {
        Ok(self.get("dtype")?.dtype().name())
    }

    #[napi(getter)]
    pub fn device(&self) -> Result<String, String> {
        Ok(self.get("device")?.device().to_string())
    }

    #[napi(getter)]
    pub fn is_disposed(&self) -> bool {
        self.tensor.is_none()
    }

    /// Tells V8's garbage collector about this tensor's storage, once: for tensors that outlive the
    /// `tidy` scope they were made in, and so may be freed only by the collector.
    #[napi]
    pub fn announce(&mut self, env: Env) {
        if let (Some(t), 0) = (&self.tensor, self.reported) {
            let bytes = t.storage_bytes() as i64;
            // Only a hint to the GC: failing to give it must not fail the op.
            if env.adjust_external_memory(bytes).is_ok() {
                self.reported = bytes;
            }
        }
    }

    /// Frees the native storage now (when no other tensor views it); later use is an error.
    #[napi]
    pub fn dispose(&mut self, env: Env) {
        if self.tensor.take().is_some() && self.reported != 0 {
            let _ = env.adjust_external_memory(-self.reported);
            self.reported = 0;
        }
    }

    #[napi(getter)]
    pub fn requires_grad(&self) -> Result<bool, String> {
        Ok(self.get("requiresGrad")?.requires_grad())
    }

    #[napi(setter)]
    pub fn set_requires_grad(&self, requires_grad: bool) -> Result<(), String> {
        let t = self.get("requiresGrad")?;
        guard("requiresGrad", || t.set_requires_grad(requires_grad))
    }

    #[napi(getter)]
    pub fn is_leaf(&self) -> Result<bool, String> {
        Ok(self.get("isLeaf")?.is_leaf())
    }

    /// PyTorch's name of the node that produced this tensor, e.g. `MulBackward0`.
    #[napi(getter)]
    pub fn grad_fn(&self) -> Result<Option<&'static str>, String> {
        Ok(self.get("gradFn")?.grad_fn_name())
    }

    #[napi]
    pub fn grad(&self, env: Env) -> Result<Option<NativeTensor>, String> {
        Ok(self.get("grad")?.grad().map(|g| wrap(&env, g)))
    }

    #[napi]
    pub fn set_grad(&self, grad: Option<&NativeTensor>) -> Result<(), String> {
        let t = self.get("grad")?;
        let grad = grad.map(|g| g.get("grad")).transpose()?.cloned();
        guard("grad", || t.set_grad(grad))
    }

    /// Back-propagates from this tensor into the `grad` of every leaf it depends on.
    #[napi]
    pub fn backward(&self, grad: Option<&NativeTensor>, retain_graph: bool) -> Result<(), String> {
        let t = self.get("backward")?;
        let grad = grad.map(|g| g.get("backward")).transpose()?;
        guard("backward", || t.backward(grad, retain_graph))
    }

    /// Copies `src` into this tensor's storage (broadcasting, converting the dtype).
    #[napi]
    pub fn copy_from(&self, src: &NativeTensor) -> Result<(), String> {
        let t = self.get("copy_")?;
        let src = src.get("copy_")?;
        guard("copy_", || t.copy_(src))
    }

    #[napi]
    pub fn detach(&self, env: Env) -> Result<NativeTensor, String> {
        self.op(&env, "detach", |t| Ok(t.detach()))
    }

    #[napi]
    pub fn is_contiguous(&self) -> Result<bool, String> {
        Ok(self.get("isContiguous")?.is_contiguous())
    }

    #[napi]
    pub fn shares_storage(&self, other: &NativeTensor) -> Result<bool, String> {
        Ok(self
            .get("sharesStorage")?
            .shares_storage(other.get("sharesStorage")?))
    }

    #[napi]
    pub fn to_string(&self) -> Result<String, String> {
        let t = self.get("toString")?;
        guard("toString", || Ok(t.to_string()))
    }

    #[napi]
    pub fn item(&self) -> Result<f64, String> {
        let t = self.get("item")?;
        guard("item", || t.item())
    }

    /// Row-major float32 copy (float32 tensors only).
    #[napi]
    pub fn to_float32_array(&self) -> Result<Float32Array, String> {
        let t = self.get("toFloat32Array")?;
        guard("toTypedArray", || t.to_vec_f32()).map(Float32Array::new)
    }

    /// Row-major int64 copy (int64 tensors only).
    #[napi]
    pub fn to_int64_array(&self) -> Result<BigInt64Array, String> {
        let t = self.get("toInt64Array")?;
        guard("toTypedArray", || t.to_vec_i64()).map(BigInt64Array::new)
    }

    /// Row-major copy as float64 whatever the dtype, for building JS numbers.
    #[napi]
    pub fn to_float64_array(&self) -> Result<Float64Array, String> {
        let t = self.get("toArray")?;
        guard("toArray", || Ok(t.to_vec_f64())).map(Float64Array::new)
    }

    #[napi]
    pub fn binary(
        &self,
        env: Env,
        op: BinaryOpCode,
        other: &NativeTensor,
    ) -> Result<NativeTensor, String> {
        let op = BinaryOp::from(op);
        let rhs = other.get(op.name())?;
        self.op(&env, op.name(), |t| t.binary(op, rhs))
    }

    #[napi]
    pub fn binary_scalar(
        &self,
        env: Env,
        op: BinaryOpCode,
        scalar: f64,
    ) -> Result<NativeTensor, String> {
        let op = BinaryOp::from(op);
        self.op(&env, op.name(), |t| t.binary_scalar(op, scalar))
    }

    #[napi]
    pub fn unary(&self, env: Env, op: UnaryOpCode) -> Result<NativeTensor, String> {
        let op = UnaryOp::from(op);
        self.op(&env, op.name(), |t| t.unary(op))
    }

    /// Reduces over `dims` (all dims when empty).
    #[napi]
    pub fn reduce(
        &self,
        env: Env,
        op: ReduceOpCode,
        dims: Vec<i64>,
        keep_dim: bool,
    ) -> Result<NativeTensor, String> {
        let op = ReduceOp::from(op);
        self.op(&env, op.name(), |t| t.reduce(op, &dims, keep_dim))
    }

    /// argmax/argmin over `dim`, or over the flattened tensor when `dim` is undefined.
    #[napi]
    pub fn arg_reduce(
        &self,
        env: Env,
        op: ReduceOpCode,
        dim: Option<i64>,
        keep_dim: bool,
    ) -> Result<NativeTensor, String> {
        let op = ReduceOp::from(op);
        self.op(&env, op.name(), |t| match op {
            ReduceOp::ArgMin => t.argmin(dim, keep_dim),
            _ => t.argmax(dim, keep_dim),
        })
    }

    #[napi]
    pub fn matmul(&self, env: Env, other: &NativeTensor) -> Result<NativeTensor, String> {
        let rhs = other.get("matmul")?;
        self.op(&env, "matmul", |t| t.matmul(rhs))
    }

    #[napi]
    pub fn reshape(&self, env: Env, shape: Vec<i64>) -> Result<NativeTensor, String> {
        self.op(&env, "reshape", |t| t.reshape(&shape))
    }

    #[napi]
    pub fn view(&self, env: Env, shape: Vec<i64>) -> Result<NativeTensor, String> {
        self.op(&env, "view", |t| t.view(&shape))
    }

    #[napi]
    pub fn flatten(&self, env: Env, start_dim: i64, end_dim: i64) -> Result<NativeTensor, String> {
        self.op(&env, "flatten", |t| t.flatten(start_dim, end_dim))
    }

    #[napi]
    pub fn permute(&self, env: Env, dims: Vec<i64>) -> Result<NativeTensor, String> {
        self.op(&env, "permute", |t| t.permute(&dims))
    }

    #[napi]
    pub fn transpose(&self, env: Env, dim0: i64, dim1: i64) -> Result<NativeTensor, String> {
        self.op(&env, "transpose", |t| t.transpose(dim0, dim1))
    }

    #[napi]
    pub fn unsqueeze(&self, env: Env, dim: i64) -> Result<NativeTensor, String> {
        self.op(&env, "unsqueeze", |t| t.unsqueeze(dim))
    }

    #[napi]
    pub fn squeeze(&self, env: Env, dim: Option<i64>) -> Result<NativeTensor, String> {
        self.op(&env, "squeeze", |t| t.squeeze(dim))
    }

    #[napi]
    pub fn expand(&self, env: Env, shape: Vec<i64>) -> Result<NativeTensor, String> {
        self.op(&env, "expand", |t| t.expand(&shape))
    }

    #[napi]
    pub fn narrow(
        &self,
        env: Env,
        dim: i64,
        start: u32,
        length: u32,
    ) -> Result<NativeTensor, String> {
        self.op(&env, "narrow", |t| {
            t.narrow(dim, start as usize, length as usize)
        })
    }

    #[napi]
    pub fn select(&self, env: Env, dim: i64, index: i64) -> Result<NativeTensor, String> {
        self.op(&env, "select", |t| t.select(dim, index))
    }

    #[napi]
    pub fn contiguous(&self, env: Env) -> Result<NativeTensor, String> {
        self.op(&env, "contiguous", |t| Ok(t.contiguous()))
    }

    /// A copy with its own storage.
    #[napi]
    pub fn copy(&self, env: Env) -> Result<NativeTensor, String> {
        self.op(&env, "clone", |t| Ok(t.copy()))
    }

    #[napi]
    pub fn to_dtype(&self, env: Env, dtype_name: String) -> Result<NativeTensor, String> {
        self.op(&env, "to", |t| t.to_dtype(dtype(&dtype_name)?))
    }

    #[napi]
    pub fn to_device(&self, env: Env, device_name: String) -> Result<NativeTensor, String> {
        self.op(&env, "to", |t| t.to_device(device(&device_name)?))
    }
}
