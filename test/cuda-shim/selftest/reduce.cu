// Toy kernels for the shim's self-test, in the style of Ferrite's own: block and warp reductions.

// Sum of x[0..n) per block into out[blockIdx.x]: a grid-stride partial sum per thread, then a
// shared-memory tree with a barrier between levels. blockDim.x must be 256.
extern "C" __global__ void selftest_block_sum(const float* __restrict__ x, float* __restrict__ out, long long n) {
    __shared__ float partial[256];
    float acc = 0.0f;
    FERRITE_FOR_EACH(i, n) acc += x[i];
    partial[threadIdx.x] = acc;
    __syncthreads();
    for (unsigned stride = blockDim.x / 2; stride > 0; stride /= 2) {
        if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
        __syncthreads();
    }
    if (threadIdx.x == 0) out[blockIdx.x] = partial[0];
}

__device__ __forceinline__ float warp_sum_down(float v) {
    for (int offset = warpSize / 2; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
    return v;
}

__device__ __forceinline__ float warp_sum_xor(float v) {
    for (int offset = warpSize / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}

// The same sum with warp shuffles: each warp reduces (shfl_down), warp 0 reduces the warps'
// partials (shfl_xor). blockDim.x a multiple of 32.
extern "C" __global__ void selftest_warp_sum(const float* __restrict__ x, float* __restrict__ out, long long n) {
    __shared__ float warp_partial[32];
    float acc = 0.0f;
    FERRITE_FOR_EACH(i, n) acc += x[i];
    acc = warp_sum_down(acc);
    unsigned warp = threadIdx.x / warpSize, lane = threadIdx.x % warpSize;
    if (lane == 0) warp_partial[warp] = acc;
    __syncthreads();
    if (warp == 0) {
        float v = lane < blockDim.x / warpSize ? warp_partial[lane] : 0.0f;
        v = warp_sum_xor(v);
        if (lane == 0) out[blockIdx.x] = v;
    }
}

// Reads a shared slot no thread wrote: the shim fills static shared memory with NaN bytes first.
extern "C" __global__ void selftest_unwritten_shared(float* out) {
    __shared__ float never_written[64];
    out[threadIdx.x] = never_written[threadIdx.x];
}

// Every warp op, one result per (thread, op) in out[thread * 10 + op], for the driver to compare
// with CUDA's rules (widths, out-of-segment sources, lanes missing from a partial warp).
extern "C" __global__ void selftest_warp_ops(int* out) {
    int lane = threadIdx.x % warpSize;
    int v = 100 * (int)threadIdx.x + 7;
    int* o = out + threadIdx.x * 10;
    o[0] = __shfl_sync(0xffffffffu, v, 5);
    o[1] = __shfl_sync(0xffffffffu, v, lane + 3, 8);
    o[2] = __shfl_up_sync(0xffffffffu, v, 3);
    o[3] = __shfl_down_sync(0xffffffffu, v, 3, 16);
    o[4] = __shfl_xor_sync(0xffffffffu, v, 16);
    o[5] = (int)__ballot_sync(0xffffffffu, lane % 3 == 0);
    o[6] = __any_sync(0xffffffffu, lane == 30);
    o[7] = __all_sync(0xffffffffu, lane < 31);
    __syncwarp();
    long long wide = __shfl_xor_sync(0xffffffffu, (long long)v << 33, 1);
    o[8] = (int)(wide >> 33);
    o[9] = (int)__shfl_down_sync(0xffffffffu, (unsigned)v, 1);
}
