#!/bin/sh
# Runs a command with the ASan runtime preloaded, which a host process that is not instrumented
# itself (a Rust test binary, node) needs before it can dlopen libferrite_shim.so. As a cargo
# runner it applies to the test binaries only, not to cargo and rustc:
#   CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="$PWD/test/cuda-shim/with-asan.sh" cargo test ...
# The runtime is GCC's (the compiler build.mjs uses by default); set FERRITE_SHIM_PRELOAD to
# another (what build.mjs prints as LD_PRELOAD) when CXX is not GCC.
set -e
runtime="${FERRITE_SHIM_PRELOAD:-$(${CXX:-g++} -print-file-name=libasan.so)}"
if [ ! -f "$runtime" ]; then
    echo "with-asan.sh: no ASan runtime at '$runtime' (apt-get install libasan8, or set FERRITE_SHIM_PRELOAD)" >&2
    exit 1
fi
export LD_PRELOAD="$runtime${LD_PRELOAD:+:$LD_PRELOAD}"
# Leak checking would report the host's own allocations at exit; the shim's errors abort anyway.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
exec "$@"
