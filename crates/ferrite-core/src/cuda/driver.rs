//! One GPU through the CUDA driver API (cudarc's `result`/`sys` layers, loaded at run time): its
//! primary context, a compute stream and a copy stream, the cuBLAS and cuDNN handles, loaded
//! kernel modules, and pinned staging for uploads.
//!
//! Unverified on hardware: no GPU was available while this was written; `bench/gpu/run.sh`
//! exercises every path here on the first GPU machine.

use std::collections::HashMap;
use std::ffi::{c_void, CStr};
use std::sync::{Mutex, OnceLock};

use cudarc::cublas::{result as blas, sys as blas_sys};
use cudarc::cudnn::{result as dnn, sys as dnn_sys};
use cudarc::driver::{result as cu, sys};

use super::alloc::{Fence, MallocError, RawMemory};
use super::module::{compile_ptx, nvrtc_options, LaunchConfig, Module};
use super::GemmArgs;

/// The raw handles of one device. They are plain pointers owned by this struct for the life of
/// the process (contexts and handles are never destroyed: the driver reclaims them at exit).
pub(crate) struct CudaDriver {
    context: sys::CUcontext,
    stream: sys::CUstream,
    copy_stream: sys::CUstream,
    blas: Mutex<blas_sys::cublasHandle_t>,
    cudnn: OnceLock<Result<usize, String>>,
    modules: Mutex<HashMap<&'static str, sys::CUmodule>>,
    staging: Mutex<Staging>,
    /// Compute capability as NVRTC spells it (`90` for sm_90).
    pub arch: u32,
}

// SAFETY: the driver API is thread-safe for these handles; the cuBLAS handle, which is not, sits
// behind a mutex, and the module cache and staging buffer too.
unsafe impl Send for CudaDriver {}
// SAFETY: as above.
unsafe impl Sync for CudaDriver {}

/// Page-locked host memory that uploads pass through, so `cuMemcpyHtoDAsync` really runs
/// asynchronously on the copy stream; `done` marks when its last copy finished reading it.
struct Staging {
    ptr: *mut u8,
    bytes: usize,
    done: Option<sys::CUevent>,
}

fn driver_error(call: &str, e: cu::DriverError) -> String {
    let name = e.error_name().map(|n| n.to_string_lossy().into_owned());
    format!(
        "{call} failed: {}",
        name.unwrap_or_else(|_| format!("{:?}", e.0))
    )
}

impl CudaDriver {
    pub fn open(ordinal: usize) -> Result<CudaDriver, String> {
        cu::init().map_err(|e| driver_error("cuInit", e))?;
        let device = cu::device::get(ordinal as i32).map_err(|e| driver_error("cuDeviceGet", e))?;
        // SAFETY: `device` is a valid handle; the retained primary context is never released.
        let context = unsafe { cu::primary_ctx::retain(device) }
            .map_err(|e| driver_error("cuDevicePrimaryCtxRetain", e))?;
        // SAFETY: `context` was just retained.
        unsafe { cu::ctx::set_current(context) }.map_err(|e| driver_error("cuCtxSetCurrent", e))?;
        let attribute = |a| {
            // SAFETY: a plain query of a valid device.
            unsafe { cu::device::get_attribute(device, a) }
                .map_err(|e| driver_error("cuDeviceGetAttribute", e))
        };
        let major =
            attribute(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)?;
        let minor =
            attribute(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)?;
        let kind = || cu::stream::StreamKind::NonBlocking;
        let stream = cu::stream::create(kind()).map_err(|e| driver_error("cuStreamCreate", e))?;
        let copy_stream =
            cu::stream::create(kind()).map_err(|e| driver_error("cuStreamCreate", e))?;
        let handle = blas::create_handle().map_err(|e| format!("cublasCreate failed: {e:?}"))?;
        // SAFETY: both handles are valid; cuBLAS then queues its work on the compute stream.
        unsafe { blas::set_stream(handle, stream as _) }
            .map_err(|e| format!("cublasSetStream failed: {e:?}"))?;
        Ok(CudaDriver {
            context,
            stream,
            copy_stream,
            blas: Mutex::new(handle),
            cudnn: OnceLock::new(),
            modules: Mutex::new(HashMap::new()),
            staging: Mutex::new(Staging {
                ptr: std::ptr::null_mut(),
                bytes: 0,
                done: None,
            }),
            arch: (major * 10 + minor) as u32,
        })
    }

    /// Makes this device's context current on the calling thread (ops may run on any thread).
    fn bind(&self) -> Result<(), String> {
        // SAFETY: the context is retained for the life of the process.
        unsafe { cu::ctx::set_current(self.context) }
            .map_err(|e| driver_error("cuCtxSetCurrent", e))
    }

    pub fn synchronize(&self) -> Result<(), String> {
        self.bind()?;
        // SAFETY: both streams live as long as `self`.
        unsafe { cu::stream::synchronize(self.stream) }
            .map_err(|e| driver_error("cuStreamSynchronize", e))
    }

