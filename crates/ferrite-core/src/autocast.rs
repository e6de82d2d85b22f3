//! Autocast: mixed precision with PyTorch's CPU rules, per thread and per device type, as
//! `torch.autocast` keeps it.
//!
//! While autocast is on for a device type, ops on its tensors follow one of three policies:
//!
//! - **lower precision** (`conv2d`, `matmul`, `linear`): float operands of either dtype, bf16
//!   products summed in float32, a bf16 result ([`Policy::compute`]). The kernels round float32
//!   operands as they pack them, so no cast pass runs first; gradients come back in each input's
//!   own dtype.
//! - **float32** (batch norm, softmax and log-softmax, the losses, sum and mean): bf16 operands
//!   are cast up first ([`float32`]) and the result is float32.
//! - everything else runs in the dtype its operands have (bf16 `relu` gives bf16).
//!
//! Where a device has no bf16 kernels that pay (a CPU without AVX512-BF16, an Intel one without
//! AMX tiles, and CUDA for now), autocast leaves the lower-precision ops in float32:
//! [`float32_reason`] says where and why, and the JS layer says so once. Backward never runs under
//! autocast: each node computes in the dtypes it saved.

use std::cell::Cell;
use std::sync::OnceLock;

use crate::device::Device;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// The device types autocast is kept for, as `torch.autocast`'s `device_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceType {
    Cpu,
    Cuda,
}

impl DeviceType {
    pub fn of(device: Device) -> DeviceType {
        match device {
            Device::Cpu => DeviceType::Cpu,
            Device::Cuda(_) => DeviceType::Cuda,
        }
    }

    pub fn parse(name: &str) -> Result<DeviceType> {
        match name {
            "cpu" => Ok(DeviceType::Cpu),
            "cuda" => Ok(DeviceType::Cuda),
            other => Err(Error::invalid(
                "autocast",
                format!("unknown device type '{other}'; expected 'cpu' or 'cuda'"),
            )),
        }
    }
}

thread_local! {
    /// The lower-precision dtype autocast uses on the CPU and on CUDA, where it is on.
    static ENABLED: Cell<[Option<DType>; 2]> = const { Cell::new([None, None]) };
}

/// The dtype autocast casts lower-precision ops to on `device_type`, if it is on.
pub fn dtype(device_type: DeviceType) -> Option<DType> {
    ENABLED.get()[device_type as usize]
}

/// Turns autocast on (with its lower-precision dtype) or off for `device_type` on this thread and
/// returns the previous setting. Only bfloat16 is a lower-precision dtype here.
pub fn set(device_type: DeviceType, dtype: Option<DType>) -> Result<Option<DType>> {
    match dtype {
        None | Some(DType::BF16) => {}
        Some(other @ (DType::F32 | DType::I64 | DType::Bool)) => {
            return Err(Error::invalid(
                "autocast",
                format!("autocast runs in 'bfloat16'; got '{other}'"),
            ))
        }
    }
    let mut state = ENABLED.get();
    let previous = std::mem::replace(&mut state[device_type as usize], dtype);
    ENABLED.set(state);
    Ok(previous)
}

/// Autocast off on every device type until dropped (backward runs under one).
pub(crate) struct Suspended([Option<DType>; 2]);

impl Suspended {
    pub(crate) fn new() -> Self {
        Suspended(ENABLED.replace([None, None]))
    }
}

impl Drop for Suspended {
    fn drop(&mut self) {
        ENABLED.set(self.0);
    }
}

/// Whether autocast's lower-precision ops compute bf16 products on `device`: where
/// [`float32_reason`] gives no reason not to.
pub fn native_bf16(device: Device) -> bool {
    float32_reason(device).is_none()
}

