//! `Tensor`: a cheap, shareable handle to a strided view of a storage.

use std::sync::Arc;

use crate::autograd::{record, AutogradMeta, Backward};
use crate::cuda::{CudaDevice, CudaStorage};
use crate::device::Device;
use crate::dtype::DType;
use crate::error::{Error, Result, ShapeDisplay};
use crate::layout::{checked_numel, Layout};
use crate::memory;
use crate::storage::{CpuElement, CpuStorage, SharedStorage, Storage};

#[derive(Clone)]
pub struct Tensor(pub(crate) Arc<TensorInner>);

pub(crate) struct TensorInner {
    storage: Arc<SharedStorage>,
    layout: Layout,
    dtype: DType,
    device: Device,
    pub(crate) autograd: AutogradMeta,
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Tensor(shape={}, dtype={}, device={})",
            ShapeDisplay(self.shape()),
            self.dtype(),
            self.device()
        )
    }
}

impl Drop for TensorInner {
    fn drop(&mut self) {
        memory::tensor_dropped(self.device);
    }
}

impl Tensor {
    /// A tensor owning fresh storage, laid out contiguously as `shape`.
    pub(crate) fn from_storage(storage: Storage, shape: &[usize]) -> Tensor {
        debug_assert_eq!(storage.len(), shape.iter().product::<usize>());
        let (dtype, device) = (storage.dtype(), storage.device());
        Self::make(
            Arc::new(SharedStorage::new(storage)),
            Layout::contiguous(shape),
            dtype,
            device,
        )
    }

    fn make(storage: Arc<SharedStorage>, layout: Layout, dtype: DType, device: Device) -> Tensor {
        memory::tensor_created(device);
        Tensor(Arc::new(TensorInner {
            storage,
            layout,
            dtype,
            device,
            autograd: AutogradMeta::default(),
        }))
    }

    /// Another view of this tensor's storage, outside the autograd graph (ops record themselves).
    pub(crate) fn with_layout(&self, layout: Layout) -> Tensor {
        Self::make(self.0.storage.clone(), layout, self.0.dtype, self.0.device)
    }

    pub fn from_cpu(data: CpuStorage, shape: &[usize]) -> Result<Tensor> {
        let numel = checked_numel("tensor", shape)?;
        if data.len() != numel {
            return Err(Error::shape(
                "tensor",
                format!(
                    "{} values cannot fill shape {} ({numel} elements)",
                    data.len(),
                    ShapeDisplay(shape)
                ),
            ));
        }
        Ok(Self::from_storage(Storage::Cpu(data), shape))
    }

    pub fn from_f32(data: Vec<f32>, shape: &[usize]) -> Result<Tensor> {
        Self::from_cpu(CpuStorage::F32(data), shape)
    }

    pub fn from_i64(data: Vec<i64>, shape: &[usize]) -> Result<Tensor> {
        Self::from_cpu(CpuStorage::I64(data), shape)
    }

    pub fn from_bool(data: Vec<bool>, shape: &[usize]) -> Result<Tensor> {
        Self::from_cpu(CpuStorage::Bool(data), shape)
    }

    pub fn shape(&self) -> &[usize] {
        self.0.layout.shape()
    }

    pub fn layout(&self) -> &Layout {
        &self.0.layout
    }

    pub fn dtype(&self) -> DType {
        self.0.dtype
    }

    pub fn device(&self) -> Device {
        self.0.device
    }

    pub fn rank(&self) -> usize {
        self.0.layout.rank()
    }

    pub fn numel(&self) -> usize {
        self.0.layout.numel()
    }

    pub fn is_contiguous(&self) -> bool {
        self.0.layout.is_contiguous()
    }

    pub(crate) fn storage(&self) -> &SharedStorage {
        &self.0.storage
    }

    /// Bytes of the storage behind this tensor (shared with its views).
    pub fn storage_bytes(&self) -> usize {
        self.0.storage.bytes()
    }

    /// The tensor's identity: the same for its clones (which share one header), never the same
    /// for two tensors alive at once. Views of it are other tensors.
    pub fn identity(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }

