//! The CUDA backend. This file: NVIDIA GPUs as this process sees them, the CUDA libraries found
//! (`info`), the GPUs with their memory, utilisation and temperature as `nvidia-smi` shows them
//! (`devices`), the GPU with the most free memory (`freest_device`) and the caching allocator's
//! statistics. Nothing here fails or panics when CUDA is absent. Beside it: `device.rs` (one GPU
//! as the ops use it), `driver.rs` (the driver API calls), `alloc.rs` (the caching allocator),
//! `storage.rs` (device buffers), `module.rs` (kernel sources, NVRTC, launches), `settings.rs`
//! (TF32 switches) and `kernels.rs` (the list of every kernel module).

mod alloc;
#[cfg(test)]
mod backend_tests;
mod device;
mod driver;
#[cfg(test)]
mod fake_driver_tests;
pub mod kernels;
pub mod libraries;
mod module;
#[cfg(test)]
mod nvrtc_check;
pub mod settings;
#[cfg(all(test, unix))]
mod shim;
#[cfg(all(test, unix))]
pub use shim::note_arg_sizes;
mod storage;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

pub use alloc::MemoryStats;
pub use device::{CudaDevice, GemmArgs};
pub(crate) use driver::cudnn_status;
pub use libraries::CudaLibrary;
use libraries::{lookup, Lookup};
#[cfg(test)]
use module::nvrtc_options;
pub use module::{args, KernelArg, LaunchConfig, Module, Strides, HEADER};
pub use storage::{CudaBuffer, CudaStorage};

/// One GPU. `index` is its CUDA ordinal (the N of `'cuda:N'`, after `CUDA_VISIBLE_DEVICES`) when
/// the driver API answers, else NVML's index. Readings NVML cannot give are `None` (nvidia-smi's N/A).
#[derive(Debug, Clone, PartialEq)]
pub struct Gpu {
    pub index: usize,
    pub name: String,
    pub uuid: Option<String>,
    pub memory_used: Option<u64>,
    pub memory_total: u64,
    /// Percent of the last sample period in which a kernel ran, as nvidia-smi's GPU-Util.
    pub utilization: Option<u32>,
    /// Degrees Celsius.
    pub temperature: Option<u32>,
}

impl Gpu {
    pub fn memory_free(&self) -> Option<u64> {
        self.memory_used
            .map(|used| self.memory_total.saturating_sub(used))
    }
}

