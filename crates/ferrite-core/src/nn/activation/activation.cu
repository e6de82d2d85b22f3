// Activations: relu, sigmoid, tanh and relu6 elementwise (forwards read a strided view through
// `Strides`, gradients zip contiguous buffers), and softmax / log-softmax along one dim of a
// contiguous tensor seen as [outer, dim, inner]: a block per row when inner == 1, else a thread
// per (outer, inner) column walking the dim. Helpers are prefixed: the CPU shim links every
// kernel file into one library.

// NaN stays NaN; -0 becomes +0, as on the CPU.
__device__ __forceinline__ float activation_relu(float v) { return (v > 0.0f || v != v) ? v : 0.0f; }
// exp(-v) overflows to inf for very negative v, which still gives the right 0.
__device__ __forceinline__ float activation_sigmoid(float v) { return 1.0f / (1.0f + expf(-v)); }

// The element `i` (row-major) of a strided view, read directly when the view is contiguous.
__device__ __forceinline__ long long activation_at(const Strides& view, int contiguous, long long i) {
    return contiguous ? view.offset + i : ferrite_position(view, i, false);
}

// Forwards over a strided view into a dense output. (Written out one by one: the shim's build
// finds kernels by their `extern "C" __global__ void name(` text.)
extern "C" __global__ void activation_relu_f32(const float* __restrict__ x, Strides view,
                                               int contiguous, float* __restrict__ y, long long n) {
    FERRITE_FOR_EACH(i, n) y[i] = activation_relu(x[activation_at(view, contiguous, i)]);
}

extern "C" __global__ void activation_relu_i64(const long long* __restrict__ x, Strides view,
                                               int contiguous, long long* __restrict__ y,
                                               long long n) {
    FERRITE_FOR_EACH(i, n) {
        const long long v = x[activation_at(view, contiguous, i)];
        y[i] = v > 0 ? v : 0;
    }
}

extern "C" __global__ void activation_sigmoid_f32(const float* __restrict__ x, Strides view,
                                                  int contiguous, float* __restrict__ y,
                                                  long long n) {
    FERRITE_FOR_EACH(i, n) y[i] = activation_sigmoid(x[activation_at(view, contiguous, i)]);
}

extern "C" __global__ void activation_tanh_f32(const float* __restrict__ x, Strides view,
                                               int contiguous, float* __restrict__ y, long long n) {
    FERRITE_FOR_EACH(i, n) y[i] = tanhf(x[activation_at(view, contiguous, i)]);
}

// min(max(v, 0), 6); NaN fails both tests and stays NaN.
__device__ __forceinline__ float activation_relu6(float v) { return v <= 0.0f ? 0.0f : (v >= 6.0f ? 6.0f : v); }

extern "C" __global__ void activation_relu6_f32(const float* __restrict__ x, Strides view,
                                                int contiguous, float* __restrict__ y, long long n) {
    FERRITE_FOR_EACH(i, n) y[i] = activation_relu6(x[activation_at(view, contiguous, i)]);
}

extern "C" __global__ void activation_relu6_i64(const long long* __restrict__ x, Strides view,
                                                int contiguous, long long* __restrict__ y,
                                                long long n) {
    FERRITE_FOR_EACH(i, n) {
        const long long v = x[activation_at(view, contiguous, i)];
        y[i] = v < 0 ? 0 : (v > 6 ? 6 : v);
    }
}

// Input gradients from the upstream gradient `g` and the saved output `y`.
extern "C" __global__ void activation_relu_backward_f32(const float* __restrict__ g,
                                                        const float* __restrict__ y,
                                                        float* __restrict__ dx, long long n) {
    FERRITE_FOR_EACH(i, n) dx[i] = y[i] > 0.0f ? g[i] : 0.0f;
}

extern "C" __global__ void activation_sigmoid_backward_f32(const float* __restrict__ g,
                                                           const float* __restrict__ y,
                                                           float* __restrict__ dx, long long n) {
    FERRITE_FOR_EACH(i, n) dx[i] = g[i] * y[i] * (1.0f - y[i]);
}

extern "C" __global__ void activation_tanh_backward_f32(const float* __restrict__ g,
                                                        const float* __restrict__ y,
                                                        float* __restrict__ dx, long long n) {
    FERRITE_FOR_EACH(i, n) dx[i] = g[i] * (1.0f - y[i] * y[i]);
}

// PyTorch's hardtanh_backward: no gradient at and beyond the edges, which the output equals there.
extern "C" __global__ void activation_relu6_backward_f32(const float* __restrict__ g,
                                                         const float* __restrict__ y,
                                                         float* __restrict__ dx, long long n) {
    FERRITE_FOR_EACH(i, n) dx[i] = (y[i] <= 0.0f || y[i] >= 6.0f) ? 0.0f : g[i];
}

