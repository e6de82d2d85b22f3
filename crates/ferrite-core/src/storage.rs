//! Owned element buffers. `Storage` is the per-device enum (`Cpu` here, `Cuda` in
//! `cuda/storage.rs`), and every op dispatches on it in one `match`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use half::bf16;

use crate::cuda::CudaStorage;
use crate::device::Device;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::memory;

#[derive(Debug, Clone)]
pub enum CpuStorage {
    F32(Vec<f32>),
    BF16(Vec<bf16>),
    I64(Vec<i64>),
    Bool(Vec<bool>),
}

impl CpuStorage {
    pub fn dtype(&self) -> DType {
        match self {
            CpuStorage::F32(_) => DType::F32,
            CpuStorage::BF16(_) => DType::BF16,
            CpuStorage::I64(_) => DType::I64,
            CpuStorage::Bool(_) => DType::Bool,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            CpuStorage::F32(v) => v.len(),
            CpuStorage::BF16(v) => v.len(),
            CpuStorage::I64(v) => v.len(),
            CpuStorage::Bool(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The elements of a contiguous `layout` over this buffer, as `T`. Kernels name the element
    /// type they take and this is the one place that maps it to a variant; a tensor whose dtype
    /// is not `T` gets the typed dtype error.
    pub fn slice<T: CpuElement>(&self, op: &'static str, layout: &Layout) -> Result<&[T]> {
        let range = contiguous_range(op, layout)?;
        T::slice(self)
            .map(|v| &v[range])
            .ok_or_else(|| Error::dtype(op, format!("a {} tensor", T::DTYPE), self.dtype()))
    }

    /// Like [`CpuStorage::slice`], for writing in place.
    pub fn slice_mut<T: CpuElement>(
        &mut self,
        op: &'static str,
        layout: &Layout,
    ) -> Result<&mut [T]> {
        let range = contiguous_range(op, layout)?;
        let dtype = self.dtype();
        T::slice_mut(self)
            .map(|v| &mut v[range])
            .ok_or_else(|| Error::dtype(op, format!("a {} tensor", T::DTYPE), dtype))
    }
}

fn contiguous_range(op: &'static str, layout: &Layout) -> Result<std::ops::Range<usize>> {
    if !layout.is_contiguous() {
        return Err(Error::Internal {
            op,
            detail: "a kernel was handed a strided tensor; call contiguous() first".into(),
        });
    }
    Ok(layout.offset()..layout.offset() + layout.numel())
}

/// A Rust element type with a CPU buffer variant. Kernels are generic over it or name it, so
/// how a kernel is picked for a dtype is decided here once; a half type joins as one more impl.
pub trait CpuElement: Copy + Send + Sync + 'static {
    const DTYPE: DType;
    fn slice(storage: &CpuStorage) -> Option<&Vec<Self>>;
    fn slice_mut(storage: &mut CpuStorage) -> Option<&mut Vec<Self>>;
    fn into_storage(values: Vec<Self>) -> CpuStorage;
}

macro_rules! cpu_element {
    ($t:ty, $variant:ident) => {
        impl CpuElement for $t {
            const DTYPE: DType = DType::$variant;
            fn slice(storage: &CpuStorage) -> Option<&Vec<Self>> {
                match storage {
                    CpuStorage::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn slice_mut(storage: &mut CpuStorage) -> Option<&mut Vec<Self>> {
                match storage {
                    CpuStorage::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn into_storage(values: Vec<Self>) -> CpuStorage {
                CpuStorage::$variant(values)
            }
        }
    };
}

cpu_element!(f32, F32);
cpu_element!(bf16, BF16);
cpu_element!(i64, I64);
cpu_element!(bool, Bool);

#[derive(Debug)]
pub enum Storage {
    Cpu(CpuStorage),
    Cuda(CudaStorage),
}

impl Storage {
    pub fn device(&self) -> Device {
        match self {
            Storage::Cpu(_) => Device::Cpu,
            Storage::Cuda(s) => Device::Cuda(s.device().ordinal()),
        }
    }

    pub fn dtype(&self) -> DType {
        match self {
            Storage::Cpu(s) => s.dtype(),
            Storage::Cuda(s) => s.dtype(),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Storage::Cpu(s) => s.len(),
            Storage::Cuda(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A storage shared by a tensor and its views. Its bytes count towards `memory::usage` for as
/// long as it lives.
#[derive(Debug)]
pub struct SharedStorage {
    inner: RwLock<Storage>,
    device: Device,
    bytes: usize,
    /// In-place changes so far (PyTorch's version counter, shared by all views): autograd
    /// compares it with the value a saved tensor had when it was saved.
    version: AtomicU64,
}

impl SharedStorage {
    pub fn new(storage: Storage) -> Self {
        let device = storage.device();
        let bytes = storage.len() * storage.dtype().size_in_bytes();
        memory::bytes_allocated(device, bytes);
        SharedStorage {
            inner: RwLock::new(storage),
            device,
            bytes,
            version: AtomicU64::new(0),
        }
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn read(&self) -> RwLockReadGuard<'_, Storage> {
        // A poisoned lock only means a panic happened mid-write elsewhere; the buffer is still valid memory.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Write access for an in-place change, which counts as a new version.
    pub fn write(&self) -> RwLockWriteGuard<'_, Storage> {
        self.version.fetch_add(1, Relaxed);
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    pub fn version(&self) -> u64 {
        self.version.load(Relaxed)
    }
}

impl Drop for SharedStorage {
    fn drop(&mut self) {
        memory::bytes_released(self.device, self.bytes);
    }
}

/// The error for operands that one match found on different backends (`same_device` normally
/// rejects them before any storage is read).
pub(crate) fn mismatch(op: &'static str, a: &Storage, b: &Storage) -> Error {
    Error::DeviceMismatch {
        op,
        expected: a.device().to_string(),
        got: b.device().to_string(),
    }
}