/// One library of the CUDA stack: where it was loaded from and its version, or why it was not.
#[derive(Debug, Clone, PartialEq)]
pub struct LibraryInfo {
    pub name: &'static str,
    pub path: Option<String>,
    pub version: Option<String>,
    pub problem: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CudaInfo {
    /// Whether Ferrite can place tensors on a GPU in this process.
    pub available: bool,
    /// Why not, when it cannot.
    pub unavailable_reason: Option<String>,
    /// The NVIDIA driver's version, as nvidia-smi prints it (`580.159.04`).
    pub driver_version: Option<String>,
    /// The newest CUDA version the driver supports (`13.0`).
    pub cuda_version: Option<String>,
    pub libraries: Vec<LibraryInfo>,
    /// GPUs present, usable by Ferrite or not.
    pub gpus: usize,
}

/// Whether tensors can be placed on a GPU, like `torch.cuda.is_available()`.
pub fn is_available() -> bool {
    unavailable_reason().is_none()
}

/// GPUs Ferrite can place tensors on, like `torch.cuda.device_count()`: 0 when unavailable.
pub fn device_count() -> usize {
    #[cfg(all(test, unix))]
    if std::env::var_os(shim::LIBRARY_VARIABLE).is_some() {
        return usize::from(is_available());
    }
    if is_available() {
        driver_device_count().unwrap_or(0)
    } else {
        0
    }
}

/// Why `'cuda:N'` cannot be used here, naming the missing piece and the fix.
pub fn unavailable_reason() -> Option<String> {
    #[cfg(all(test, unix))]
    if std::env::var_os(shim::LIBRARY_VARIABLE).is_some() {
        return CudaDevice::get(0).err();
    }
    if let Err(reason) = driver_device_count() {
        return Some(reason);
    }
    backend_unavailable_reason()
}

/// What the tensor backend needs beyond the driver: cuBLAS for matmul and NVRTC for its own
/// kernels. cuDNN is checked where a convolution, batch norm or pooling first needs it.
fn backend_unavailable_reason() -> Option<String> {
    [CudaLibrary::Cublas, CudaLibrary::Nvrtc]
        .into_iter()
        .find_map(library_problem)
}

/// Why `library` cannot be used, or `None` when it was found.
pub(crate) fn library_problem(library: CudaLibrary) -> Option<String> {
    lookup(library).problem(library)
}

/// The error detail for a request of `'cuda:{index}'`: `None` when the device can be used.
pub fn unavailable_detail(index: usize) -> Option<String> {
    let reason = CudaDevice::get(index).err()?;
    Some(match driver_device_count() {
        Ok(count) if index >= count => {
            format!("cuda:{index} requested, but this machine has {count} CUDA GPU(s) (cuda:0 to cuda:{})", count.saturating_sub(1))
        }
        _ => format!("cuda:{index} requested, but CUDA is unavailable: {reason}; use 'cpu'"),
    })
}

/// The caching allocator's numbers for `'cuda:{index}'` (zeros for a device never used).
pub fn memory_stats(index: usize) -> MemoryStats {
    opened(index).map(|d| d.memory_stats()).unwrap_or_default()
}

/// Returns the cached, unused blocks of every opened device to the driver.
pub fn empty_cache() {
    for device in CudaDevice::opened() {
        device.empty_cache();
    }
}

pub fn reset_peak_memory_stats(index: usize) {
    if let Some(device) = opened(index) {
        device.reset_peak_memory_stats();
    }
}

/// Waits for all queued work on `'cuda:{index}'`; the error says why CUDA is unusable.
pub fn synchronize(index: usize) -> crate::Result<()> {
    CudaDevice::get(index)
        .map_err(|detail| crate::Error::DeviceUnavailable {
            op: "cuda.synchronize",
            detail,
        })?
        .synchronize()
}

/// The device if it was opened already: statistics never open a device.
fn opened(index: usize) -> Option<std::sync::Arc<CudaDevice>> {
    CudaDevice::opened().find(|d| d.ordinal() == index)
}

/// Printed once per process, the first time a GPU is opened, until `bench/gpu/run.sh` has passed
/// on GPU hardware and the README says so.
fn warn_unverified_once() {
    static WARNED: Once = Once::new();
    WARNED.call_once(|| {
        eprintln!(
            "ferrite: warning: the CUDA backend has not yet been run on GPU hardware; its kernels were \
             verified on the CPU only (see the README's CUDA section). Please report any problem."
        )
    });
}

/// Runs a driver call that may hit cudarc's panic on a missing symbol, as a typed failure.
fn guarded_result<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err("a CUDA library is incompatible (a symbol is missing)".into()))
}

/// The CUDA libraries found, their versions, and whether Ferrite can use a GPU.
pub fn info() -> CudaInfo {
    let nvml = nvml();
    let libraries = CudaLibrary::ALL
        .iter()
        .map(|&library| {
            let found = lookup(library);
            LibraryInfo {
                name: library.name(),
                path: found.path().map(|p| p.display().to_string()),
                version: found
                    .path()
                    .and_then(|_| guarded(|| library_version(library))),
                problem: found.problem(library),
            }
        })
        .collect();
    let unavailable_reason = unavailable_reason();
    CudaInfo {
        available: unavailable_reason.is_none(),
        unavailable_reason,
        driver_version: nvml.as_ref().and_then(|n| n.sys_driver_version().ok()),
        cuda_version: guarded(driver_api_version),
        libraries,
        gpus: gpus().map(|d| d.len()).unwrap_or(0),
    }
}

/// The GPUs present, as nvidia-smi lists them. Empty where there is no NVIDIA driver; an error
/// only when the driver is there but NVML and the driver API both fail to answer.
pub fn devices() -> crate::Result<Vec<Gpu>> {
    gpus().map_err(|detail| crate::Error::DeviceUnavailable {
        op: "cuda.devices",
        detail,
    })
}

