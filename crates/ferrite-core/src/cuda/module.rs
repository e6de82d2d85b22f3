//! Kernel sources and launches. Each op folder's `.cu` file is one `Module`; NVRTC compiles it
//! the first time a kernel of it runs on a device, and the loaded module is kept for the process.

use std::ffi::{c_void, CString};

/// The text every module starts with (types and helpers shared by the kernels).
pub const HEADER: &str = include_str!("ferrite.cuh");

/// One `.cu` file of kernels.
#[derive(Debug)]
pub struct Module {
    pub name: &'static str,
    pub source: &'static str,
}

impl Module {
    pub const fn new(name: &'static str, source: &'static str) -> Module {
        Module { name, source }
    }

    /// What NVRTC compiles: the shared header, then the file, as the CPU shim's build does.
    pub fn full_source(&self) -> String {
        format!("{HEADER}\n#line 1 \"{}.cu\"\n{}", self.name, self.source)
    }
}

/// NVRTC options for a module run on a GPU of compute capability `arch` (e.g. 90). PTX is what
/// the driver loads; `--fmad=false` keeps products and sums rounded as the CPU kernels round them.
pub(crate) fn nvrtc_options(arch: u32) -> Vec<String> {
    vec![
        format!("--gpu-architecture=compute_{arch}"),
        "--std=c++17".into(),
        "--fmad=false".into(),
    ]
}

/// Compiles `module` to PTX with `options`; the error is NVRTC's log.
pub(crate) fn compile_ptx(module: &Module, options: &[String]) -> Result<CString, String> {
    use cudarc::nvrtc::result;
    let source = CString::new(module.full_source()).map_err(|e| e.to_string())?;
    let name = CString::new(format!("{}.cu", module.name)).map_err(|e| e.to_string())?;
    let program = result::create_program(&source, Some(&name))
        .map_err(|e| format!("nvrtcCreateProgram: {e:?}"))?;
    // SAFETY: `program` was just created and is destroyed below; the options outlive the call.
    let compiled = unsafe { result::compile_program(program, options) };
    // SAFETY: as above.
    let log = unsafe { result::get_program_log(program) }
        .map(|log| c_chars_to_string(&log))
        .unwrap_or_default();
    let ptx = match compiled {
        // SAFETY: the program compiled.
        Ok(()) => unsafe { result::get_ptx(program) }
            .map(|ptx| CString::new(c_chars_to_string(&ptx)).expect("PTX holds no NUL"))
            .map_err(|e| format!("nvrtcGetPTX: {e:?}")),
        Err(e) => Err(format!("{e:?}: {log}")),
    };
    // SAFETY: the program is not used again.
    let _ = unsafe { result::destroy_program(program) };
    ptx
}

fn c_chars_to_string(chars: &[std::ffi::c_char]) -> String {
    let bytes: Vec<u8> = chars
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Grid, block and dynamic shared memory of one launch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaunchConfig {
    pub grid: (u32, u32, u32),
    pub block: (u32, u32, u32),
    pub shared_bytes: u32,
}

impl LaunchConfig {
    const THREADS: u32 = 256;
    /// Enough blocks to fill a large GPU; grid-stride loops cover the rest.
    const MAX_BLOCKS: u64 = 65_535;

    /// One thread per element in a grid-stride loop (`FERRITE_FOR_EACH`).
    pub fn elementwise(n: usize) -> LaunchConfig {
        let blocks = (n as u64)
            .div_ceil(Self::THREADS as u64)
            .clamp(1, Self::MAX_BLOCKS);
        LaunchConfig {
            grid: (blocks as u32, 1, 1),
            block: (Self::THREADS, 1, 1),
            shared_bytes: 0,
        }
    }

    /// One block of `threads` per row, `rows` rows (up to the grid's y/z limits folded into x).
    pub fn rows(rows: usize, threads: u32, shared_bytes: u32) -> LaunchConfig {
        LaunchConfig {
            grid: (rows.clamp(1, Self::MAX_BLOCKS as usize) as u32, 1, 1),
            block: (threads, 1, 1),
            shared_bytes,
        }
    }
}

/// A kernel argument: a pointer to its value, as `cuLaunchKernel` takes them.
pub trait KernelArg {
    fn as_kernel_arg(&self) -> *mut c_void {
        self as *const Self as *mut c_void
    }
}

impl KernelArg for u64 {}
impl KernelArg for i64 {}
impl KernelArg for u32 {}
impl KernelArg for i32 {}
impl KernelArg for f32 {}
impl KernelArg for crate::cuda::Strides {}

/// The argument array of a launch: `args![src, dst, n]`. Each value is bound to a local first,
/// so the pointers stay valid for the launch call the array is passed to.
///
/// In tests the sizes of the values are noted too, so that the CPU shim can check them against
/// the kernel's parameters (an `i32` passed where a kernel takes `long long` is caught there).
#[macro_export]
#[doc(hidden)]
macro_rules! cuda_args {
    ($($arg:expr),* $(,)?) => {{
        #[cfg(all(test, unix))]
        $crate::cuda::note_arg_sizes(&[$(::std::mem::size_of_val(&$arg)),*]);
        [$($crate::cuda::KernelArg::as_kernel_arg(&$arg)),*]
    }};
}
pub use crate::cuda_args as args;

/// A strided view as kernels take it (`Strides` in ferrite.cuh): up to 8 dimensions.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Strides {
    pub rank: i32,
    pub size: [i64; Strides::MAX_RANK],
    pub stride: [i64; Strides::MAX_RANK],
    pub offset: i64,
}

impl Strides {
    pub const MAX_RANK: usize = 8;

    /// The view `layout` describes, or an error naming `op` when it has too many dimensions.
    pub fn new(op: &'static str, layout: &crate::layout::Layout) -> crate::Result<Strides> {
        Self::from_parts(op, layout.shape(), layout.strides(), layout.offset())
    }

    pub fn from_parts(
        op: &'static str,
        shape: &[usize],
        strides: &[usize],
        offset: usize,
    ) -> crate::Result<Strides> {
        if shape.len() > Self::MAX_RANK {
            return Err(crate::Error::invalid(
                op,
                format!(
                    "CUDA kernels take tensors of up to {} dimensions, got {}",
                    Self::MAX_RANK,
                    shape.len()
                ),
            ));
        }
        let mut s = Strides {
            rank: shape.len() as i32,
            size: [1; Self::MAX_RANK],
            stride: [0; Self::MAX_RANK],
            offset: offset as i64,
        };
        for (d, (&size, &stride)) in shape.iter().zip(strides).enumerate() {
            s.size[d] = size as i64;
            s.stride[d] = stride as i64;
        }
        Ok(s)
    }
}
