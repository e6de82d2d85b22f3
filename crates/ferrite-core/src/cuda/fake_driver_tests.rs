//! The host-side error paths against a fake CUDA driver (test/cuda-fake/libcuda.c). Library
//! lookups are made once per process, so each variant runs in a process of its own, started by
//! `npm run test:cuda` (scripts/test-cuda.mjs) with `FERRITE_FAKE_DRIVER` naming the variant and
//! `LD_LIBRARY_PATH` (or `FERRITE_CUDA_PATH`) leading to its library:
//!
//! - `nodevice`: `cuInit` answers CUDA_ERROR_NO_DEVICE;
//! - `nosymbol`: `cuInit` succeeds but `cuDeviceGetCount` is missing (cudarc would panic on it);
//! - `partial`: one GPU is counted, but `cuDeviceGet` and all later calls are missing, so cudarc
//!   panics inside Ferrite's guards (which must turn the panic into a reason);
//! - `corrupt`: the file `libcuda.so.1` is no shared library.

use super::libraries::{lookup, CudaLibrary};
use crate::{Device, Error};

const VARIABLE: &str = "FERRITE_FAKE_DRIVER";

/// The variant this process was started for, after checking the fake is what was loaded.
fn variant() -> String {
    let variant = std::env::var(VARIABLE).unwrap_or_else(|_| {
        panic!("{VARIABLE} is unset: run these tests through `npm run test:cuda`")
    });
    if variant != "corrupt" {
        // Looking the driver up loads it; its mapping shows which file the loader picked.
        assert!(
            lookup(CudaLibrary::Driver).path().is_some(),
            "the fake driver did not load"
        );
        let fake = format!("cuda-fake/{variant}/libcuda.so");
        let maps = std::fs::read_to_string("/proc/self/maps").expect("/proc/self/maps");
        assert!(
            maps.contains(&fake),
            "libcuda.so.1 was not loaded from {fake}"
        );
    }
    variant
}

/// Checks shared by every variant: no panic escapes, and every entry point says why.
fn unavailable_everywhere(expected_reason: &[&str]) -> String {
    assert!(!super::is_available());
    assert_eq!(super::device_count(), 0);
    let reason = super::unavailable_reason().expect("a reason");
    assert!(
        expected_reason.iter().any(|part| reason.contains(part)),
        "the reason {reason:?} names none of {expected_reason:?}"
    );
    match Device::Cuda(0).ensure_available("to") {
        Err(Error::DeviceUnavailable { detail, .. }) => {
            assert!(detail.contains(&reason), "{detail:?} lacks {reason:?}")
        }
        other => panic!("expected DeviceUnavailable, got {other:?}"),
    }
    let info = super::info();
    assert!(!info.available);
    assert_eq!(info.unavailable_reason.as_deref(), Some(reason.as_str()));
    assert_eq!(info.libraries.len(), CudaLibrary::ALL.len());
    assert_eq!(super::freest_device(), None);
    reason
}

fn devices_fail_typed() {
    match super::devices() {
        Err(Error::DeviceUnavailable { .. }) => {}
        other => panic!("expected DeviceUnavailable, got {other:?}"),
    }
}

#[test]
#[ignore = "needs the fake driver: npm run test:cuda"]
fn cuda_fake_driver_errors_are_typed_reasons() {
    match variant().as_str() {
        "nodevice" => {
            unavailable_everywhere(&["no GPU", "no CUDA-capable device"]);
            // A driver without GPUs is an answer (none), not a failure.
            assert_eq!(super::devices().map_err(|e| e.to_string()), Ok(Vec::new()));
            assert_eq!(super::info().cuda_version.as_deref(), Some("13.0"));
        }
        "nosymbol" => {
            let reason = unavailable_everywhere(&["lacks cuDeviceGetCount"]);
            assert!(reason.contains("incompatible"), "{reason}");
            devices_fail_typed();
        }
        "partial" => {
            // The driver counts a GPU; what is missing next depends on the machine's libraries.
            unavailable_everywhere(&["cuBLAS", "NVRTC", "incompatible"]);
            devices_fail_typed();
        }
        "corrupt" => {
            unavailable_everywhere(&["failed to load"]);
            assert_eq!(super::devices().map_err(|e| e.to_string()), Ok(Vec::new()));
        }
        other => panic!("unknown {VARIABLE} variant {other:?}"),
    }
}
