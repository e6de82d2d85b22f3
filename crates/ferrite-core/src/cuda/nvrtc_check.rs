//! NVRTC compiles every kernel module for the GPU architectures Ferrite targets, as the runtime
//! does but to SASS for real architectures, so ptxas runs too and reports each kernel's
//! registers, shared memory and stack. A compile error, any warning or a register spill fails;
//! the resources go into the committed report `bench/gpu/KERNEL_RESOURCES.md`, which must match
//! (`FERRITE_UPDATE_KERNEL_REPORT=1` rewrites it). `npm run test:cuda` installs the pinned NVRTC
//! wheel and puts its folder on `LD_LIBRARY_PATH` before running this.

use std::collections::BTreeMap;
use std::ffi::{c_char, CString};
use std::path::{Path, PathBuf};

use cudarc::nvrtc::{result, sys};

use super::kernels::MODULES;

/// Ampere (A100) and Hopper (H100/H200): the GPUs this project's device machines have.
const ARCHS: [u32; 2] = [80, 90];
const UPDATE_VARIABLE: &str = "FERRITE_UPDATE_KERNEL_REPORT";
const REPORT: &str = "bench/gpu/KERNEL_RESOURCES.md";

/// The runtime's NVRTC options, but for the real architecture `sm_{arch}` instead of the virtual
/// `compute_{arch}`, so that NVRTC runs ptxas, which `-v` makes log each kernel's resources.
fn options(arch: u32) -> Vec<String> {
    let mut options: Vec<String> = super::nvrtc_options(arch)
        .into_iter()
        .map(|o| o.replace("=compute_", "=sm_"))
        .collect();
    assert!(
        options.contains(&format!("--gpu-architecture=sm_{arch}")),
        "the runtime's NVRTC options changed form: {options:?}"
    );
    options.push("--ptxas-options=-v".into());
    options
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// What ptxas reports for one kernel on one architecture.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Resources {
    registers: u64,
    shared: u64,
    stack: u64,
}

/// ptxas's account of one program: each kernel's resources, and each function's spills in bytes.
#[derive(Debug, Default, PartialEq)]
struct Ptxas {
    kernels: Vec<(String, Resources)>,
    spills: Vec<(String, u64, u64)>,
}

/// The number just before `unit` on `line` (`Used 32 registers` -> 32 for " registers").
fn count_before(line: &str, unit: &str) -> Option<u64> {
    let end = line.find(unit)?;
    line[..end].split_whitespace().last()?.parse().ok()
}

fn quoted(line: &str) -> Option<&str> {
    line.split('\'').nth(1)
}

/// Reads ptxas's `-v` lines: `Compiling entry function 'k'` starts a kernel, `Function
/// properties for f` a function (a kernel or a device function not inlined), whose next line
/// holds its stack frame and spills; `Used N registers, ... M bytes smem` closes the kernel.
fn parse_ptxas(log: &str) -> Ptxas {
    let mut ptxas = Ptxas::default();
    let (mut kernel, mut function) = (None::<String>, None::<String>);
    let mut current = Resources::default();
    for line in log.lines() {
        if line.contains("Compiling entry function") {
            kernel = quoted(line).map(str::to_owned);
            current = Resources::default();
        } else if line.contains("Function properties for") {
            function = line.rsplit(' ').next().map(str::to_owned);
        } else if let Some(stack) = count_before(line, " bytes stack frame") {
            let name = function.take().unwrap_or_default();
            let stores = count_before(line, " bytes spill stores").unwrap_or(0);
            let loads = count_before(line, " bytes spill loads").unwrap_or(0);
            ptxas.spills.push((name.clone(), stores, loads));
            if kernel.as_deref() == Some(name.as_str()) {
                current.stack = stack;
            }
        } else if let Some(registers) = count_before(line, " registers") {
            current.registers = registers;
            current.shared = count_before(line, " bytes smem").unwrap_or(0);
            if let Some(name) = kernel.take() {
                ptxas.kernels.push((name, current));
            }
        }
    }
    ptxas
}