/// Why autocast's lower-precision ops compute in float32 on `device`, or none where they take bf16
/// kernels. On the CPU those need AVX512-BF16 and must outrun float32 there
/// (`cpu::bf16::outruns_float32`); `FERRITE_CPU_BF16=0` turns them off (as `ONEDNN_MAX_CPU_ISA`
/// caps PyTorch's) and `=1` takes them where they run even if slower, to compare or test either
/// path on one CPU.
pub fn float32_reason(device: Device) -> Option<&'static str> {
    static CPU: OnceLock<Option<&'static str>> = OnceLock::new();
    match device {
        Device::Cpu => *CPU.get_or_init(|| {
            let setting = std::env::var("FERRITE_CPU_BF16");
            if setting.as_deref() == Ok("0") {
                Some("FERRITE_CPU_BF16=0 turns the bfloat16 kernels off")
            } else if !crate::cpu::bf16::available() {
                Some("this CPU has no AVX512-BF16")
            } else if setting.as_deref() != Ok("1") && !crate::cpu::bf16::outruns_float32() {
                Some(
                    "on this Intel CPU without AMX tiles float32 products outrun AVX512-BF16 \
                     ones (FERRITE_CPU_BF16=1 takes them anyway)",
                )
            } else {
                None
            }
        }),
        Device::Cuda(_) => Some("Ferrite has no bfloat16 CUDA kernels yet"),
    }
}

/// The kernel autocast's bf16 products run on the CPU: `"amx"` (AMX-BF16 tiles, Linux only;
/// `FERRITE_CPU_AMX=0` turns them off), `"avx512-bf16"` (`vdpbf16ps`), or none (float32).
pub fn cpu_bf16_kernel() -> Option<&'static str> {
    use crate::cpu::bf16::Kernel;
    native_bf16(Device::Cpu).then(|| match Kernel::best() {
        Kernel::Tiles => "amx",
        Kernel::Dot => "avx512-bf16",
    })
}

/// How a lower-precision op (`conv2d`, `matmul`) computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Policy {
    /// The dtype of the products and of the result.
    pub compute: DType,
    /// Whether kernels of `compute` exist on the device; when not (bf16 tensors on a CPU without
    /// AVX512-BF16), the op runs on float32 copies and rounds its result.
    pub native: bool,
}

impl Policy {
    /// The policy for `operands` (the op's float operands, on one device): under autocast bf16
    /// where the device has the kernels and float32 where not, whatever the operands' float
    /// dtypes; otherwise their common dtype, which they must share, as in PyTorch.
    pub(crate) fn lower_precision(op: &'static str, operands: &[&Tensor]) -> Result<Policy> {
        let device = operands[0].device();
        for t in operands {
            if !t.dtype().is_float() {
                return Err(Error::dtype(op, "float32 or bfloat16 tensors", t.dtype()));
            }
        }
        if dtype(DeviceType::of(device)).is_some() {
            let native = native_bf16(device);
            let compute = if native { DType::BF16 } else { DType::F32 };
            return Ok(Policy { compute, native });
        }
        let compute = operands[0].dtype();
        if let Some(other) = operands.iter().find(|t| t.dtype() != compute) {
            return Err(Error::dtype(
                op,
                format!("operands of one dtype outside autocast ({compute} here)"),
                other.dtype(),
            ));
        }
        let native = compute == DType::F32 || native_bf16(device);
        Ok(Policy { compute, native })
    }
}

/// A float32-policy op's operand: cast up from bf16 while autocast is on for its device, as it is.
pub(crate) fn float32(t: &Tensor) -> Result<Tensor> {
    match (t.dtype(), dtype(DeviceType::of(t.device()))) {
        (DType::BF16, Some(_)) => t.to_dtype(DType::F32),
        _ => Ok(t.clone()),
    }
}

