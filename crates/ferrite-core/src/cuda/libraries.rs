//! Finding and loading NVIDIA's shared libraries at run time, so that no CUDA library is needed to
//! build Ferrite or to run it on the CPU.
//!
//! Each library is looked for, in order: in the folders of `FERRITE_CUDA_PATH`; by the system
//! loader (`LD_LIBRARY_PATH`, the ld.so cache); in the CUDA toolkit's usual folders; and in the
//! `nvidia/*/lib` folders of Python wheels, as PyTorch's own loader does. A library found by path
//! stays loaded for the life of the process, so cudarc's later `dlopen` by soname gets that copy.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The environment variable holding extra folders to search, first, separated like `PATH`.
pub const PATH_VARIABLE: &str = "FERRITE_CUDA_PATH";

/// One of the libraries the CUDA backend uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CudaLibrary {
    /// The driver API (`libcuda`), installed with the NVIDIA driver.
    Driver,
    /// NVML (`libnvidia-ml`), installed with the driver: memory, utilisation and temperature.
    Nvml,
    Cublas,
    Cudnn,
    Nvrtc,
}

impl CudaLibrary {
    pub const ALL: [CudaLibrary; 5] = [
        CudaLibrary::Driver,
        CudaLibrary::Nvml,
        CudaLibrary::Cublas,
        CudaLibrary::Cudnn,
        CudaLibrary::Nvrtc,
    ];

    pub fn name(self) -> &'static str {
        match self {
            CudaLibrary::Driver => "CUDA driver",
            CudaLibrary::Nvml => "NVML",
            CudaLibrary::Cublas => "cuBLAS",
            CudaLibrary::Cudnn => "cuDNN",
            CudaLibrary::Nvrtc => "NVRTC",
        }
    }

    /// File names accepted, preferred first. cuBLAS and NVRTC 12 keep the 13 API we call.
    pub fn file_names(self) -> &'static [&'static str] {
        #[cfg(windows)]
        return match self {
            CudaLibrary::Driver => &["nvcuda.dll"],
            CudaLibrary::Nvml => &["nvml.dll"],
            CudaLibrary::Cublas => &["cublas64_13.dll", "cublas64_12.dll"],
            CudaLibrary::Cudnn => &["cudnn64_9.dll"],
            CudaLibrary::Nvrtc => &["nvrtc64_130_0.dll", "nvrtc64_120_0.dll"],
        };
        #[cfg(not(windows))]
        match self {
            CudaLibrary::Driver => &["libcuda.so.1"],
            CudaLibrary::Nvml => &["libnvidia-ml.so.1"],
            CudaLibrary::Cublas => &["libcublas.so.13", "libcublas.so.12"],
            CudaLibrary::Cudnn => &["libcudnn.so.9"],
            CudaLibrary::Nvrtc => &["libnvrtc.so.13", "libnvrtc.so.12"],
        }
    }

    /// What to install when the library is missing.
    pub fn remedy(self) -> &'static str {
        match self {
            CudaLibrary::Driver | CudaLibrary::Nvml => "install the NVIDIA driver",
            CudaLibrary::Cublas => "install CUDA 12 or 13 (or `pip install nvidia-cublas`)",
            CudaLibrary::Cudnn => "install cuDNN 9 (or `pip install nvidia-cudnn-cu13`)",
            CudaLibrary::Nvrtc => "install CUDA 12 or 13 (or `pip install nvidia-cuda-nvrtc`)",
        }
    }
}

/// The outcome of looking for one library.
#[derive(Debug)]
pub enum Lookup {
    /// Loaded; `path` is where it was found, or the bare file name when the system loader found it.
    Loaded {
        path: PathBuf,
        library: libloading::Library,
    },
    /// Not loaded: every place tried, and why the last file that exists failed to load, if any.
    Missing {
        tried: Vec<PathBuf>,
        load_error: Option<String>,
    },
}

impl Lookup {
    pub fn path(&self) -> Option<&Path> {
        match self {
            Lookup::Loaded { path, .. } => Some(path),
            Lookup::Missing { .. } => None,
        }
    }