/// The text of a NUL-terminated log buffer.
fn log_text(buffer: Vec<c_char>) -> String {
    let bytes: Vec<u8> = buffer
        .into_iter()
        .map(|c| c as u8)
        .take_while(|&b| b != 0)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Compiles one module's full source for `arch`; NVRTC's log, or why it failed with the log.
fn compile(module: &str, source: &str, arch: u32) -> Result<String, String> {
    let failed =
        |what: &str, e: result::NvrtcError| format!("{module}.cu (sm_{arch}): {what}: {e:?}");
    let source = CString::new(source).map_err(|_| format!("{module}.cu holds a NUL byte"))?;
    let name = CString::new(format!("{module}.cu")).expect("module names hold no NUL");
    let program = result::create_program(&source, Some(&name)).map_err(|e| failed("create", e))?;
    // SAFETY: `program` was just created and is destroyed once, last; `source` and `name`
    // outlive it; `cubin` is an out-parameter that outlives the call.
    let (compiled, log, cubin) = unsafe {
        let compiled = result::compile_program(program, &options(arch));
        let log = result::get_program_log(program).map(log_text);
        let mut cubin = 0usize;
        let cubin_result = sys::nvrtcGetCUBINSize(program, &mut cubin).result();
        result::destroy_program(program).map_err(|e| failed("destroy", e))?;
        (compiled, log, cubin_result.map(|_| cubin))
    };
    let log = log.map_err(|e| failed("log", e))?;
    compiled.map_err(|e| format!("{module}.cu does not compile for sm_{arch} ({e:?}):\n{log}"))?;
    match cubin {
        Ok(size) if size > 0 => Ok(log),
        _ => Err(format!("{module}.cu (sm_{arch}): NVRTC produced no SASS")),
    }
}

/// Per kernel (module, name): its resources per architecture, in `ARCHS` order.
type Table = BTreeMap<(String, String), Vec<Resources>>;

/// The problems in one compile's log: warnings, spills, kernels named against the convention.
fn check_log(module: &str, arch: u32, log: &str, table: &mut Table) -> Vec<String> {
    let mut problems: Vec<String> = log
        .lines()
        .filter(|l| l.to_ascii_lowercase().contains("warning"))
        .map(|l| format!("{module}.cu (sm_{arch}) warns: {l}"))
        .collect();
    let ptxas = parse_ptxas(log);
    for (function, stores, loads) in &ptxas.spills {
        if stores + loads > 0 {
            problems.push(format!(
                "{module}.cu (sm_{arch}): {function} spills registers ({stores} bytes stores, {loads} bytes loads)"
            ));
        }
    }
    if ptxas.kernels.is_empty() && log.contains("Compiling entry function") {
        problems.push(format!(
            "{module}.cu (sm_{arch}): ptxas's log was not understood:\n{log}"
        ));
    }
    for (kernel, resources) in ptxas.kernels {
        if !kernel.starts_with(&format!("{module}_")) {
            problems.push(format!(
                "{module}.cu: kernel {kernel} is not named {module}_* (or is not extern \"C\")"
            ));
        }
        table
            .entry((module.to_owned(), kernel))
            .or_default()
            .push(resources);
    }
    problems
}

/// Kernels that are not in every architecture's log once, and names used by two modules.
fn table_problems(table: &Table) -> Vec<String> {
    let mut problems = Vec::new();
    let mut owner = BTreeMap::new();
    for ((module, kernel), per_arch) in table {
        if per_arch.len() != ARCHS.len() {
            problems.push(format!(
                "{module}.cu: kernel {kernel} was reported {} times for {} architectures",
                per_arch.len(),
                ARCHS.len()
            ));
        }
        if let Some(other) = owner.insert(kernel, module) {
            problems.push(format!(
                "kernel {kernel} is defined by both {other}.cu and {module}.cu"
            ));
        }
    }
    problems
}

fn nvrtc_version() -> String {
    let (mut major, mut minor) = (0, 0);
    // SAFETY: plain out-parameter calls; the library was found present.
    unsafe { sys::nvrtcVersion(&mut major, &mut minor) }
        .result()
        .expect("nvrtcVersion");
    format!("{major}.{minor}")
}

/// The committed report's text for `table`.
fn report(table: &Table) -> String {
    let archs: Vec<String> = ARCHS.iter().map(|a| format!("sm_{a}")).collect();
    let generic = options(ARCHS[0]).join(" ").replace(&archs[0], "sm_XX");
    let mut text = format!(
        "# Kernel resources\n\n\
         What ptxas reports for every Ferrite kernel, compiled by NVRTC {} with `{}` for {}.\n\
         Written by the NVRTC check (`crates/ferrite-core/src/cuda/nvrtc_check.rs`, run by\n\
         `npm run test:cuda`), which fails while this file differs from what it finds; after changing a\n\
         kernel, rewrite it with `{UPDATE_VARIABLE}=1 npm run test:cuda`.\n\n\
         Each cell reads {}: registers per thread, static shared memory per block in bytes\n\
         (dynamic shared memory is set by each launch), stack frame per thread in bytes. No kernel\n\
         spills registers: the check fails if one does.\n\n\
         | module | kernel | registers | shared memory | stack frame |\n\
         | --- | --- | ---: | ---: | ---: |\n",
        nvrtc_version(),
        generic,
        archs.join(" and "),
        archs.join(" / "),
    );
    for ((module, kernel), per_arch) in table {
        let cell = |field: fn(&Resources) -> u64| {
            let values: Vec<String> = per_arch.iter().map(|r| field(r).to_string()).collect();
            values.join(" / ")
        };
        text.push_str(&format!(
            "| {module} | `{kernel}` | {} | {} | {} |\n",
            cell(|r| r.registers),
            cell(|r| r.shared),
            cell(|r| r.stack)
        ));
    }
    text
}

/// Fails unless the committed report reads `expected`; rewrites it under `UPDATE_VARIABLE=1`.
fn compare_or_update(expected: &str) {
    let path = repo_root().join(REPORT);
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed == expected {
        return;
    }
    if std::env::var(UPDATE_VARIABLE).as_deref() == Ok("1") {
        let written = std::fs::create_dir_all(path.parent().expect("a folder"))
            .and_then(|_| std::fs::write(&path, expected));
        written.unwrap_or_else(|e| panic!("writing {REPORT}: {e}"));
        eprintln!("rewrote {REPORT}");
        return;
    }
    let changed: Vec<String> = expected
        .lines()
        .filter(|l| !l.is_empty() && !committed.lines().any(|c| c == *l))
        .map(|l| format!("  now:  {l}"))
        .chain(
            committed
                .lines()
                .filter(|c| !c.is_empty() && !expected.lines().any(|l| l == *c))
                .map(|c| format!("  was:  {c}")),
        )
        .collect();
    const SHOWN: usize = 30;
    let more = match changed.len().saturating_sub(SHOWN) {
        0 => String::new(),
        n => format!("\n  ... and {n} more lines"),
    };
    panic!(
        "{REPORT} is out of date; rewrite it with {UPDATE_VARIABLE}=1 npm run test:cuda and commit it:\n{}{more}",
        changed[..changed.len().min(SHOWN)].join("\n")
    );
}

#[test]
#[ignore = "needs NVRTC: npm run test:cuda"]
fn cuda_kernels_compile_with_nvrtc_without_warnings_or_spills() {
    // SAFETY: only tries to load the library; cudarc would panic later without it.
    assert!(
        unsafe { sys::is_culib_present() },
        "NVRTC (libnvrtc.so.13) is not on LD_LIBRARY_PATH: run this through `npm run test:cuda`"
    );
    let mut problems = Vec::new();
    let mut table = Table::new();
    for module in MODULES {
        for arch in ARCHS {
            match compile(module.name, &module.full_source(), arch) {
                Ok(log) => problems.extend(check_log(module.name, arch, &log, &mut table)),
                Err(problem) => problems.push(problem),
            }
        }
    }
    problems.extend(table_problems(&table));
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    compare_or_update(&report(&table));
}

/// Every `.cu` file under `dir`, recursively.
fn cu_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir)
        .expect("readable source folder")
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            cu_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "cu") {
            found.push(path);
        }
    }
}