    /// Uploads `bytes` to `dst` through the pinned staging buffer on the copy stream; the compute
    /// stream waits for the copy, so work queued before it keeps running meanwhile.
    pub fn upload(&self, dst: u64, bytes: &[u8]) -> Result<(), String> {
        self.bind()?;
        let mut staging = self.staging.lock().unwrap_or_else(|e| e.into_inner());
        self.reserve_staging(&mut staging, bytes.len())?;
        // SAFETY: the staging buffer holds at least `bytes.len()` bytes and its previous copy
        // finished (`reserve_staging` waited for it); `dst` is a live block of that size. The
        // event is recorded after the copy and the compute stream waits on it before any later
        // kernel reads `dst`.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), staging.ptr, bytes.len());
            let pinned = std::slice::from_raw_parts(staging.ptr, bytes.len());
            cu::memcpy_htod_async(dst, pinned, self.copy_stream)
                .map_err(|e| driver_error("cuMemcpyHtoDAsync", e))?;
            let done = staging.done.expect("reserve_staging made the event");
            cu::event::record(done, self.copy_stream)
                .map_err(|e| driver_error("cuEventRecord", e))?;
            cu::stream::wait_event(
                self.stream,
                done,
                sys::CUevent_wait_flags::CU_EVENT_WAIT_DEFAULT,
            )
            .map_err(|e| driver_error("cuStreamWaitEvent", e))
        }
    }

    fn reserve_staging(&self, staging: &mut Staging, bytes: usize) -> Result<(), String> {
        let done = match staging.done {
            Some(done) => done,
            None => {
                let flags = sys::CUevent_flags::CU_EVENT_DISABLE_TIMING;
                let event =
                    cu::event::create(flags).map_err(|e| driver_error("cuEventCreate", e))?;
                *staging.done.insert(event)
            }
        };
        // SAFETY: `done` is a live event; waiting on it makes the buffer free to overwrite.
        unsafe { cu::event::synchronize(done) }
            .map_err(|e| driver_error("cuEventSynchronize", e))?;
        if staging.bytes < bytes {
            // SAFETY: the old buffer is no longer read (waited above) and is replaced at once.
            unsafe {
                if !staging.ptr.is_null() {
                    let _ = cu::free_host(staging.ptr as *mut c_void);
                }
                staging.ptr = std::ptr::null_mut();
                staging.bytes = 0;
                staging.ptr = cu::malloc_host(bytes, 0)
                    .map_err(|e| driver_error("cuMemAllocHost", e))?
                    as *mut u8;
            }
            staging.bytes = bytes;
        }
        Ok(())
    }

    /// Copies `src` to the host; waits for the compute stream first, since that is where the
    /// values are written.
    pub fn download(&self, dst: &mut [u8], src: u64) -> Result<(), String> {
        self.bind()?;
        // SAFETY: `src` is a live block of at least `dst.len()` bytes; the stream is synchronised
        // before `dst` is read.
        unsafe {
            cu::memcpy_dtoh_async(dst, src, self.stream)
                .map_err(|e| driver_error("cuMemcpyDtoHAsync", e))?;
            cu::stream::synchronize(self.stream).map_err(|e| driver_error("cuStreamSynchronize", e))
        }
    }

    pub fn copy_device(&self, dst: u64, src: u64, bytes: usize) -> Result<(), String> {
        self.bind()?;
        // SAFETY: the caller passes live blocks of at least `bytes` bytes; stream-ordered.
        unsafe { cu::memcpy_dtod_async(dst, src, bytes, self.stream) }
            .map_err(|e| driver_error("cuMemcpyDtoDAsync", e))
    }

    pub fn memset_zero(&self, dst: u64, bytes: usize) -> Result<(), String> {
        self.bind()?;
        // SAFETY: the caller passes a live block of at least `bytes` bytes; stream-ordered.
        unsafe { cu::memset_d8_async(dst, 0, bytes, self.stream) }
            .map_err(|e| driver_error("cuMemsetD8Async", e))
    }

    /// Launches `kernel` of `module` on the compute stream, compiling and loading the module on
    /// its first use.
    ///
    /// # Safety
    /// `args` must match the kernel's parameters in number and types, and every pointer among
    /// them must be a live device block large enough for what the kernel touches under `config`.
    pub unsafe fn launch(
        &self,
        module: &'static Module,
        kernel: &str,
        config: LaunchConfig,
        args: &mut [*mut c_void],
    ) -> Result<(), String> {
        self.bind()?;
        let loaded = self.module(module)?;
        let name = std::ffi::CString::new(kernel).map_err(|e| e.to_string())?;
        let function = cu::module::get_function(loaded, name)
            .map_err(|e| driver_error(&format!("cuModuleGetFunction({kernel})"), e))?;
        cu::launch_kernel(
            function,
            config.grid,
            config.block,
            config.shared_bytes,
            self.stream,
            args,
        )
        .map_err(|e| driver_error(&format!("cuLaunchKernel({kernel})"), e))
    }

    fn module(&self, module: &'static Module) -> Result<sys::CUmodule, String> {
        let mut modules = self.modules.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(&loaded) = modules.get(module.name) {
            return Ok(loaded);
        }
        let ptx = compile_ptx(module, &nvrtc_options(self.arch))
            .map_err(|log| format!("NVRTC could not compile {}.cu: {log}", module.name))?;
        // SAFETY: `ptx` is a NUL-terminated PTX image; the context is current.
        let loaded = unsafe { cu::module::load_data(ptx.as_ptr() as *const c_void) }
            .map_err(|e| driver_error(&format!("cuModuleLoadData({}.cu)", module.name), e))?;
        modules.insert(module.name, loaded);
        Ok(loaded)
    }

    pub fn gemm(&self, g: &GemmArgs, allow_tf32: bool) -> Result<(), String> {
        self.bind()?;
        let handle = self.blas.lock().unwrap_or_else(|e| e.into_inner());
        let op = |t: bool| {
            if t {
                blas_sys::cublasOperation_t::CUBLAS_OP_T
            } else {
                blas_sys::cublasOperation_t::CUBLAS_OP_N
            }
        };
        let math = if allow_tf32 {
            blas_sys::cublasMath_t::CUBLAS_TF32_TENSOR_OP_MATH
        } else {
            blas_sys::cublasMath_t::CUBLAS_DEFAULT_MATH
        };
        // SAFETY: the handle is locked; the pointers are live device blocks sized by the caller
        // for these dimensions, leading dimensions and strides (checked in `GemmArgs::check`).
        unsafe {
            blas_sys::cublasSetMathMode(*handle, math)
                .result()
                .map_err(|e| format!("cublasSetMathMode failed: {e:?}"))?;
            blas_sys::cublasSgemmStridedBatched(
                *handle,
                op(g.transa),
                op(g.transb),
                g.m,
                g.n,
                g.k,
                &g.alpha,
                g.a as *const f32,
                g.lda,
                g.stride_a,
                g.b as *const f32,
                g.ldb,
                g.stride_b,
                &g.beta,
                g.c as *mut f32,
                g.ldc,
                g.stride_c,
                g.batch,
            )
            .result()
            .map_err(|e| format!("cublasSgemmStridedBatched failed: {e:?}"))
        }
    }

    /// The cuDNN handle, created on first use and bound to the compute stream.
    pub fn cudnn(&self) -> Result<dnn_sys::cudnnHandle_t, String> {
        self.bind()?;
        let handle = self.cudnn.get_or_init(|| {
            let handle = dnn::create_handle().map_err(|e| format!("cudnnCreate failed: {e:?}"))?;
            // SAFETY: both handles are valid.
            unsafe { dnn::set_stream(handle, self.stream as _) }
                .map_err(|e| format!("cudnnSetStream failed: {e:?}"))?;
            Ok(handle as usize)
        });
        handle.clone().map(|h| h as dnn_sys::cudnnHandle_t)
    }

    /// The device's total and free memory, as `cuMemGetInfo` reports them.
    pub fn memory_info(&self) -> Result<(usize, usize), String> {
        self.bind()?;
        cu::mem_get_info()
            .map(|(free, total)| (total, free))
            .map_err(|e| driver_error("cuMemGetInfo", e))
    }
}

