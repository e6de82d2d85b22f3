//! `CudaDevice`: one GPU as the ops use it, opened on first use and kept for the process. It owns
//! the caching allocator and forwards launches, copies and library calls to its driver: the CUDA
//! driver API, or in tests the CPU shim.

use std::ffi::c_void;
use std::sync::{Arc, Mutex, OnceLock};

use super::alloc::{Block, CachingAllocator, MallocError, MemoryStats, Pool, RawMemory};
use super::driver::CudaDriver;
use super::module::{LaunchConfig, Module};
use super::settings;
use crate::error::{Bytes, Error, Result};

pub(crate) enum Driver {
    Cuda(CudaDriver),
    #[cfg(all(test, unix))]
    Shim(super::shim::Shim),
}

impl Driver {
    fn raw(&self) -> &dyn RawMemory {
        match self {
            Driver::Cuda(d) => d,
            #[cfg(all(test, unix))]
            Driver::Shim(s) => s,
        }
    }
}

pub struct CudaDevice {
    ordinal: usize,
    driver: Driver,
    allocator: Mutex<CachingAllocator>,
    /// The device word kernels report bad input in (`ferrite_report` in ferrite.cuh), made on
    /// first use and kept for the process.
    error_word: OnceLock<std::result::Result<u64, String>>,
}

/// What each bit of the error word means (the `FERRITE_ERROR_*` codes in ferrite.cuh).
const DEVICE_ERRORS: [(u32, &str); 1] = [(
    1,
    "a class index target was outside [0, classes) (found on the GPU; that row's loss and gradient are NaN)",
)];

impl std::fmt::Debug for CudaDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CudaDevice(cuda:{})", self.ordinal)
    }
}

/// `cuBLAS`'s `cublasSgemmStridedBatched` arguments (column-major): C = alpha·op(A)·op(B) + beta·C
/// for `batch` matrices `stride_*` elements apart.
#[derive(Debug, Clone, Copy)]
pub struct GemmArgs {
    pub transa: bool,
    pub transb: bool,
    pub m: i32,
    pub n: i32,
    pub k: i32,
    pub alpha: f32,
    pub a: u64,
    pub lda: i32,
    pub stride_a: i64,
    pub b: u64,
    pub ldb: i32,
    pub stride_b: i64,
    pub beta: f32,
    pub c: u64,
    pub ldc: i32,
    pub stride_c: i64,
    pub batch: i32,
}

const MAX_DEVICES: usize = 64;

/// Set (to anything) to give every block back to the driver at once and allocate exact sizes,
/// like `PYTORCH_NO_CUDA_MEMORY_CACHING`: slow, but `compute-sanitizer` then sees every overrun.
pub const NO_CACHING_VARIABLE: &str = "FERRITE_NO_CUDA_MEMORY_CACHING";

fn caching_wanted() -> bool {
    std::env::var_os(NO_CACHING_VARIABLE).is_none()
}
static DEVICES: [OnceLock<std::result::Result<Arc<CudaDevice>, String>>; MAX_DEVICES] =
    [const { OnceLock::new() }; MAX_DEVICES];

impl CudaDevice {
    /// The device `'cuda:{ordinal}'`, opened on first use; the error says why it cannot be.
    pub fn get(ordinal: usize) -> std::result::Result<Arc<CudaDevice>, String> {
        let slot = DEVICES.get(ordinal).ok_or_else(|| {
            format!("cuda:{ordinal} is beyond the {MAX_DEVICES} devices Ferrite supports")
        })?;
        slot.get_or_init(|| Self::open(ordinal).map(Arc::new))
            .clone()
    }

    /// The devices opened so far.
    pub(crate) fn opened() -> impl Iterator<Item = Arc<CudaDevice>> {
        DEVICES
            .iter()
            .filter_map(|slot| slot.get()?.as_ref().ok().cloned())
    }

    fn open(ordinal: usize) -> std::result::Result<CudaDevice, String> {
        #[cfg(all(test, unix))]
        if let Some(shim) = super::shim::Shim::from_env() {
            if ordinal > 0 {
                return Err(format!(
                    "cuda:{ordinal} requested, but the CPU shim has only cuda:0"
                ));
            }
            return Ok(CudaDevice {
                ordinal,
                driver: Driver::Shim(shim?),
                allocator: Mutex::new(CachingAllocator::new(false)),
                error_word: OnceLock::new(),
            });
        }
        let count = super::driver_device_count()?;
        if let Some(reason) = super::backend_unavailable_reason() {
            return Err(reason);
        }
        super::missing_driver_symbol(&super::BACKEND_SYMBOLS)?;
        if ordinal >= count {
            return Err(format!(
                "cuda:{ordinal} requested, but this machine has {count} CUDA GPU(s) (cuda:0 to cuda:{})",
                count - 1
            ));
        }
        let driver = super::guarded_result(|| CudaDriver::open(ordinal))?;
        super::warn_unverified_once();
        Ok(CudaDevice {
            ordinal,
            driver: Driver::Cuda(driver),
            allocator: Mutex::new(CachingAllocator::new(caching_wanted())),
            error_word: OnceLock::new(),
        })
    }

