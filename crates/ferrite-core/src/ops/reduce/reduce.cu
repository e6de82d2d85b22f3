// Per-row folds of a dense [rows, len] input (the host side arranged the reduced dims last).
// A block of blockDim.x * blockDim.y threads (REDUCE_THREADS in all, blockDim.x a power of two)
// folds blockDim.y rows at a time with blockDim.x threads per row: each thread folds elements
// x, x + blockDim.x, ... of its row, then the row's threads combine their partials as a tree in
// shared memory. Every thread runs the same number of row rounds and tree steps, so all of them
// reach every barrier.
//
// Sums accumulate float32 in double, as the CPU does (it sums in f64), and int64 and bool in
// unsigned 64-bit (wrapping, as on the CPU). max/min and their indices pick the first element that
// no other beats, with NaN beating every number, exactly as the CPU's sequential scan.

#define REDUCE_THREADS 256

__device__ __forceinline__ double reduce_widen(float v) { return (double)v; }
__device__ __forceinline__ unsigned long long reduce_widen(long long v) { return (unsigned long long)v; }
__device__ __forceinline__ unsigned long long reduce_widen(unsigned char v) { return v != 0 ? 1ULL : 0ULL; }

__device__ __forceinline__ float reduce_finish(double sum, long long len, bool mean) {
    return mean ? (float)(sum / (double)len) : (float)sum;
}
__device__ __forceinline__ long long reduce_finish(unsigned long long sum, long long, bool) {
    return (long long)sum;
}

// Sums (or means) of each row of `x` into `out`; `partial` is REDUCE_THREADS accumulators of
// shared memory.
template <typename T, typename Acc, typename Out>
__device__ __forceinline__ void reduce_sum_rows(const T* __restrict__ x, Out* __restrict__ out,
                                                long long rows, long long len, bool mean,
                                                Acc* partial) {
    const int tx = threadIdx.x;
    const int width = blockDim.x;
    Acc* mine = partial + threadIdx.y * width;
    const long long step = (long long)gridDim.x * blockDim.y;
    for (long long first = (long long)blockIdx.x * blockDim.y; first < rows; first += step) {
        const long long row = first + threadIdx.y;
        Acc acc = 0;
        if (row < rows) {
            const T* r = x + row * len;
            for (long long i = tx; i < len; i += width) acc += reduce_widen(r[i]);
        }
        mine[tx] = acc;
        __syncthreads();
        for (int half = width / 2; half > 0; half /= 2) {
            if (tx < half) mine[tx] += mine[tx + half];
            __syncthreads();
        }
        if (row < rows && tx == 0) out[row] = reduce_finish(mine[0], len, mean);
        // mine[0] is read above before the next round writes it.
        __syncthreads();
    }
}

// "a beats b" for max (or min): NaN beats every number, as the CPU's f32_beats.
__device__ __forceinline__ bool reduce_beats(float a, float b, bool max) {
    return b == b && (a != a || (max ? a > b : a < b));
}
__device__ __forceinline__ bool reduce_beats(long long a, long long b, bool max) {
    return max ? a > b : a < b;
}
__device__ __forceinline__ bool reduce_beats(unsigned char a, unsigned char b, bool max) {
    return max ? (a != 0 && b == 0) : (a == 0 && b != 0);
}

// The largest (or smallest) element of each row and its index, into `values` and `indices`
// (either may be null); `best` and `at` are REDUCE_THREADS slots of shared memory. A slot with
// index -1 holds nothing (a thread past the row's end).
template <typename T>
__device__ __forceinline__ void reduce_extreme_rows(const T* __restrict__ x, T* __restrict__ values,
                                                    long long* __restrict__ indices, long long rows,
                                                    long long len, bool max, T* best,
                                                    long long* at) {
    const int tx = threadIdx.x;
    const int width = blockDim.x;
    const int slot = threadIdx.y * width + tx;
    const long long step = (long long)gridDim.x * blockDim.y;
    for (long long first = (long long)blockIdx.x * blockDim.y; first < rows; first += step) {
        const long long row = first + threadIdx.y;
        T v = 0;
        long long index = -1;
        if (row < rows) {
            const T* r = x + row * len;
            for (long long i = tx; i < len; i += width) {
                if (index < 0 || reduce_beats(r[i], v, max)) {
                    v = r[i];
                    index = i;
                }
            }
        }
        best[slot] = v;
        at[slot] = index;
        __syncthreads();
        for (int half = width / 2; half > 0; half /= 2) {
            if (tx < half) {
                T w = best[slot + half];
                long long j = at[slot + half];
                long long i = at[slot];
                bool take = j >= 0 && (i < 0 || reduce_beats(w, best[slot], max) ||
                                       (!reduce_beats(best[slot], w, max) && j < i));
                if (take) {
                    best[slot] = w;
                    at[slot] = j;
                }
            }
            __syncthreads();
        }
        if (row < rows && tx == 0) {
            if (values) values[row] = best[slot];
            if (indices) indices[row] = at[slot];
        }
        __syncthreads();
    }
}

extern "C" __global__ void reduce_sum_f32(const float* __restrict__ x, float* __restrict__ out,
                                          long long rows, long long len, int mean) {
    __shared__ double partial[REDUCE_THREADS];
    reduce_sum_rows(x, out, rows, len, mean != 0, partial);
}

extern "C" __global__ void reduce_sum_i64(const long long* __restrict__ x, long long* __restrict__ out,
                                          long long rows, long long len) {
    __shared__ unsigned long long partial[REDUCE_THREADS];
    reduce_sum_rows(x, out, rows, len, false, partial);
}

extern "C" __global__ void reduce_sum_bool(const unsigned char* __restrict__ x,
                                           long long* __restrict__ out, long long rows, long long len) {
    __shared__ unsigned long long partial[REDUCE_THREADS];
    reduce_sum_rows(x, out, rows, len, false, partial);
}

// The extreme kernels of each dtype: the same fold over their own shared arrays.
#define REDUCE_EXTREME_PARAMS(T) \
    const T* __restrict__ x, T* __restrict__ values, long long* __restrict__ indices, long long rows, long long len, int max
#define REDUCE_EXTREME_BODY(T)                                                  \
    __shared__ T best[REDUCE_THREADS];                                          \
    __shared__ long long at[REDUCE_THREADS];                                    \
    reduce_extreme_rows(x, values, indices, rows, len, max != 0, best, at);

extern "C" __global__ void reduce_extreme_f32(REDUCE_EXTREME_PARAMS(float)) {
    REDUCE_EXTREME_BODY(float)
}
extern "C" __global__ void reduce_extreme_i64(REDUCE_EXTREME_PARAMS(long long)) {
    REDUCE_EXTREME_BODY(long long)
}
extern "C" __global__ void reduce_extreme_bool(REDUCE_EXTREME_PARAMS(unsigned char)) {
    REDUCE_EXTREME_BODY(unsigned char)
}
