// Classification losses over [rows, c] scores and one int64 class per row. Rows whose target
// is `ignore_index` give a zero loss and a zero gradient. Targets are validated on the host for
// CPU tensors; here a target outside [0, c) would need a sync to report, so its row's loss and
// gradient are NaN, nothing reads out of bounds, and the forward kernels report it in the
// device's error word, which the next read from the device turns into a typed error. The
// reductions count the targets themselves, so no count travels from the host either.

__device__ __forceinline__ bool loss_in_range(long long t, long long c) { return t >= 0 && t < c; }

// Per row: the softmax into `probs` and the loss (1 - s) * nll + s * mean over classes of -log p,
// a block per row. -log p = (max - z) + ln(sum): both terms >= 0, so nothing cancels for large
// logits; the per-row sums are taken in double as the CPU takes them.
extern "C" __global__ void loss_cross_entropy_forward_f32(
    const float* __restrict__ logits, const long long* __restrict__ targets,
    float* __restrict__ losses, float* __restrict__ probs, long long rows, long long c,
    long long ignore_index, float smoothing, unsigned* __restrict__ error) {
    __shared__ float shared[33];
    for (long long row = blockIdx.x; row < rows; row += gridDim.x) {
        const float* z = logits + row * c;
        float* p = probs + row * c;
        float max = -INFINITY;
        for (long long k = threadIdx.x; k < c; k += blockDim.x) max = z[k] > max ? z[k] : max;
        max = ferrite_block_reduce(max, true, shared);
        float sum = 0.0f, gap = 0.0f;
        for (long long k = threadIdx.x; k < c; k += blockDim.x) {
            sum += expf(z[k] - max);
            gap += max - z[k];
        }
        sum = ferrite_block_reduce(sum, false, shared);
        if (smoothing > 0.0f) gap = ferrite_block_reduce(gap, false, shared);
        const float inv = 1.0f / sum, ln_sum = logf(sum);
        for (long long k = threadIdx.x; k < c; k += blockDim.x) p[k] = expf(z[k] - max) * inv;
        if (threadIdx.x == 0) {
            const long long t = targets[row];
            double loss = 0.0;
            if (t != ignore_index) {
                if (loss_in_range(t, c)) {
                    const double s = smoothing, nll = (double)(max - z[t]) + (double)ln_sum;
                    // The mean of (max - z) + ln_sum over the classes.
                    const double smooth = s > 0.0 ? ((double)gap + (double)c * ln_sum) / (double)c : 0.0;
                    loss = (1.0 - s) * nll + s * smooth;
                } else {
                    loss = NAN;
                    ferrite_report(error, FERRITE_ERROR_CLASS_OUT_OF_RANGE);
                }
            }
            losses[row] = (float)loss;
        }
    }
}

// Per row -log_probs[target].
extern "C" __global__ void loss_nll_forward_f32(const float* __restrict__ log_probs,
                                                const long long* __restrict__ targets,
                                                float* __restrict__ losses, long long rows,
                                                long long c, long long ignore_index,
                                                unsigned* __restrict__ error) {
    FERRITE_FOR_EACH(row, rows) {
        const long long t = targets[row];
        const bool bad = t != ignore_index && !loss_in_range(t, c);
        losses[row] = t == ignore_index ? 0.0f : bad ? NAN : -log_probs[row * c + t];
        if (bad) ferrite_report(error, FERRITE_ERROR_CLASS_OUT_OF_RANGE);
    }
}

#define LOSS_REDUCE_THREADS 256

// One block of LOSS_REDUCE_THREADS: the sum of `rows` losses in double, over the number of
// targets that are not `ignore_index` when `mean` (0 / 0 is NaN when all are ignored, as in
// PyTorch), into out[0]. A fixed tree, so the result does not depend on scheduling.
extern "C" __global__ void loss_reduce_f32(const float* __restrict__ losses,
                                           const long long* __restrict__ targets,
                                           float* __restrict__ out, long long rows,
                                           long long ignore_index, int mean) {
    __shared__ double sums[LOSS_REDUCE_THREADS];
    __shared__ long long counts[LOSS_REDUCE_THREADS];
    double sum = 0.0;
    long long count = 0;
    for (long long i = threadIdx.x; i < rows; i += blockDim.x) {
        sum += (double)losses[i];
        count += targets[i] != ignore_index;
    }
    sums[threadIdx.x] = sum;
    counts[threadIdx.x] = count;
    __syncthreads();
    for (unsigned half = LOSS_REDUCE_THREADS / 2; half > 0; half >>= 1) {
        if (threadIdx.x < half) {
            sums[threadIdx.x] += sums[threadIdx.x + half];
            counts[threadIdx.x] += counts[threadIdx.x + half];
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) out[0] = mean ? (float)(sums[0] / (double)counts[0]) : (float)sums[0];
}

// One block of LOSS_REDUCE_THREADS: the gradient of each counted per-row loss under a mean,
// g[0] / (targets that are not `ignore_index`), into scale[0].
extern "C" __global__ void loss_mean_scale_f32(const float* __restrict__ g,
                                               const long long* __restrict__ targets,
                                               float* __restrict__ scale, long long rows,
                                               long long ignore_index) {
    __shared__ long long counts[LOSS_REDUCE_THREADS];
    long long count = 0;
    for (long long i = threadIdx.x; i < rows; i += blockDim.x) count += targets[i] != ignore_index;
    counts[threadIdx.x] = count;
    __syncthreads();
    for (unsigned half = LOSS_REDUCE_THREADS / 2; half > 0; half >>= 1) {
        if (threadIdx.x < half) counts[threadIdx.x] += counts[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0) scale[0] = g[0] / (float)counts[0];
}

// weight * (p - (1 - s) * onehot(target) - s / c), where the weight of row r is
// weights[r * weight_stride] (stride 0: one weight for every row).
extern "C" __global__ void loss_cross_entropy_backward_f32(
    const float* __restrict__ probs, const long long* __restrict__ targets,
    const float* __restrict__ weights, long long weight_stride, float* __restrict__ dx,
    long long rows, long long c, long long ignore_index, float smoothing) {
    FERRITE_FOR_EACH(i, rows * c) {
        const long long row = i / c, k = i % c, t = targets[row];
        const float w = weights[row * weight_stride];
        float d = 0.0f;
        if (t != ignore_index) {
            if (loss_in_range(t, c)) {
                const double s = smoothing;
                const float spread = (float)((double)w * s / (double)c);
                d = w * probs[i] - spread;
                if (k == t) d -= (float)((double)w * (1.0 - s));
            } else {
                d = NAN;
            }
        }
        dx[i] = d;
    }
}

// -weight at each row's target, 0 elsewhere (weights as above).
extern "C" __global__ void loss_nll_backward_f32(const long long* __restrict__ targets,
                                                 const float* __restrict__ weights,
                                                 long long weight_stride, float* __restrict__ dx,
                                                 long long rows, long long c,
                                                 long long ignore_index) {
    FERRITE_FOR_EACH(i, rows * c) {
        const long long row = i / c, k = i % c, t = targets[row];
        const float w = weights[row * weight_stride];
        dx[i] = t == ignore_index ? 0.0f : !loss_in_range(t, c) ? NAN : k == t ? -w : 0.0f;
    }
}