// Softmax (or log-softmax) of each of `rows` contiguous rows of `dim` elements: the max is
// subtracted before exp so that large logits stay finite (NaNs are skipped by the max and show
// up through exp, as on the CPU).
extern "C" __global__ void activation_softmax_rows_f32(const float* __restrict__ x,
                                                       float* __restrict__ y, long long rows,
                                                       long long dim, int log_softmax) {
    __shared__ float shared[33];
    for (long long row = blockIdx.x; row < rows; row += gridDim.x) {
        const float* xr = x + row * dim;
        float* yr = y + row * dim;
        float max = -INFINITY;
        for (long long k = threadIdx.x; k < dim; k += blockDim.x) max = xr[k] > max ? xr[k] : max;
        max = ferrite_block_reduce(max, true, shared);
        float sum = 0.0f;
        for (long long k = threadIdx.x; k < dim; k += blockDim.x) sum += expf(xr[k] - max);
        sum = ferrite_block_reduce(sum, false, shared);
        if (log_softmax) {
            const float ln_sum = logf(sum);
            for (long long k = threadIdx.x; k < dim; k += blockDim.x) yr[k] = (xr[k] - max) - ln_sum;
        } else {
            const float inv = 1.0f / sum;
            for (long long k = threadIdx.x; k < dim; k += blockDim.x) yr[k] = expf(xr[k] - max) * inv;
        }
    }
}

// The same along a strided dim: one thread per (outer, inner) pair, reading `dim` elements
// `inner` apart (neighbouring threads read neighbouring elements).
extern "C" __global__ void activation_softmax_cols_f32(const float* __restrict__ x,
                                                       float* __restrict__ y, long long outer,
                                                       long long dim, long long inner,
                                                       int log_softmax) {
    FERRITE_FOR_EACH(col, outer * inner) {
        const long long start = (col / inner) * dim * inner + col % inner;
        const float* xc = x + start;
        float* yc = y + start;
        float max = -INFINITY;
        for (long long k = 0; k < dim; ++k) max = xc[k * inner] > max ? xc[k * inner] : max;
        float sum = 0.0f;
        for (long long k = 0; k < dim; ++k) sum += expf(xc[k * inner] - max);
        if (log_softmax) {
            const float ln_sum = logf(sum);
            for (long long k = 0; k < dim; ++k) yc[k * inner] = (xc[k * inner] - max) - ln_sum;
        } else {
            const float inv = 1.0f / sum;
            for (long long k = 0; k < dim; ++k) yc[k * inner] = expf(xc[k * inner] - max) * inv;
        }
    }
}

// Input gradient from the output `y` and its gradient `g`: y * (g - sum(g * y)) for softmax,
// g - exp(y) * sum(g) for log-softmax, a block per row.
extern "C" __global__ void activation_softmax_backward_rows_f32(
    const float* __restrict__ g, const float* __restrict__ y, float* __restrict__ dx,
    long long rows, long long dim, int log_softmax) {
    __shared__ float shared[33];
    for (long long row = blockIdx.x; row < rows; row += gridDim.x) {
        const float* gr = g + row * dim;
        const float* yr = y + row * dim;
        float* dr = dx + row * dim;
        float sum = 0.0f;
        for (long long k = threadIdx.x; k < dim; k += blockDim.x) sum += log_softmax ? gr[k] : gr[k] * yr[k];
        sum = ferrite_block_reduce(sum, false, shared);
        for (long long k = threadIdx.x; k < dim; k += blockDim.x) {
            dr[k] = log_softmax ? gr[k] - expf(yr[k]) * sum : yr[k] * (gr[k] - sum);
        }
    }
}

extern "C" __global__ void activation_softmax_backward_cols_f32(
    const float* __restrict__ g, const float* __restrict__ y, float* __restrict__ dx,
    long long outer, long long dim, long long inner, int log_softmax) {
    FERRITE_FOR_EACH(col, outer * inner) {
        const long long start = (col / inner) * dim * inner + col % inner;
        const float* gc = g + start;
        const float* yc = y + start;
        float* dc = dx + start;
        float sum = 0.0f;
        for (long long k = 0; k < dim; ++k) {
            sum += log_softmax ? gc[k * inner] : gc[k * inner] * yc[k * inner];
        }
        for (long long k = 0; k < dim; ++k) {
            const float gv = gc[k * inner], yv = yc[k * inner];
            dc[k * inner] = log_softmax ? gv - expf(yv) * sum : yv * (gv - sum);
        }
    }
}
