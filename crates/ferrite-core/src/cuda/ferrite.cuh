// Shared by every Ferrite kernel. Prepended as text to each `.cu` file: by `cuda::Module` before
// NVRTC compiles it, and by the CPU shim's build (`-include`), so both compile the same source.
// No #include here or in a kernel file: NVRTC has no system headers.

#define FERRITE_MAX_RANK 8

// A strided view as a kernel parameter: the same layout as `cuda::Strides` (#[repr(C)]) in Rust.
struct Strides {
    int rank;
    long long size[FERRITE_MAX_RANK];
    long long stride[FERRITE_MAX_RANK];
    long long offset;
};

// The storage position of the `linear`-th element (row-major order) of a strided view.
__device__ __forceinline__ long long ferrite_strided_index(const Strides& s, long long linear) {
    long long index = s.offset;
    for (int d = s.rank - 1; d >= 0; --d) {
        long long size = s.size[d];
        index += (linear % size) * s.stride[d];
        linear /= size;
    }
    return index;
}

// Grid-stride loop over [0, n).
#define FERRITE_FOR_EACH(i, n) \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (long long)blockDim.x * gridDim.x)

// Dynamic shared memory (the launch's `shared_bytes`); the shim defines its own version.
#ifndef FERRITE_DYNAMIC_SHARED
#define FERRITE_DYNAMIC_SHARED(type, name) extern __shared__ type name[]
#endif

// Bad input a kernel finds (a class index outside [0, classes)) cannot throw: the kernel sets a
// bit in its device's error word (`CudaDevice::error_word`), and the next read of any value from
// that device turns it into a typed error, as PyTorch's device-side asserts surface at the next
// synchronisation (but leaving the device usable).
#define FERRITE_ERROR_CLASS_OUT_OF_RANGE 1u

__device__ __forceinline__ void ferrite_report(unsigned* error_word, unsigned code) {
    atomicOr(error_word, code);
}
