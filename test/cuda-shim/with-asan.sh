#!/bin/sh
# Runs a command with the ASan runtime preloaded, which a host process that is not instrumented
# itself (a Rust test binary, node) needs before it can dlopen libferrite_shim.so. As a cargo
# runner it applies to the test binaries only, not to cargo and rustc:
#   CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="$PWD/test/cuda-shim/with-asan.sh" cargo test ...
# The runtime is the one of the compiler build.mjs uses (CXX, default g++), or FERRITE_SHIM_PRELOAD.
set -e
cxx="${CXX:-g++}"
name=libasan.so
if "$cxx" --version | grep -qi clang; then name=libclang_rt.asan-x86_64.so; fi
runtime="${FERRITE_SHIM_PRELOAD:-$("$cxx" -print-file-name=$name)}"
if [ ! -f "$runtime" ]; then
    echo "with-asan.sh: no ASan runtime at '$runtime' (apt-get install libasan8, or set FERRITE_SHIM_PRELOAD)" >&2
    exit 1
fi
export LD_PRELOAD="$runtime${LD_PRELOAD:+:$LD_PRELOAD}"
# Leak checking would report the host's own allocations at exit; the shim's errors abort anyway.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
exec "$@"