    /// Why the library is not available, with what to do about it.
    pub fn problem(&self, library: CudaLibrary) -> Option<String> {
        let Lookup::Missing { tried, load_error } = self else {
            return None;
        };
        let names = library.file_names().join(" or ");
        Some(match load_error {
            Some(error) => format!("{} ({names}) was found but failed to load: {error}", library.name()),
            None => format!(
                "{} ({names}) was found neither by the system loader nor in {} folders ({PATH_VARIABLE}, \
                 CUDA_HOME, /usr/local/cuda, Python's nvidia wheels); {}, or set {PATH_VARIABLE} to the folder that holds it",
                library.name(),
                tried.len() / library.file_names().len(),
                library.remedy()
            ),
        })
    }
}

/// Asks the system loader (`LD_LIBRARY_PATH`, the ld.so cache) for `library` by file name.
pub fn find_by_name(library: CudaLibrary) -> Option<Lookup> {
    library.file_names().iter().find_map(|name| {
        // SAFETY: loading runs the library's initialisers; NVIDIA's libraries have no unsound ones.
        let loaded = unsafe { libloading::Library::new(*name) }.ok()?;
        Some(Lookup::Loaded {
            path: PathBuf::from(name),
            library: loaded,
        })
    })
}

/// Looks for `library` in `folders`, in order; the first file that loads wins.
pub fn find_in(library: CudaLibrary, folders: &[PathBuf]) -> Lookup {
    let mut load_error = None;
    let mut tried = Vec::new();
    for folder in folders {
        for name in library.file_names() {
            let path = folder.join(name);
            if path.is_file() {
                // SAFETY: as in `find_by_name`.
                match unsafe { libloading::Library::new(&path) } {
                    Ok(loaded) => {
                        return Lookup::Loaded {
                            path,
                            library: loaded,
                        }
                    }
                    Err(e) => load_error = Some(format!("{}: {}", path.display(), describe(&e))),
                }
            }
            tried.push(path);
        }
    }
    Lookup::Missing { tried, load_error }
}

/// libloading's message and the loader's own (`invalid ELF header`, a missing dependency, ...).
fn describe(error: &libloading::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// Every folder to search after the system loader (`FERRITE_CUDA_PATH`'s again, so a missing
/// library's message lists them), in order, without duplicates.
pub fn search_folders() -> Vec<PathBuf> {
    let mut folders = Vec::new();
    if let Some(paths) = std::env::var_os(PATH_VARIABLE) {
        folders.extend(std::env::split_paths(&paths));
    }
    for variable in ["CUDA_HOME", "CUDA_PATH"] {
        if let Some(root) = std::env::var_os(variable) {
            folders.extend(toolkit_folders(Path::new(&root)));
        }
    }
    folders.extend(toolkit_folders(Path::new("/usr/local/cuda")));
    // The driver's folder in NVIDIA's container images, and WSL's.
    folders.extend(["/usr/local/nvidia/lib64", "/usr/lib/wsl/lib"].map(PathBuf::from));
    folders.extend(site_packages().iter().flat_map(|site| wheel_folders(site)));
    let mut seen = std::collections::HashSet::new();
    folders.retain(|f| seen.insert(f.clone()));
    folders
}

fn toolkit_folders(root: &Path) -> [PathBuf; 3] {
    [root.join("lib64"), root.join("lib"), root.join("bin")]
}

/// Where NVIDIA's Python wheels keep their libraries: their Windows wheels hold DLLs in `bin`.
const WHEEL_LIBRARY_FOLDER: &str = if cfg!(windows) { "bin" } else { "lib" };

/// The library folders of NVIDIA's Python wheels under one site-packages folder:
/// `nvidia/cudnn/lib` (and `nvidia/cublas/lib`, ... for CUDA 12 wheels, `nvidia/cu13/lib` for
/// CUDA 13 ones), `bin` for `lib` on Windows.
pub fn wheel_folders(site_packages: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(site_packages.join("nvidia")) else {
        return Vec::new();
    };
    let mut folders: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path().join(WHEEL_LIBRARY_FOLDER))
        .filter(|lib| lib.is_dir())
        .collect();
    folders.sort();
    folders
}

/// Python's site-packages folders: those of an active virtual or conda environment, then those
/// `python3` reports (run once, only when this search gets that far).
fn site_packages() -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = ["VIRTUAL_ENV", "CONDA_PREFIX"]
        .iter()
        .filter_map(std::env::var_os)
        .flat_map(|prefix| {
            let lib = Path::new(&prefix).join("lib");
            let versions = std::fs::read_dir(&lib).into_iter().flatten().flatten();
            let mut sites: Vec<PathBuf> =
                versions.map(|e| e.path().join("site-packages")).collect();
            sites.push(Path::new(&prefix).join("Lib").join("site-packages"));
            sites
        })
        .collect();
    roots.extend(python_path());
    roots.retain(|p| p.is_dir());
    roots
}

