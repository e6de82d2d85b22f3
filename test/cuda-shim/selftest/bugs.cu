// Kernels with the bugs the shim must catch (the self-test runs the fatal ones in a child process).

// Reads its neighbour's slot without a barrier: right only when the neighbour happened to run first.
extern "C" __global__ void selftest_missing_sync(const float* __restrict__ x, float* __restrict__ y) {
    __shared__ float s[128];
    s[threadIdx.x] = x[threadIdx.x];
    y[threadIdx.x] = s[(threadIdx.x + 1) % blockDim.x];
}

// Threads 16 and up leave before the barrier the others wait at.
extern "C" __global__ void selftest_divergent_barrier(float* y) {
    if (threadIdx.x >= 16) return;
    __syncthreads();
    y[threadIdx.x] = 1.0f;
}

// Half of each warp shuffles, the other half has left.
extern "C" __global__ void selftest_divergent_shuffle(float* y) {
    if (threadIdx.x % 32 >= 16) return;
    y[threadIdx.x] = __shfl_xor_sync(0xffffffffu, y[threadIdx.x], 1);
}

// Half of a warp shuffles while the other half waits at __syncthreads: neither can finish.
extern "C" __global__ void selftest_shuffle_vs_barrier(float* y) {
    float v = y[threadIdx.x];
    if (threadIdx.x < 16) v = __shfl_xor_sync(0xffffffffu, v, 1);
    __syncthreads();
    y[threadIdx.x] = v;
}

extern "C" __global__ void selftest_partial_mask(float* y) {
    y[threadIdx.x] = __shfl_xor_sync(0x0000ffffu, y[threadIdx.x], 1);
}

// Thread 0 writes one past the end of y (n elements).
extern "C" __global__ void selftest_oob_write(float* y, long long n) {
    if (threadIdx.x == 0) y[n] = 1.0f;
}

// Writes one float past the launch's dynamic shared memory (blockDim.x floats).
extern "C" __global__ void selftest_dynamic_overrun(float* y) {
    FERRITE_DYNAMIC_SHARED(float, chunk);
    chunk[threadIdx.x + 1] = 1.0f;
    __syncthreads();
    y[threadIdx.x] = chunk[threadIdx.x];
}

// Out of the caller's sight, so that ASan rather than UBSan's bounds checks sees the overruns below.
__device__ __noinline__ void store(float* p, int i, float v) { p[i] = v; }

// Writes one float past a static shared array.
extern "C" __global__ void selftest_static_overrun(float* y) {
    __shared__ float s[32];
    store(s, threadIdx.x + 1, 1.0f);
    __syncthreads();
    y[threadIdx.x] = s[threadIdx.x];
}

// Signed overflow, for UBSan.
extern "C" __global__ void selftest_int_overflow(int* y, int big) {
    y[threadIdx.x] = big + (int)threadIdx.x;
}

// Indexes a thread-local array one past its end after a barrier (the fiber's stack was switched).
extern "C" __global__ void selftest_local_overrun(float* y, int index) {
    float local[4] = {1.0f, 2.0f, 3.0f, 4.0f};
    __syncthreads();
    store(local, index, y[threadIdx.x]);
    __syncthreads();
    y[threadIdx.x] = local[threadIdx.x % 4];
}

// Every thread reaches a barrier, but the two halves of the block reach different ones.
extern "C" __global__ void selftest_split_barrier(float* y) {
    if (threadIdx.x < 32) {
        y[threadIdx.x] = 1.0f;
        __syncthreads();
    } else {
        __syncthreads();
        y[threadIdx.x] = 2.0f;
    }
}

// Recurses until the fiber's stack runs out.
__device__ __noinline__ float deep(float* y, int depth) {
    float frame[256];
    frame[depth % 256] = y[0];
    return depth == 0 ? frame[0] : deep(y, depth - 1) + frame[(depth * 7) % 256];
}

extern "C" __global__ void selftest_stack_overflow(float* y, int depth) {
    y[threadIdx.x] = deep(y, depth);
}