    pub fn ordinal(&self) -> usize {
        self.ordinal
    }

    /// Whether this device runs on the CPU shim (tests only).
    pub fn is_shim(&self) -> bool {
        match self.driver {
            Driver::Cuda(_) => false,
            #[cfg(all(test, unix))]
            Driver::Shim(_) => true,
        }
    }

    fn fail(&self, op: &'static str, detail: String) -> Error {
        Error::Internal {
            op,
            detail: format!("cuda:{}: {detail}", self.ordinal),
        }
    }

    pub(crate) fn allocate(&self, op: &'static str, bytes: usize, pool: Pool) -> Result<Block> {
        let mut allocator = self.allocator.lock().unwrap_or_else(|e| e.into_inner());
        allocator
            .allocate(self.driver.raw(), bytes, pool)
            .map_err(|e| match e {
                MallocError::OutOfMemory => {
                    let stats = allocator.stats();
                    Error::OutOfMemory {
                        op,
                        requested: bytes as u128,
                        reason: format!(
                            "CUDA out of memory on cuda:{} ({} allocated by Ferrite, {} reserved; the cache was freed and the request retried)",
                            self.ordinal,
                            Bytes(stats.allocated as u128),
                            Bytes(stats.reserved as u128)
                        ),
                    }
                }
                MallocError::Failed(detail) => self.fail(op, detail),
            })
    }

    pub(crate) fn release(&self, block: Block) {
        let mut allocator = self.allocator.lock().unwrap_or_else(|e| e.into_inner());
        allocator.release(self.driver.raw(), block);
    }

    pub fn memory_stats(&self) -> MemoryStats {
        self.allocator
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .stats()
    }

    pub fn empty_cache(&self) {
        let mut allocator = self.allocator.lock().unwrap_or_else(|e| e.into_inner());
        allocator.empty_cache(self.driver.raw());
    }

    pub fn reset_peak_memory_stats(&self) {
        self.allocator
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .reset_peak();
    }

    /// Waits until every queued kernel and copy on this device has finished.
    pub fn synchronize(&self) -> Result<()> {
        match &self.driver {
            Driver::Cuda(d) => d
                .synchronize()
                .map_err(|e| self.fail("cuda.synchronize", e))?,
            #[cfg(all(test, unix))]
            Driver::Shim(_) => {}
        }
        self.take_reported_error("cuda.synchronize")
    }

    /// The device address of the error word kernels report bad input in (a `unsigned*`).
    pub fn error_word(&self, op: &'static str) -> Result<u64> {
        let word = self.error_word.get_or_init(|| {
            let ptr = self
                .driver
                .raw()
                .malloc(4)
                .map_err(|e| format!("cannot allocate the error word: {e:?}"))?;
            self.zero_word(ptr)?;
            Ok(ptr)
        });
        word.clone().map_err(|e| self.fail(op, e))
    }

    fn zero_word(&self, ptr: u64) -> std::result::Result<(), String> {
        match &self.driver {
            Driver::Cuda(d) => d.memset_zero(ptr, 4),
            #[cfg(all(test, unix))]
            Driver::Shim(_) => {
                // SAFETY: on the shim the word is a host block of 4 bytes.
                unsafe { std::ptr::write_bytes(ptr as *mut u8, 0, 4) };
                Ok(())
            }
        }
    }

    /// After a synchronising read: the bad input kernels reported since the last one, as a
    /// typed error (the word is cleared, so the device stays usable).
    fn take_reported_error(&self, op: &'static str) -> Result<()> {
        let Some(Ok(ptr)) = self.error_word.get() else {
            return Ok(());
        };
        let mut word = [0u8; 4];
        self.raw_download(&mut word, *ptr)
            .map_err(|e| self.fail(op, e))?;
        let bits = u32::from_ne_bytes(word);
        if bits == 0 {
            return Ok(());
        }
        self.zero_word(*ptr).map_err(|e| self.fail(op, e))?;
        let found: Vec<&str> = DEVICE_ERRORS
            .iter()
            .filter(|(bit, _)| bits & bit != 0)
            .map(|(_, what)| *what)
            .collect();
        Err(Error::IndexOutOfRange {
            op,
            detail: format!(
                "a kernel on cuda:{} found bad input: {}",
                self.ordinal,
                found.join("; ")
            ),
        })
    }

    fn raw_download(&self, dst: &mut [u8], src: u64) -> std::result::Result<(), String> {
        match &self.driver {
            Driver::Cuda(d) => d.download(dst, src),
            #[cfg(all(test, unix))]
            Driver::Shim(_) => {
                // SAFETY: on the shim `src` is a host block of at least `dst.len()` bytes.
                unsafe {
                    std::ptr::copy_nonoverlapping(src as *const u8, dst.as_mut_ptr(), dst.len())
                };
                Ok(())
            }
        }
    }