fn python_path() -> Vec<PathBuf> {
    let program = if cfg!(windows) { "python" } else { "python3" };
    let output = std::process::Command::new(program)
        .args([
            "-I",
            "-c",
            "import sys; print('\\n'.join(p for p in sys.path if p))",
        ])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output();
    match output {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| PathBuf::from(OsString::from(l)))
            .collect(),
        _ => Vec::new(),
    }
}

/// The process-wide lookups, made on first use and kept (the libraries stay loaded).
pub fn loaded() -> &'static [(CudaLibrary, Lookup)] {
    static LOOKUPS: OnceLock<Vec<(CudaLibrary, Lookup)>> = OnceLock::new();
    LOOKUPS.get_or_init(|| {
        let mut folders: Option<Vec<PathBuf>> = None;
        let explicit: Vec<PathBuf> = std::env::var_os(PATH_VARIABLE)
            .map(|paths| std::env::split_paths(&paths).collect())
            .unwrap_or_default();
        CudaLibrary::ALL
            .iter()
            .map(|&library| {
                // The user's folders first, then the system loader; the folder scan (which may
                // run python3) only if needed.
                let lookup = loaded_from(library, &explicit)
                    .or_else(|| find_by_name(library))
                    .unwrap_or_else(|| {
                        find_in(library, folders.get_or_insert_with(search_folders))
                    });
                (library, lookup)
            })
            .collect()
    })
}

/// `library` loaded from one of `folders`, if it is there and loads.
fn loaded_from(library: CudaLibrary, folders: &[PathBuf]) -> Option<Lookup> {
    match find_in(library, folders) {
        found @ Lookup::Loaded { .. } => Some(found),
        Lookup::Missing { .. } => None,
    }
}

pub fn lookup(library: CudaLibrary) -> &'static Lookup {
    &loaded()
        .iter()
        .find(|(l, _)| *l == library)
        .expect("every library is looked up")
        .1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ferrite-cuda-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn wheel_folders_are_the_lib_folders_under_nvidia() {
        let site = temp_dir("site");
        let folder = |package: &str| Path::new("nvidia").join(package).join(WHEEL_LIBRARY_FOLDER);
        for package in ["cudnn", "cu13", "nccl"] {
            std::fs::create_dir_all(site.join(folder(package))).unwrap();
        }
        std::fs::create_dir_all(site.join("nvidia").join("include-only")).unwrap();
        let found: Vec<PathBuf> = wheel_folders(&site)
            .iter()
            .map(|p| p.strip_prefix(&site).unwrap().to_path_buf())
            .collect();
        assert_eq!(found, [folder("cu13"), folder("cudnn"), folder("nccl")]);
        assert!(wheel_folders(&site.join("absent")).is_empty());
    }

    #[test]
    fn a_missing_library_lists_where_it_was_looked_for_and_the_fix() {
        let empty = temp_dir("empty");
        let lookup = find_in(CudaLibrary::Cudnn, std::slice::from_ref(&empty));
        let Lookup::Missing {
            tried,
            load_error: None,
        } = &lookup
        else {
            panic!("{lookup:?}")
        };
        assert_eq!(tried, &[empty.join(CudaLibrary::Cudnn.file_names()[0])]);
        let problem = lookup.problem(CudaLibrary::Cudnn).unwrap();
        assert!(
            problem.contains("cuDNN")
                && problem.contains(PATH_VARIABLE)
                && problem.contains("install cuDNN 9"),
            "{problem}"
        );
    }

    #[test]
    fn a_file_that_is_not_a_library_is_reported_as_such() {
        let dir = temp_dir("corrupt");
        std::fs::write(
            dir.join(CudaLibrary::Nvrtc.file_names()[0]),
            b"not a shared library",
        )
        .unwrap();
        let lookup = find_in(CudaLibrary::Nvrtc, &[dir]);
        let problem = lookup.problem(CudaLibrary::Nvrtc).unwrap();
        assert!(
            problem.contains("was found but failed to load"),
            "{problem}"
        );
    }
}