    /// True when both tensors view the same storage.
    pub fn shares_storage(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.0.storage, &other.0.storage)
    }

    /// The elements in row-major order, copied to the host.
    pub fn to_cpu_storage(&self) -> Result<CpuStorage> {
        let contiguous = self.contiguous()?;
        let layout = contiguous.layout();
        let storage = contiguous.storage().read();
        match &*storage {
            Storage::Cpu(data) => match data {
                CpuStorage::F32(_) => host_copy::<f32>(data, layout),
                CpuStorage::BF16(_) => host_copy::<half::bf16>(data, layout),
                CpuStorage::I64(_) => host_copy::<i64>(data, layout),
                CpuStorage::Bool(_) => host_copy::<bool>(data, layout),
            },
            Storage::Cuda(data) => data.download("to_cpu", layout),
        }
    }

    pub fn to_vec_f32(&self) -> Result<Vec<f32>> {
        match self.to_cpu_storage()? {
            CpuStorage::F32(v) => Ok(v),
            other => Err(Error::dtype("to_vec_f32", "float32", other.dtype())),
        }
    }

    pub fn to_vec_i64(&self) -> Result<Vec<i64>> {
        match self.to_cpu_storage()? {
            CpuStorage::I64(v) => Ok(v),
            other => Err(Error::dtype("to_vec_i64", "int64", other.dtype())),
        }
    }

    /// The elements in row-major order as f64, whatever the dtype (bools as 0 or 1).
    pub fn to_vec_f64(&self) -> Result<Vec<f64>> {
        Ok(match self.to_cpu_storage()? {
            CpuStorage::F32(v) => v.into_iter().map(f64::from).collect(),
            CpuStorage::BF16(v) => v.into_iter().map(f64::from).collect(),
            CpuStorage::I64(v) => v.into_iter().map(|x| x as f64).collect(),
            CpuStorage::Bool(v) => v.into_iter().map(|x| x as u8 as f64).collect(),
        })
    }

    /// The value of a one-element tensor, as f64 (bools as 0 or 1).
    pub fn item(&self) -> Result<f64> {
        if self.numel() != 1 {
            return Err(Error::invalid(
                "item",
                format!(
                    "a tensor with {} elements cannot be converted to a scalar (shape {})",
                    self.numel(),
                    ShapeDisplay(self.shape())
                ),
            ));
        }
        Ok(match self.to_cpu_storage()? {
            CpuStorage::F32(v) => v[0] as f64,
            CpuStorage::BF16(v) => v[0].to_f64(),
            CpuStorage::I64(v) => v[0] as f64,
            CpuStorage::Bool(v) => v[0] as u8 as f64,
        })
    }

    /// This tensor on `device` (itself when it is already there). Differentiable, as PyTorch's
    /// `to`: the gradient goes back to this tensor's device.
    pub fn to_device(&self, device: Device) -> Result<Tensor> {
        if device == self.device() {
            return Ok(self.clone());
        }
        device.ensure_available("to")?;
        let source = self.contiguous()?;
        let moved = match (&*source.storage().read(), device) {
            // Returned above already; kept as an answer rather than a panic.
            (Storage::Cpu(_), Device::Cpu) => return Ok(self.clone()),
            (Storage::Cpu(host), Device::Cuda(index)) => Storage::Cuda(CudaStorage::upload(
                &cuda_device("to", index)?,
                host,
                source.layout(),
            )?),
            (Storage::Cuda(gpu), Device::Cpu) => Storage::Cpu(gpu.download("to", source.layout())?),
            // Between GPUs through the host: peer copies need both devices' contexts.
            (Storage::Cuda(gpu), Device::Cuda(index)) => {
                let host = gpu.download("to", source.layout())?;
                let layout = Layout::contiguous(self.shape());
                Storage::Cuda(CudaStorage::upload(
                    &cuda_device("to", index)?,
                    &host,
                    &layout,
                )?)
            }
        };
        let out = Tensor::from_storage(moved, self.shape());
        Ok(record(out, &[self], || ToDeviceBackward {
            input: self.clone(),
        }))
    }

    /// Fails unless `other` lives on this tensor's device.
    pub(crate) fn same_device(&self, op: &'static str, other: &Tensor) -> Result<()> {
        if self.device() != other.device() {
            return Err(Error::DeviceMismatch {
                op,
                expected: self.device().to_string(),
                got: other.device().to_string(),
            });
        }
        Ok(())
    }
}

/// A copy of the elements of the contiguous `layout` over `data`.
fn host_copy<T: CpuElement>(data: &CpuStorage, layout: &Layout) -> Result<CpuStorage> {
    Ok(T::into_storage(data.slice::<T>("to_cpu", layout)?.to_vec()))
}

/// The opened device `'cuda:{index}'` (`ensure_available` has checked it can be).
fn cuda_device(op: &'static str, index: usize) -> Result<Arc<CudaDevice>> {
    CudaDevice::get(index).map_err(|detail| Error::DeviceUnavailable { op, detail })
}

struct ToDeviceBackward {
    input: Tensor,
}

impl Backward for ToDeviceBackward {
    fn name(&self) -> &'static str {
        "ToCopyBackward0"
    }

    fn inputs(&self) -> Vec<Tensor> {
        vec![self.input.clone()]
    }

    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(g.to_device(self.input.device())?)])
    }
}