fn gpus() -> Result<Vec<Gpu>, String> {
    let from_driver =
        guarded(driver_gpus).ok_or_else(|| "the CUDA driver API panicked".to_string());
    let from_driver = from_driver.and_then(|r| r);
    let Some(nvml) = nvml() else {
        return match from_driver {
            Ok(gpus) => Ok(gpus),
            Err(_) if matches!(lookup(CudaLibrary::Driver), Lookup::Missing { .. }) => {
                Ok(Vec::new())
            }
            Err(e) => Err(e),
        };
    };
    let readings = nvml_gpus(&nvml)?;
    Ok(match from_driver {
        // CUDA ordinals are what 'cuda:N' means; NVML's order can differ, so match on the UUID.
        Ok(gpus) => gpus
            .into_iter()
            .map(|gpu| {
                match readings
                    .iter()
                    .find(|r| r.uuid.is_some() && r.uuid == gpu.uuid)
                {
                    Some(reading) => Gpu {
                        index: gpu.index,
                        ..reading.clone()
                    },
                    None => gpu,
                }
            })
            .collect(),
        Err(_) => readings,
    })
}

/// The GPU with the most free memory, as `'cuda:N'`'s N; `None` without GPUs or readings.
pub fn freest_device() -> Option<usize> {
    freest(&gpus().ok()?)
}

fn freest(gpus: &[Gpu]) -> Option<usize> {
    // Ties go to the lower index, as a person reading nvidia-smi would pick.
    gpus.iter()
        .filter_map(|g| Some((g.memory_free()?, g.index)))
        .max_by_key(|&(free, index)| (free, std::cmp::Reverse(index)))
        .map(|(_, index)| index)
}

/// cudarc panics where a symbol is missing; no such panic may reach the caller.
fn guarded<T>(f: impl FnOnce() -> Option<T>) -> Option<T> {
    catch_unwind(AssertUnwindSafe(f)).ok().flatten()
}

/// How many GPUs the driver API reports, or why it cannot be asked.
fn driver_device_count() -> Result<usize, String> {
    match driver_gpu_count()? {
        0 => Err("the CUDA driver reports no GPU (check CUDA_VISIBLE_DEVICES)".into()),
        count => Ok(count),
    }
}

/// As `driver_device_count`, but a driver that finds no GPU (cuInit's CUDA_ERROR_NO_DEVICE, as
/// with CUDA_VISIBLE_DEVICES="") answers 0: listing the GPUs then gives none, not an error.
fn driver_gpu_count() -> Result<usize, String> {
    use cudarc::driver::{result, sys::CUresult, DriverError};
    if let Some(problem) = lookup(CudaLibrary::Driver).problem(CudaLibrary::Driver) {
        return Err(problem);
    }
    missing_driver_symbol(&INIT_SYMBOLS)?;
    let count = catch_unwind(|| match result::init() {
        Err(DriverError(CUresult::CUDA_ERROR_NO_DEVICE)) => Ok(0),
        Err(e) => Err(format!("the CUDA driver failed to start (cuInit: {e:?})")),
        Ok(()) => {
            result::device::get_count().map_err(|e| format!("cuDeviceGetCount failed: {e:?}"))
        }
    })
    .map_err(|_| "the CUDA driver library is incompatible (a symbol is missing)".to_string())??;
    Ok(count.max(0) as usize)
}

/// Driver API functions, by when they are first called: to count the GPUs, to list them, and to
/// run the backend (`driver.rs`).
const INIT_SYMBOLS: [&str; 4] = [
    "cuInit",
    "cuDeviceGetCount",
    "cuDriverGetVersion",
    "cuGetErrorString",
];
const LISTING_SYMBOLS: [&str; 4] = [
    "cuDeviceGet",
    "cuDeviceGetName",
    "cuDeviceGetUuid",
    "cuDeviceTotalMem_v2",
];
const BACKEND_SYMBOLS: [&str; 26] = [
    "cuGetErrorName",
    "cuDeviceGet",
    "cuDeviceGetAttribute",
    "cuDevicePrimaryCtxRetain",
    "cuCtxSetCurrent",
    "cuStreamCreate",
    "cuStreamSynchronize",
    "cuStreamWaitEvent",
    "cuEventCreate",
    "cuEventRecord",
    "cuEventQuery",
    "cuEventSynchronize",
    "cuEventDestroy_v2",
    "cuMemAlloc_v2",
    "cuMemFree_v2",
    "cuMemHostAlloc",
    "cuMemFreeHost",
    "cuMemcpyHtoDAsync_v2",
    "cuMemcpyDtoHAsync_v2",
    "cuMemcpyDtoDAsync_v2",
    "cuMemsetD8Async",
    "cuMemGetInfo_v2",
    "cuModuleLoadData",
    "cuModuleGetFunction",
    "cuLaunchKernel",
    "cuDeviceTotalMem_v2",
];

