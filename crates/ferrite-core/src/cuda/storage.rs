//! Device buffers: `CudaBuffer` is a block of the caching allocator, returned to it on drop;
//! `CudaStorage` is a buffer of elements of one dtype, the CUDA variant of `Storage`. Bool is one
//! byte per element, as Rust's `bool`.

use std::sync::Arc;

use super::alloc::{Block, Pool};
use super::device::CudaDevice;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::storage::{CpuElement, CpuStorage};

pub struct CudaBuffer {
    block: Block,
    device: Arc<CudaDevice>,
}

impl CudaBuffer {
    pub(crate) fn new(
        op: &'static str,
        device: &Arc<CudaDevice>,
        bytes: usize,
    ) -> Result<CudaBuffer> {
        Self::in_pool(op, device, bytes, Pool::Compute)
    }

    fn in_pool(
        op: &'static str,
        device: &Arc<CudaDevice>,
        bytes: usize,
        pool: Pool,
    ) -> Result<CudaBuffer> {
        Ok(CudaBuffer {
            block: device.allocate(op, bytes, pool)?,
            device: device.clone(),
        })
    }

    /// The device address of the first byte.
    pub fn ptr(&self) -> u64 {
        self.block.ptr
    }
}

impl Drop for CudaBuffer {
    fn drop(&mut self) {
        self.device.release(self.block);
    }
}

pub struct CudaStorage {
    buffer: CudaBuffer,
    dtype: DType,
    len: usize,
}

impl std::fmt::Debug for CudaStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CudaStorage({} x {} on cuda:{})",
            self.len,
            self.dtype,
            self.device().ordinal()
        )
    }
}

impl CudaStorage {
    /// `len` elements of `T`, uninitialised: every kernel writing a new storage writes all of it.
    pub fn alloc<T: CpuElement>(device: &Arc<CudaDevice>, len: usize) -> Result<CudaStorage> {
        Self::alloc_dtype(device, T::DTYPE, len)
    }

    pub fn alloc_dtype(device: &Arc<CudaDevice>, dtype: DType, len: usize) -> Result<CudaStorage> {
        let bytes = len
            .checked_mul(dtype.size_in_bytes())
            .ok_or(Error::OutOfMemory {
                op: "cuda.alloc",
                requested: len as u128 * dtype.size_in_bytes() as u128,
                reason: "that is more than any address space".into(),
            })?;
        Ok(CudaStorage {
            buffer: CudaBuffer::new("cuda.alloc", device, bytes)?,
            dtype,
            len,
        })
    }

    pub fn zeros<T: CpuElement>(device: &Arc<CudaDevice>, len: usize) -> Result<CudaStorage> {
        let storage = Self::alloc::<T>(device, len)?;
        device.memset_zero("zeros", storage.buffer.ptr(), storage.bytes())?;
        Ok(storage)
    }

    /// The elements of a contiguous `layout` over `host`, uploaded through the copy stream.
    pub fn upload(
        device: &Arc<CudaDevice>,
        host: &CpuStorage,
        layout: &Layout,
    ) -> Result<CudaStorage> {
        let bytes = host_bytes(host, layout)?;
        let dtype = host.dtype();
        let buffer = CudaBuffer::in_pool("to", device, bytes.len(), Pool::Copy)?;
        device.upload("to", buffer.ptr(), bytes)?;
        Ok(CudaStorage {
            buffer,
            dtype,
            len: layout.numel(),
        })
    }

    /// The elements of a contiguous `layout` over this storage, copied to the host (waits for
    /// the kernels that write them).
    pub fn download(&self, op: &'static str, layout: &Layout) -> Result<CpuStorage> {
        let size = self.dtype.size_in_bytes();
        let src = self.ptr_of(op, layout, self.dtype)?;
        let n = layout.numel();
        Ok(match self.dtype {
            DType::F32 => CpuStorage::F32(self.download_as::<f32>(op, src, n)?),
            DType::BF16 => CpuStorage::BF16(self.download_as::<half::bf16>(op, src, n)?),
            DType::I64 => CpuStorage::I64(self.download_as::<i64>(op, src, n)?),
            DType::Bool => {
                let bytes = self.download_as::<u8>(op, src, n * size)?;
                CpuStorage::Bool(bytes.into_iter().map(|b| b != 0).collect())
            }
        })
    }

