//! Module-level exports: tensors from JS data, factories, the random seed and memory stats.

use ferrite_core::trace::Op;
use ferrite_core::{alloc, memory, random, CpuStorage, DType, Tensor};
use half::bf16;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::{device, dims, dtype, guard, limit_to_js};
use crate::handle::{run_op, wrap, TensorHandle};

#[napi]
pub fn from_float32(env: Env, data: Float32Array, shape: Vec<i64>) -> Result<TensorHandle, String> {
    guard("tensor", || {
        Tensor::from_f32(data.to_vec(), &dims("tensor", &shape)?)
    })
    .map(|t| wrap(&env, t))
}

#[napi]
pub fn from_int64(env: Env, data: BigInt64Array, shape: Vec<i64>) -> Result<TensorHandle, String> {
    guard("tensor", || {
        Tensor::from_i64(data.to_vec(), &dims("tensor", &shape)?)
    })
    .map(|t| wrap(&env, t))
}

/// JS numbers (as float64) converted to `dtype_name` natively.
#[napi]
pub fn from_float64(
    env: Env,
    data: Float64Array,
    shape: Vec<i64>,
    dtype_name: String,
) -> Result<TensorHandle, String> {
    guard("tensor", || {
        let storage = match dtype(&dtype_name)? {
            DType::F32 => CpuStorage::F32(data.iter().map(|&v| v as f32).collect()),
            // Through float32, as PyTorch converts a Python float to bfloat16.
            DType::BF16 => {
                CpuStorage::BF16(data.iter().map(|&v| bf16::from_f32(v as f32)).collect())
            }
            DType::I64 => CpuStorage::I64(data.iter().map(|&v| v as i64).collect()),
            DType::Bool => CpuStorage::Bool(data.iter().map(|&v| v != 0.0).collect()),
        };
        Tensor::from_cpu(storage, &dims("tensor", &shape)?)
    })
    .map(|t| wrap(&env, t))
}

#[napi]
pub fn full(
    env: Env,
    shape: Vec<i64>,
    value: f64,
    dtype_name: String,
    device_name: String,
) -> Result<TensorHandle, String> {
    guard("full", || {
        Tensor::full(
            &dims("full", &shape)?,
            value,
            dtype(&dtype_name)?,
            device(&device_name)?,
        )
    })
    .map(|t| wrap(&env, t))
}

#[napi]
pub fn zeros(
    env: Env,
    shape: Vec<i64>,
    dtype_name: String,
    device_name: String,
) -> Result<TensorHandle, String> {
    guard("zeros", || {
        Tensor::zeros(
            &dims("zeros", &shape)?,
            dtype(&dtype_name)?,
            device(&device_name)?,
        )
    })
    .map(|t| wrap(&env, t))
}

#[napi]
pub fn ones(
    env: Env,
    shape: Vec<i64>,
    dtype_name: String,
    device_name: String,
) -> Result<TensorHandle, String> {
    guard("ones", || {
        Tensor::ones(
            &dims("ones", &shape)?,
            dtype(&dtype_name)?,
            device(&device_name)?,
        )
    })
    .map(|t| wrap(&env, t))
}

#[napi]
pub fn arange(
    env: Env,
    start: f64,
    end: f64,
    step: f64,
    dtype_name: String,
    device_name: String,
) -> Result<TensorHandle, String> {
    guard("arange", || {
        Tensor::arange(start, end, step, dtype(&dtype_name)?, device(&device_name)?)
    })
    .map(|t| wrap(&env, t))
}

#[napi]
pub fn rand(env: Env, shape: Vec<i64>, device_name: String) -> Result<TensorHandle, String> {
    guard("rand", || {
        Tensor::rand(&dims("rand", &shape)?, device(&device_name)?)
    })
    .map(|t| wrap(&env, t))
}

#[napi]
pub fn randn(env: Env, shape: Vec<i64>, device_name: String) -> Result<TensorHandle, String> {
    guard("randn", || {
        Tensor::randn(&dims("randn", &shape)?, device(&device_name)?)
    })
    .map(|t| wrap(&env, t))
}

#[napi]
pub fn randint(
    env: Env,
    low: i64,
    high: i64,
    shape: Vec<i64>,
    device_name: String,
) -> Result<TensorHandle, String> {
    guard("randint", || {
        Tensor::randint(low, high, &dims("randint", &shape)?, device(&device_name)?)
    })
    .map(|t| wrap(&env, t))
}

/// Joins tensors along an existing dim.
#[napi]
pub fn cat(env: Env, tensors: Vec<TensorHandle>, dim: i64) -> Result<TensorHandle, String> {
    let inputs: Vec<Option<TensorHandle>> = tensors.into_iter().map(Some).collect();
    run_op(&env, "cat", Op::Cat { dim }, &inputs)
}

/// Joins tensors along a new dim.
#[napi]
pub fn stack(env: Env, tensors: Vec<TensorHandle>, dim: i64) -> Result<TensorHandle, String> {
    let inputs: Vec<Option<TensorHandle>> = tensors.into_iter().map(Some).collect();
    run_op(&env, "stack", Op::Stack { dim }, &inputs)
}

#[napi]
pub fn manual_seed(seed: i64) {
    random::manual_seed(seed as u64);
}

/// The generator's whole state (`random::GENERATOR_STATE_BYTES` bytes).
#[napi]
pub fn rng_state() -> Buffer {
    random::generator_state().into()
}

#[napi]
pub fn set_rng_state(state: Buffer) -> Result<(), String> {
    guard("setRngState", || random::set_generator_state(&state))
}

#[napi(object)]
pub struct DeviceMemory {
    pub device: String,
    pub tensors: u32,
    pub bytes: f64,
}

/// Live native tensors and bytes on each device that has held any.
#[napi]
pub fn memory() -> Vec<DeviceMemory> {
    memory::usage()
        .into_iter()
        .map(|m| DeviceMemory {
            device: m.device.to_string(),
            tensors: m.tensors as u32,
            bytes: m.bytes as f64,
        })
        .collect()
}

/// The largest single buffer Ferrite will allocate, in bytes (`Infinity` when there is no limit).
#[napi]
pub fn allocation_limit() -> Result<f64, String> {
    guard("getAllocationLimit", || {
        alloc::allocation_limit().map(|b| limit_to_js(b as u64, usize::MAX as u64))
    })
}

/// Sets the largest single buffer Ferrite will allocate (saturating at the address space);
/// `None` restores the default.
#[napi]
pub fn set_allocation_limit(bytes: Option<f64>) {
    alloc::set_allocation_limit(bytes.map(|b| b as usize));
}

/// Turns autograd recording on or off for the calling thread; returns the previous setting.
#[napi]
pub fn set_grad_enabled(enabled: bool) -> bool {
    ferrite_core::set_grad_enabled(enabled)
}

#[napi]
pub fn is_grad_enabled() -> bool {
    ferrite_core::is_grad_enabled()
}

#[napi]
pub fn num_threads() -> u32 {
    ferrite_core::num_threads() as u32
}