/// Why the loaded driver cannot serve `symbols`: the first one it lacks. Asked before calling,
/// since cudarc would panic on it and the panic hook would print the panic to stderr.
fn missing_driver_symbol(symbols: &[&'static str]) -> Result<(), String> {
    let Lookup::Loaded { library, .. } = lookup(CudaLibrary::Driver) else {
        return Ok(());
    };
    let missing = symbols.iter().find(|name| {
        // SAFETY: only looks the symbol up; the pointer is never used.
        unsafe { library.get::<*const std::ffi::c_void>(name.as_bytes()) }.is_err()
    });
    match missing {
        None => Ok(()),
        Some(symbol) => Err(format!(
            "the CUDA driver library is incompatible: it lacks {symbol} (update the NVIDIA driver)"
        )),
    }
}

fn driver_gpus() -> Option<Result<Vec<Gpu>, String>> {
    use cudarc::driver::result::device;
    let count = match driver_gpu_count() {
        Ok(count) => count,
        Err(e) => return Some(Err(e)),
    };
    if count > 0 {
        if let Err(e) = missing_driver_symbol(&LISTING_SYMBOLS) {
            return Some(Err(e));
        }
    }
    let gpus = (0..count)
        .map(|index| {
            let dev =
                device::get(index as i32).map_err(|e| format!("cuDeviceGet({index}): {e:?}"))?;
            let name =
                device::get_name(dev).map_err(|e| format!("cuDeviceGetName({index}): {e:?}"))?;
            let uuid = device::get_uuid(dev)
                .ok()
                .map(|u| format_uuid(&u.bytes.map(|b| b as u8)));
            let mut total = 0usize;
            // SAFETY: `dev` is a valid device handle and `total` outlives the call.
            unsafe { cudarc::driver::sys::cuDeviceTotalMem_v2(&mut total, dev) }
                .result()
                .map_err(|e| format!("cuDeviceTotalMem({index}): {e:?}"))?;
            Ok(Gpu {
                index,
                name,
                uuid,
                memory_used: None,
                memory_total: total as u64,
                utilization: None,
                temperature: None,
            })
        })
        .collect();
    Some(gpus)
}

/// NVML's spelling of a GPU's UUID: `GPU-` and the 16 bytes as 8-4-4-4-12 hex digits.
fn format_uuid(bytes: &[u8; 16]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "GPU-{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

fn nvml() -> Option<nvml_wrapper::Nvml> {
    let path = lookup(CudaLibrary::Nvml).path()?;
    catch_unwind(|| {
        nvml_wrapper::Nvml::builder()
            .lib_path(path.as_os_str())
            .init()
            .ok()
    })
    .ok()
    .flatten()
}

fn nvml_gpus(nvml: &nvml_wrapper::Nvml) -> Result<Vec<Gpu>, String> {
    use nvml_wrapper::enum_wrappers::device::TemperatureSensor;
    let count = nvml
        .device_count()
        .map_err(|e| format!("NVML could not count the GPUs: {e}"))?;
    (0..count)
        .map(|index| {
            let device = nvml
                .device_by_index(index)
                .map_err(|e| format!("NVML could not open GPU {index}: {e}"))?;
            let memory = device
                .memory_info()
                .map_err(|e| format!("NVML could not read GPU {index}'s memory: {e}"))?;
            Ok(Gpu {
                index: index as usize,
                name: device
                    .name()
                    .unwrap_or_else(|_| "unknown NVIDIA GPU".into()),
                uuid: device.uuid().ok(),
                memory_used: Some(memory.used),
                memory_total: memory.total,
                utilization: device.utilization_rates().ok().map(|u| u.gpu),
                temperature: device.temperature(TemperatureSensor::Gpu).ok(),
            })
        })
        .collect()
}

fn driver_api_version() -> Option<String> {
    lookup(CudaLibrary::Driver).path()?;
    let mut version = 0;
    // SAFETY: a plain out-parameter call; libcuda is loaded.
    unsafe { cudarc::driver::sys::cuDriverGetVersion(&mut version) }
        .result()
        .ok()?;
    Some(format!("{}.{}", version / 1000, version % 1000 / 10))
}

/// The version a loaded library reports about itself; none of these calls needs a GPU.
fn library_version(library: CudaLibrary) -> Option<String> {
    use std::ffi::c_int;
    match library {
        CudaLibrary::Driver => driver_api_version(),
        CudaLibrary::Nvml => nvml()?.sys_nvml_version().ok(),
        CudaLibrary::Cublas => {
            use cudarc::cublas::sys::{cublasGetProperty, libraryPropertyType};
            let part = |property| {
                let mut value: c_int = 0;
                // SAFETY: a plain out-parameter call; cuBLAS is loaded.
                unsafe { cublasGetProperty(property, &mut value) }
                    .result()
                    .ok()
                    .map(|_| value)
            };
            Some(format!(
                "{}.{}.{}",
                part(libraryPropertyType::MAJOR_VERSION)?,
                part(libraryPropertyType::MINOR_VERSION)?,
                part(libraryPropertyType::PATCH_LEVEL)?
            ))
        }
        CudaLibrary::Cudnn => {
            // SAFETY: takes no arguments; cuDNN is loaded.
            let v = unsafe { cudarc::cudnn::sys::cudnnGetVersion() };
            Some(format!("{}.{}.{}", v / 10000, v % 10000 / 100, v % 100))
        }
        CudaLibrary::Nvrtc => {
            let (mut major, mut minor): (c_int, c_int) = (0, 0);
            // SAFETY: plain out-parameter calls; NVRTC is loaded.
            unsafe { cudarc::nvrtc::sys::nvrtcVersion(&mut major, &mut minor) }
                .result()
                .ok()?;
            Some(format!("{major}.{minor}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gpu(index: usize, used: Option<u64>, total: u64) -> Gpu {
        Gpu {
            index,
            name: "GPU".into(),
            uuid: None,
            memory_used: used,
            memory_total: total,
            utilization: None,
            temperature: None,
        }
    }

    #[test]
    fn the_freest_gpu_has_the_most_free_memory_and_ties_go_to_the_lower_index() {
        let gpus = [
            gpu(0, Some(9), 10),
            gpu(1, Some(2), 10),
            gpu(2, Some(5), 16),
            gpu(3, None, 80),
        ];
        assert_eq!(freest(&gpus), Some(2));
        assert_eq!(freest(&[gpu(0, Some(1), 10), gpu(1, Some(1), 10)]), Some(0));
        assert_eq!(freest(&[gpu(0, None, 10)]), None);
        assert_eq!(freest(&[]), None);
    }

    #[test]
    fn uuids_are_spelled_as_nvml_spells_them() {
        let bytes: [u8; 16] = std::array::from_fn(|i| (i * 17) as u8);
        assert_eq!(
            format_uuid(&bytes),
            "GPU-00112233-4455-6677-8899-aabbccddeeff"
        );
    }

    #[test]
    fn without_a_gpu_nothing_fails_and_the_reason_names_the_missing_piece() {
        // Runs everywhere: on a machine with a driver this checks the same calls answer.
        let info = info();
        assert!(!info.available);
        assert_eq!(device_count(), 0);
        let reason = info.unavailable_reason.unwrap();
        assert!(!reason.is_empty());
        assert_eq!(info.libraries.len(), CudaLibrary::ALL.len());
        for library in &info.libraries {
            assert!(
                library.path.is_some() != library.problem.is_some(),
                "{library:?}"
            );
        }
        let detail = unavailable_detail(0).unwrap();
        assert!(detail.starts_with("cuda:0 requested, but"), "{detail}");
        assert!(devices().is_ok());
    }
}