/// Runs a float32-policy op (`op`, whose kernels are float32) on a bf16 tensor: under autocast on
/// the cast-up input, giving float32; outside it on a float32 copy, rounding the result back.
pub(crate) fn float32_policy(
    t: &Tensor,
    op: impl FnOnce(&Tensor) -> Result<Tensor>,
) -> Result<Tensor> {
    let x = float32(t)?;
    if x.dtype() == DType::BF16 {
        x.through_f32(op)
    } else {
        op(&x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{leaf_on, tensor, test_device};

    /// Autocast on for the CPU for the guard's life.
    struct On(Option<DType>);

    impl On {
        fn cpu() -> On {
            On(set(DeviceType::Cpu, Some(DType::BF16)).unwrap())
        }
    }

    impl Drop for On {
        fn drop(&mut self) {
            set(DeviceType::Cpu, self.0).unwrap();
        }
    }

    #[test]
    fn the_setting_is_per_device_type_and_only_bfloat16() {
        assert_eq!(dtype(DeviceType::Cpu), None);
        {
            let _on = On::cpu();
            assert_eq!(dtype(DeviceType::Cpu), Some(DType::BF16));
            assert_eq!(dtype(DeviceType::Cuda), None);
            {
                let _backward = Suspended::new();
                assert_eq!(dtype(DeviceType::Cpu), None);
            }
            assert_eq!(dtype(DeviceType::Cpu), Some(DType::BF16));
        }
        assert_eq!(dtype(DeviceType::Cpu), None);
        let err = set(DeviceType::Cpu, Some(DType::I64)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "autocast: autocast runs in 'bfloat16'; got 'int64'"
        );
        assert_eq!(
            DeviceType::parse("tpu").unwrap_err().code(),
            "InvalidArgument"
        );
    }

    #[test]
    fn lower_precision_ops_pick_bf16_under_autocast_and_the_operands_dtype_outside() {
        let (x, h) = (
            tensor(&[2, 2], 1, Device::Cpu),
            tensor(&[2, 2], 2, Device::Cpu),
        );
        let h = h.to_dtype(DType::BF16).unwrap();
        let outside = Policy::lower_precision("matmul", &[&x, &x]).unwrap();
        assert_eq!(
            outside,
            Policy {
                compute: DType::F32,
                native: true
            }
        );
        let err = Policy::lower_precision("matmul", &[&x, &h]).unwrap_err();
        assert_eq!(err.code(), "DTypeMismatch");
        let _on = On::cpu();
        let inside = Policy::lower_precision("matmul", &[&x, &h]).unwrap();
        let native = native_bf16(Device::Cpu);
        let compute = if native { DType::BF16 } else { DType::F32 };
        assert_eq!(inside, Policy { compute, native });
        let ints = x.to_dtype(DType::I64).unwrap();
        assert_eq!(
            Policy::lower_precision("matmul", &[&x, &ints])
                .unwrap_err()
                .code(),
            "DTypeMismatch"
        );
    }

    test_device!(fn float32_policy_ops_give_float32_under_autocast_and_bf16_outside(device) {
        let x = leaf_on(&[2, 3, 2, 2], 3, device);
        let h = x.to_dtype(DType::BF16).unwrap();
        let bn = |t: &Tensor| t.batch_norm(None, None, None, None, true, 0.1, 1e-5).unwrap();
        let outside = bn(&h);
        assert_eq!(outside.dtype(), DType::BF16);
        let inside = {
            let _on = On(set(DeviceType::of(device), Some(DType::BF16)).unwrap());
            assert_eq!(h.sum(&[], false).unwrap().dtype(), DType::F32);
            assert_eq!(h.softmax(1).unwrap().dtype(), DType::F32);
            bn(&h)
        };
        assert_eq!(inside.dtype(), DType::F32);
        // The float32 result is the bf16 one before its rounding.
        let (a, b) = (inside.to_vec_f64().unwrap(), outside.to_vec_f64().unwrap());
        for (a, b) in a.iter().zip(&b) {
            assert!((a - b).abs() <= a.abs() * 2f64.powi(-8) + 1e-6, "{a} vs {b}");
        }
        // Backward runs outside autocast and hands the float32 leaf a float32 gradient.
        inside.sum(&[], false).unwrap().backward(None, false).unwrap();
        assert_eq!(x.grad().unwrap().dtype(), DType::F32);
    });
}