impl RawMemory for CudaDriver {
    fn malloc(&self, bytes: usize) -> Result<u64, MallocError> {
        self.bind().map_err(MallocError::Failed)?;
        // SAFETY: a plain allocation in the current context.
        match unsafe { cu::malloc_sync(bytes) } {
            Ok(ptr) => Ok(ptr),
            Err(e) if e.0 == sys::CUresult::CUDA_ERROR_OUT_OF_MEMORY => {
                Err(MallocError::OutOfMemory)
            }
            Err(e) => Err(MallocError::Failed(driver_error("cuMemAlloc", e))),
        }
    }

    fn free(&self, ptr: u64) {
        if self.bind().is_ok() {
            // `cuMemFree` waits for the device, so no queued kernel still uses the block.
            // SAFETY: `ptr` came from `malloc` and is freed once, by the allocator.
            let _ = unsafe { cu::free_sync(ptr) };
        }
    }

    fn fence(&self) -> Option<Box<dyn Fence>> {
        let event = cu::event::create(sys::CUevent_flags::CU_EVENT_DISABLE_TIMING).ok()?;
        // SAFETY: `event` is live; recording marks the compute stream's current position.
        unsafe { cu::event::record(event, self.stream) }.ok()?;
        Some(Box::new(Event(event)))
    }
}

struct Event(sys::CUevent);

// SAFETY: events may be queried and destroyed from any thread.
unsafe impl Send for Event {}

impl Fence for Event {
    fn passed(&self) -> bool {
        // SAFETY: the event lives until `drop`.
        unsafe { cu::event::query(self.0) }.is_ok()
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        // SAFETY: destroyed once; a pending event is released by the driver once it completes.
        let _ = unsafe { cu::event::destroy(self.0) };
    }
}

/// cuDNN's own words for a status.
pub(crate) fn cudnn_status(status: dnn_sys::cudnnStatus_t) -> String {
    // SAFETY: cudnnGetErrorString returns a static NUL-terminated string.
    let text = unsafe { CStr::from_ptr(dnn_sys::cudnnGetErrorString(status)) };
    text.to_string_lossy().into_owned()
}
