//! The CPU shim as a device (tests only): `FERRITE_CUDA_SHIM` names the library that
//! `test/cuda-shim/build.mjs` builds from every `.cu` file, each CUDA thread a fiber, under
//! AddressSanitizer. Device memory is host memory, so the op's own `cuda.rs` launch code, argument
//! marshalling and kernels run as they would on a GPU; cuBLAS becomes the shim's reference gemm,
//! and cuDNN is absent.

use std::ffi::{c_char, c_int, c_uint, c_void, CStr, CString};

use super::alloc::{Fence, MallocError, RawMemory};
use super::module::LaunchConfig;
use super::GemmArgs;

pub(crate) const LIBRARY_VARIABLE: &str = "FERRITE_CUDA_SHIM";

type Launch = unsafe extern "C" fn(
    *const c_char,
    c_uint,
    c_uint,
    c_uint,
    c_uint,
    c_uint,
    c_uint,
    c_uint,
    *mut *mut c_void,
) -> c_int;
type LastError = unsafe extern "C" fn() -> *const c_char;
type KernelParams = unsafe extern "C" fn(*const c_char, *mut c_uint, c_int) -> c_int;
type Sgemm = unsafe extern "C" fn(
    c_int,
    c_int,
    c_int,
    c_int,
    c_int,
    f32,
    *const f32,
    c_int,
    i64,
    *const f32,
    c_int,
    i64,
    f32,
    *mut f32,
    c_int,
    i64,
    c_int,
) -> c_int;

pub(crate) struct Shim {
    launch: Launch,
    last_error: LastError,
    sgemm: Sgemm,
    kernel_params: KernelParams,
    _library: libloading::Library,
}

impl Shim {
    /// The shim named by `FERRITE_CUDA_SHIM`, or `None` when the variable is unset.
    pub fn from_env() -> Option<Result<Shim, String>> {
        let path = std::env::var_os(LIBRARY_VARIABLE)?;
        Some(Self::open(&path))
    }

    fn open(path: &std::ffi::OsStr) -> Result<Shim, String> {
        let shown = path.to_string_lossy();
        // SAFETY: loading our own test library, whose initialisers only register kernels.
        let library = unsafe { libloading::Library::new(path) }
            .map_err(|e| format!("cannot load the CUDA shim {shown}: {e}"))?;
        // SAFETY: the symbols have the C signatures declared above (test/cuda-shim/shim.cpp).
        unsafe {
            let launch = *library
                .get::<Launch>(b"ferrite_shim_launch")
                .map_err(|e| e.to_string())?;
            let last_error = *library
                .get::<LastError>(b"ferrite_shim_last_error")
                .map_err(|e| e.to_string())?;
            let sgemm = *library
                .get::<Sgemm>(b"ferrite_shim_sgemm_strided_batched")
                .map_err(|e| e.to_string())?;
            let kernel_params = *library
                .get::<KernelParams>(b"ferrite_shim_kernel_params")
                .map_err(|e| e.to_string())?;
            Ok(Shim {
                launch,
                last_error,
                sgemm,
                kernel_params,
                _library: library,
            })
        }
    }

    fn error(&self, call: &str) -> String {
        // SAFETY: returns a NUL-terminated string owned by the shim.
        let text = unsafe { CStr::from_ptr((self.last_error)()) };
        format!("{call} failed on the CPU shim: {}", text.to_string_lossy())
    }

    /// # Safety
    /// As [`super::driver::CudaDriver::launch`]: the kernel runs on host memory right away.
    pub unsafe fn launch(
        &self,
        kernel: &str,
        config: LaunchConfig,
        args: &mut [*mut c_void],
    ) -> Result<(), String> {
        let name = CString::new(kernel).map_err(|e| e.to_string())?;
        self.check_arg_sizes(&name, kernel, args.len())?;
        let (g, b) = (config.grid, config.block);
        let status = (self.launch)(
            name.as_ptr(),
            g.0,
            g.1,
            g.2,
            b.0,
            b.1,
            b.2,
            config.shared_bytes,
            args.as_mut_ptr(),
        );
        if status == 0 {
            Ok(())
        } else {
            Err(self.error(kernel))
        }
    }

    /// Compares the sizes `cuda::args!` noted with the kernel's parameters.
    fn check_arg_sizes(&self, name: &CStr, kernel: &str, count: usize) -> Result<(), String> {
        let noted = ARG_SIZES.with(|sizes| sizes.take());
        let mut params = [0 as c_uint; 64];
        // SAFETY: `params` has room for 64 sizes, and the shim writes at most that many.
        let n = unsafe { (self.kernel_params)(name.as_ptr(), params.as_mut_ptr(), 64) };
        if n < 0 {
            return Err(self.error(kernel));
        }
        let want: Vec<usize> = params[..n as usize].iter().map(|&s| s as usize).collect();
        if noted.len() != count || noted != want {
            return Err(format!(
                "{kernel} takes parameters of {want:?} bytes, but the launch passed {noted:?}"
            ));
        }
        Ok(())
    }

    pub fn gemm(&self, g: &GemmArgs) -> Result<(), String> {
        // SAFETY: the pointers are host blocks sized by the caller for these dimensions.
        let status = unsafe {
            (self.sgemm)(
                g.transa as c_int,
                g.transb as c_int,
                g.m,
                g.n,
                g.k,
                g.alpha,
                g.a as *const f32,
                g.lda,
                g.stride_a,
                g.b as *const f32,
                g.ldb,
                g.stride_b,
                g.beta,
                g.c as *mut f32,
                g.ldc,
                g.stride_c,
                g.batch,
            )
        };
        if status == 0 {
            Ok(())
        } else {
            Err(self.error("sgemm"))
        }
    }
}

impl RawMemory for Shim {
    fn malloc(&self, bytes: usize) -> Result<u64, MallocError> {
        // SAFETY: plain malloc; AddressSanitizer (preloaded in shim runs) guards its bounds.
        let ptr = unsafe { libc::malloc(bytes.max(1)) };
        if ptr.is_null() {
            Err(MallocError::OutOfMemory)
        } else {
            Ok(ptr as u64)
        }
    }

    fn free(&self, ptr: u64) {
        // SAFETY: `ptr` came from `malloc` above and is freed once.
        unsafe { libc::free(ptr as *mut c_void) }
    }

    fn fence(&self) -> Option<Box<dyn Fence>> {
        None
    }
}

thread_local! {
    static ARG_SIZES: std::cell::Cell<Vec<usize>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Notes the sizes of the values `cuda::args!` is passing, for the next launch's check.
pub fn note_arg_sizes(sizes: &[usize]) {
    ARG_SIZES.with(|noted| noted.set(sizes.to_vec()));
}
