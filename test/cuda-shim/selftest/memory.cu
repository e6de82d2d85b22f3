// Toy kernels for the shim's self-test: atomics, dynamic shared memory, strided views, 2-D tiles.

// Each thread adds its x[i] in every atomic flavour; acc: [int sum, int max, int min, CAS-loop sum].
extern "C" __global__ void selftest_atomics(const int* __restrict__ x, long long n, int* acc, unsigned* usum,
                                            unsigned long long* ullsum, float* fsum) {
    FERRITE_FOR_EACH(i, n) {
        int v = x[i];
        atomicAdd(&acc[0], v);
        atomicMax(&acc[1], v);
        atomicMin(&acc[2], v);
        int old = acc[3], assumed;
        do {
            assumed = old;
            old = atomicCAS(&acc[3], assumed, assumed + v);
        } while (old != assumed);
        atomicAdd(usum, (unsigned)v);
        unsigned long long u = *ullsum, seen;
        do {
            seen = u;
            u = atomicCAS(ullsum, seen, seen + (unsigned long long)(v + 1000));
        } while (u != seen);
        atomicAdd(fsum, (float)v);
    }
}

// Reverses each block's chunk of x through dynamic shared memory (blockDim.x floats).
extern "C" __global__ void selftest_dynamic_reverse(const float* __restrict__ x, float* __restrict__ y, long long n) {
    FERRITE_DYNAMIC_SHARED(float, chunk);
    long long base = (long long)blockIdx.x * blockDim.x;
    long long i = base + threadIdx.x;
    chunk[threadIdx.x] = i < n ? x[i] : 0.0f;
    __syncthreads();
    long long j = base + (blockDim.x - 1 - threadIdx.x);
    if (j < n) y[j] = chunk[threadIdx.x];
}

// y[i] = alpha * (the i-th element of the strided view xs of x), grid-stride.
extern "C" __global__ void selftest_strided_scale(const float* __restrict__ x, Strides xs, float* __restrict__ y,
                                                  long long n, float alpha) {
    FERRITE_FOR_EACH(i, n) y[i] = alpha * x[ferrite_position(xs, i, false)];
}

// y (cols x rows) = transpose of x (rows x cols) through a 32x33 tile; blockDim (32, 8).
extern "C" __global__ void selftest_transpose(const float* __restrict__ x, float* __restrict__ y, int rows, int cols) {
    __shared__ float tile[32][33];
    int c = blockIdx.x * 32 + threadIdx.x;
    for (int k = threadIdx.y; k < 32; k += blockDim.y) {
        int r = blockIdx.y * 32 + k;
        if (r < rows && c < cols) tile[k][threadIdx.x] = x[(long long)r * cols + c];
    }
    __syncthreads();
    int r = blockIdx.y * 32 + threadIdx.x;
    for (int k = threadIdx.y; k < 32; k += blockDim.y) {
        int cc = blockIdx.x * 32 + k;
        if (r < rows && cc < cols) y[(long long)cc * rows + r] = tile[threadIdx.x][k];
    }
}

// Kernels that a macro defines, as some of Ferrite's do: the registry sees them after the preprocessor.
#define SELFTEST_FILL(name, value)                                      \
    extern "C" __global__ void name(float* __restrict__ y, long long n) { \
        FERRITE_FOR_EACH(i, n) y[i] = (value);                          \
    }
SELFTEST_FILL(selftest_fill_one, 1.0f)
SELFTEST_FILL(selftest_fill_index, (float)i)