    fn download_as<T: Copy + Default>(
        &self,
        op: &'static str,
        src: u64,
        n: usize,
    ) -> Result<Vec<T>> {
        let mut values = crate::alloc::filled(op, n, T::default())?;
        let bytes = std::mem::size_of_val(values.as_slice());
        // SAFETY: `values` is a live Vec of `bytes` bytes; T is a plain number type, so any
        // bytes the device wrote are a valid T.
        let dst = unsafe { std::slice::from_raw_parts_mut(values.as_mut_ptr() as *mut u8, bytes) };
        self.device().download(op, dst, src)?;
        Ok(values)
    }

    pub fn device(&self) -> &Arc<CudaDevice> {
        &self.buffer.device
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn bytes(&self) -> usize {
        self.len * self.dtype.size_in_bytes()
    }

    /// The device address of the first element of a contiguous `layout` over this storage, for a
    /// kernel reading `T`; the typed dtype error when the storage holds another dtype.
    pub fn ptr<T: CpuElement>(&self, op: &'static str, layout: &Layout) -> Result<u64> {
        self.ptr_of(op, layout, T::DTYPE)
    }

    /// Like [`CudaStorage::ptr`], for a kernel writing the elements (takes `&mut` so that the
    /// storage's write lock is held).
    pub fn ptr_mut<T: CpuElement>(&mut self, op: &'static str, layout: &Layout) -> Result<u64> {
        self.ptr_of(op, layout, T::DTYPE)
    }

    /// The address of the storage's element `offset` whatever the layout: for strided kernels,
    /// which take the layout as `Strides` and do their own indexing.
    pub fn base<T: CpuElement>(&self, op: &'static str) -> Result<u64> {
        self.check_dtype(op, T::DTYPE)?;
        Ok(self.buffer.ptr())
    }

    fn ptr_of(&self, op: &'static str, layout: &Layout, dtype: DType) -> Result<u64> {
        self.check_dtype(op, dtype)?;
        if !layout.is_contiguous() || layout.offset() + layout.numel() > self.len {
            return Err(Error::Internal {
                op,
                detail: "a CUDA kernel was handed a strided or out-of-range tensor; call contiguous() first".into(),
            });
        }
        Ok(self.buffer.ptr() + (layout.offset() * dtype.size_in_bytes()) as u64)
    }

    fn check_dtype(&self, op: &'static str, dtype: DType) -> Result<()> {
        if self.dtype != dtype {
            return Err(Error::dtype(op, format!("a {dtype} tensor"), self.dtype));
        }
        Ok(())
    }
}

/// The bytes of a contiguous `layout` over `host`, as the device stores them.
fn host_bytes<'a>(host: &'a CpuStorage, layout: &Layout) -> Result<&'a [u8]> {
    fn bytes_of<'a, T: CpuElement>(host: &'a CpuStorage, layout: &Layout) -> Result<&'a [u8]> {
        let values = host.slice::<T>("to", layout)?;
        // SAFETY: f32, bf16, i64 and bool are plain bytes (bool is 0 or 1, one byte).
        Ok(unsafe {
            std::slice::from_raw_parts(values.as_ptr() as *const u8, std::mem::size_of_val(values))
        })
    }
    match host {
        CpuStorage::F32(_) => bytes_of::<f32>(host, layout),
        CpuStorage::BF16(_) => bytes_of::<half::bf16>(host, layout),
        CpuStorage::I64(_) => bytes_of::<i64>(host, layout),
        CpuStorage::Bool(_) => bytes_of::<bool>(host, layout),
    }
}
