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

// NVRTC has no <math.h>; the CPU shim's build gets these from it.
#ifndef INFINITY
#define INFINITY __int_as_float(0x7f800000)
#endif
#ifndef NAN
#define NAN __int_as_float(0x7fc00000)
#endif

// The storage position of element `linear` (row-major) of a strided view. With `narrow` (the
// host knows the view has fewer than 2^31 elements) the index is decomposed in 32 bits, several
// times cheaper than a 64-bit division on the GPU; strides stay 64-bit since a small view may sit
// in a large storage.
__device__ __forceinline__ long long ferrite_position(const Strides& s, long long linear, bool narrow) {
    long long p = s.offset;
    if (s.rank == 1) return p + linear * s.stride[0];
    if (narrow) {
        unsigned rest = (unsigned)linear;
        for (int d = s.rank - 1; d >= 0; --d) {
            unsigned size = (unsigned)s.size[d];
            unsigned q = rest / size;
            p += (long long)(rest - q * size) * s.stride[d];
            rest = q;
        }
        return p;
    }
    for (int d = s.rank - 1; d >= 0; --d) {
        long long size = s.size[d];
        long long q = linear / size;
        p += (linear - q * size) * s.stride[d];
        linear = q;
    }
    return p;
}

// As `ferrite_position`, for two views of the same sizes at once (one index decomposition).
__device__ __forceinline__ void ferrite_positions(const Strides& a, const Strides& b, long long linear,
                                                  bool narrow, long long& pa, long long& pb) {
    pa = a.offset;
    pb = b.offset;
    if (a.rank == 1) {
        pa += linear * a.stride[0];
        pb += linear * b.stride[0];
        return;
    }
    if (narrow) {
        unsigned rest = (unsigned)linear;
        for (int d = a.rank - 1; d >= 0; --d) {
            unsigned size = (unsigned)a.size[d];
            unsigned q = rest / size;
            long long r = (long long)(rest - q * size);
            pa += r * a.stride[d];
            pb += r * b.stride[d];
            rest = q;
        }
        return;
    }
    for (int d = a.rank - 1; d >= 0; --d) {
        long long size = a.size[d];
        long long q = linear / size;
        long long r = linear - q * size;
        pa += r * a.stride[d];
        pb += r * b.stride[d];
        linear = q;
    }
}

// Warp-wide sum and max over full warps (every lane takes part).
__device__ __forceinline__ float ferrite_warp_sum(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}

__device__ __forceinline__ float ferrite_warp_max(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) {
        float other = __shfl_xor_sync(0xffffffffu, v, offset);
        v = other > v ? other : v;
    }
    return v;
}

// The block-wide sum (`max` false) or max of `v`, returned to every thread, for blocks of a
// multiple of 32 threads (at most 1024). `shared` holds 33 floats, free again when this returns.
__device__ __forceinline__ float ferrite_block_reduce(float v, bool max, float* shared) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = max ? ferrite_warp_max(v) : ferrite_warp_sum(v);
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    if (warp == 0) {
        float w = lane < warps ? shared[lane] : (max ? -INFINITY : 0.0f);
        w = max ? ferrite_warp_max(w) : ferrite_warp_sum(w);
        if (lane == 0) shared[32] = w;
    }
    __syncthreads();
    float result = shared[32];
    __syncthreads();
    return result;
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