#[test]
fn every_cu_file_is_exactly_one_registered_module() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    cu_files(&src, &mut files);
    files.sort();
    let mut problems = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable .cu file");
        let owners = MODULES.iter().filter(|m| m.source == text).count();
        if owners != 1 {
            let shown = file.strip_prefix(&src).unwrap_or(file).display();
            problems.push(format!(
                "{shown} is the source of {owners} modules in cuda::kernels::MODULES"
            ));
        }
    }
    for module in MODULES {
        let texts = files.iter().filter_map(|f| std::fs::read_to_string(f).ok());
        if !texts.into_iter().any(|t| t == module.source) {
            problems.push(format!("module {} is no .cu file under src/", module.name));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn ptxas_lines_give_each_kernels_resources_and_each_functions_spills() {
    let log = "\
ptxas info    : 0 bytes gmem
ptxas info    : Function properties for helper
ptxas         .     16 bytes stack frame, 8 bytes spill stores, 4 bytes spill loads
ptxas info    : Compiling entry function 'm_big' for 'sm_90'
ptxas info    : Function properties for m_big
ptxas         .     400 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 38 registers, used 0 barriers, 400 bytes cumulative stack size
ptxas info    : Compile time = 35.715 ms
ptxas info    : Compiling entry function 'm_add' for 'sm_90'
ptxas info    : Function properties for m_add
ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 10 registers, used 1 barriers, 1024 bytes smem, 520 bytes cmem[0]
";
    let ptxas = parse_ptxas(log);
    let resources = |registers, shared, stack| Resources {
        registers,
        shared,
        stack,
    };
    assert_eq!(
        ptxas.kernels,
        [
            ("m_big".to_owned(), resources(38, 0, 400)),
            ("m_add".to_owned(), resources(10, 1024, 0))
        ]
    );
    assert_eq!(ptxas.spills[0], ("helper".to_owned(), 8, 4));
    let mut table = Table::new();
    let problems = check_log("m", 90, log, &mut table);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("helper spills"), "{problems:?}");
    let problems = check_log("other", 90, "x.cu(1): warning #177-D: unused", &mut table);
    assert!(problems[0].contains("warns"), "{problems:?}");
}