    pub(crate) fn upload(&self, op: &'static str, dst: u64, bytes: &[u8]) -> Result<()> {
        match &self.driver {
            Driver::Cuda(d) => d.upload(dst, bytes),
            #[cfg(all(test, unix))]
            Driver::Shim(_) => {
                // SAFETY: on the shim `dst` is a host block of at least `bytes.len()` bytes.
                unsafe {
                    std::ptr::copy_nonoverlapping(bytes.as_ptr(), dst as *mut u8, bytes.len())
                };
                Ok(())
            }
        }
        .map_err(|e| self.fail(op, e))
    }

    /// Copies `dst.len()` bytes from the device, waiting for the kernels that write them; bad
    /// input a kernel reported meanwhile is the error.
    pub(crate) fn download(&self, op: &'static str, dst: &mut [u8], src: u64) -> Result<()> {
        self.raw_download(dst, src).map_err(|e| self.fail(op, e))?;
        self.take_reported_error(op)
    }

    /// Copies `bytes` between two device blocks, in stream order.
    pub fn copy_device(&self, op: &'static str, dst: u64, src: u64, bytes: usize) -> Result<()> {
        match &self.driver {
            Driver::Cuda(d) => d.copy_device(dst, src, bytes),
            #[cfg(all(test, unix))]
            Driver::Shim(_) => {
                // SAFETY: on the shim both are host blocks of at least `bytes` bytes.
                unsafe { std::ptr::copy(src as *const u8, dst as *mut u8, bytes) };
                Ok(())
            }
        }
        .map_err(|e| self.fail(op, e))
    }

    pub fn memset_zero(&self, op: &'static str, dst: u64, bytes: usize) -> Result<()> {
        match &self.driver {
            Driver::Cuda(d) => d.memset_zero(dst, bytes),
            #[cfg(all(test, unix))]
            Driver::Shim(_) => {
                // SAFETY: on the shim `dst` is a host block of at least `bytes` bytes.
                unsafe { std::ptr::write_bytes(dst as *mut u8, 0, bytes) };
                Ok(())
            }
        }
        .map_err(|e| self.fail(op, e))
    }

    /// Runs `kernel` of `module` (asynchronously on a GPU).
    ///
    /// # Safety
    /// `args` must match the kernel's parameters in number and types (`cuda::args!`), and every
    /// device pointer among them must be a live block large enough for what the kernel reads and
    /// writes under `config`.
    pub unsafe fn launch(
        &self,
        op: &'static str,
        module: &'static Module,
        kernel: &str,
        config: LaunchConfig,
        args: &mut [*mut c_void],
    ) -> Result<()> {
        match &self.driver {
            Driver::Cuda(d) => d.launch(module, kernel, config, args),
            #[cfg(all(test, unix))]
            Driver::Shim(s) => s.launch(kernel, config, args),
        }
        .map_err(|e| self.fail(op, e))
    }

    /// C = alpha·op(A)·op(B) + beta·C in cuBLAS's column-major terms; TF32 as
    /// `settings::allow_tf32_matmul` says.
    pub fn gemm_strided_batched(&self, op: &'static str, args: &GemmArgs) -> Result<()> {
        match &self.driver {
            Driver::Cuda(d) => d.gemm(args, settings::allow_tf32_matmul()),
            #[cfg(all(test, unix))]
            Driver::Shim(s) => s.gemm(args),
        }
        .map_err(|e| self.fail(op, e))
    }

    /// The cuDNN handle (bound to the compute stream), or the reason there is none.
    pub fn cudnn(&self, op: &'static str) -> Result<cudarc::cudnn::sys::cudnnHandle_t> {
        match &self.driver {
            Driver::Cuda(d) => {
                if let Some(problem) = super::library_problem(super::CudaLibrary::Cudnn) {
                    return Err(Error::DeviceUnavailable {
                        op,
                        detail: problem,
                    });
                }
                super::guarded_result(|| d.cudnn()).map_err(|e| self.fail(op, e))
            }
            #[cfg(all(test, unix))]
            Driver::Shim(_) => Err(Error::DeviceUnavailable {
                op,
                detail: "cuDNN does not run on the CPU shim".into(),
            }),
        }
    }

    /// Whether cuDNN can be used here (false on the CPU shim, where its ops are skipped).
    pub fn has_cudnn(&self) -> bool {
        !self.is_shim() && super::library_problem(super::CudaLibrary::Cudnn).is_none()
    }

    /// A scratch block (cuDNN workspaces), returned to the cache when dropped.
    pub fn workspace(
        self: &Arc<Self>,
        op: &'static str,
        bytes: usize,
    ) -> Result<super::CudaBuffer> {
        super::CudaBuffer::new(op, self, bytes)
    }

    /// Total and free device memory.
    pub fn memory_info(&self) -> Result<(usize, usize)> {
        match &self.driver {
            Driver::Cuda(d) => d
                .memory_info()
                .map_err(|e| self.fail("cuda.memory_info", e)),
            #[cfg(all(test, unix))]
            Driver::Shim(_) => Ok((0, 0)),
        }
    }
}
