//! Finding NVIDIA's libraries in a Python environment's wheels, as a PyTorch user's machine has
//! them, and reading their versions through cudarc. Needs no GPU, only the wheels: it uses the
//! benchmark's PyTorch environment (`npm run bench:compare:setup`), so it is ignored by default and
//! `npm test` runs it (`--ignored`) where bench/.venv holds the wheels; run alone:
//! `cargo test -p ferrite-core --test cuda_libraries -- --ignored`.
//! Its own test binary, because the libraries are looked up once per process.

use std::path::{Path, PathBuf};

use ferrite_core::cuda;

fn bench_venv() -> Option<PathBuf> {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../bench/.venv")
        .canonicalize()
        .ok()?;
    let lib = std::fs::read_dir(venv.join("lib")).ok()?;
    let has_wheels = lib
        .flatten()
        .any(|python| python.path().join("site-packages/nvidia").is_dir());
    has_wheels.then_some(venv)
}

#[test]
#[ignore = "needs bench/.venv with NVIDIA's wheels (npm run bench:compare:setup)"]
fn libraries_in_a_virtual_environments_nvidia_wheels_are_found_and_report_their_versions() {
    let venv = bench_venv()
        .expect("no bench/.venv with NVIDIA's wheels: `npm run bench:compare:setup` makes one");
    // SAFETY: the only test in this binary, before any other thread reads the environment.
    unsafe { std::env::set_var("VIRTUAL_ENV", &venv) };
    let info = cuda::info();
    let library = |name: &str| {
        info.libraries
            .iter()
            .find(|l| l.name == name)
            .unwrap()
            .clone()
    };
    for (name, major) in [
        ("cuBLAS", ["12.", "13."]),
        ("NVRTC", ["12.", "13."]),
        ("cuDNN", ["9.", "9."]),
    ] {
        let found = library(name);
        let path = found
            .path
            .as_deref()
            .unwrap_or_else(|| panic!("{name} not found: {found:?}"));
        assert!(
            path.starts_with(venv.to_str().unwrap()),
            "{name} loaded from {path}, outside {venv:?}"
        );
        let version = found
            .version
            .unwrap_or_else(|| panic!("{name} reported no version"));
        assert!(
            major.iter().any(|m| version.starts_with(m)),
            "{name} {version}"
        );
        println!("{name} {version} from {path}");
    }
    // The driver comes with the NVIDIA driver, never in a wheel; without it nothing is available.
    if library("CUDA driver").path.is_none() {
        assert!(!info.available);
        assert!(info.unavailable_reason.unwrap().contains("libcuda"));
    }
}
