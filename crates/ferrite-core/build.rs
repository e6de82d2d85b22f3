//! Sets `ferrite_direct_isa_on_host` when the tests built here can run the direct convolution
//! kernels: always on aarch64 (NEON is part of the architecture), on x86-64 when the building CPU
//! has AVX-512F and VL (the tests run on it, natively or under an emulator such as Wine, or on a
//! machine like it); `ferrite_bf16_on_host` likewise when it has AVX512-BF16 (with BW and DQ),
//! which the bf16 kernels need; `ferrite_amx_on_host` when it has AMX-BF16 tiles (on Linux, which
//! grants them per process). Tests of those kernels are ignored, with the reason in libtest's
//! counts, where the flag is unset, instead of passing without running; run where the CPU lacks
//! what the building one had, they fail.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-check-cfg=cfg(ferrite_direct_isa_on_host)");
    println!("cargo:rustc-check-cfg=cfg(ferrite_bf16_on_host)");
    println!("cargo:rustc-check-cfg=cfg(ferrite_amx_on_host)");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if arch == "aarch64" || (arch == "x86_64" && host_has_avx512()) {
        println!("cargo:rustc-cfg=ferrite_direct_isa_on_host");
    }
    if arch == "x86_64" && host_has_avx512_bf16() {
        println!("cargo:rustc-cfg=ferrite_bf16_on_host");
    }
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if arch == "x86_64" && os == "linux" && host_has_avx512_bf16() && host_has_amx_bf16() {
        println!("cargo:rustc-cfg=ferrite_amx_on_host");
    }
}

/// CPUID leaf 7: EDX bit 22 is AMX-BF16, bit 24 AMX-TILE.
#[cfg(target_arch = "x86_64")]
fn host_has_amx_bf16() -> bool {
    let edx = std::arch::x86_64::__cpuid_count(7, 0).edx;
    edx & (1 << 22) != 0 && edx & (1 << 24) != 0
}

#[cfg(not(target_arch = "x86_64"))]
fn host_has_amx_bf16() -> bool {
    false
}

#[cfg(target_arch = "x86_64")]
fn host_has_avx512() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512vl")
}

#[cfg(not(target_arch = "x86_64"))]
fn host_has_avx512() -> bool {
    false
}

#[cfg(target_arch = "x86_64")]
fn host_has_avx512_bf16() -> bool {
    std::arch::is_x86_feature_detected!("avx512bf16")
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512dq")
}

#[cfg(not(target_arch = "x86_64"))]
fn host_has_avx512_bf16() -> bool {
    false
}
