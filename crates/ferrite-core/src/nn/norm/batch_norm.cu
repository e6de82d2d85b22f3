// Batch norm in evaluation, beside cuDNN: cuDNN normalises and computes the training gradients;
// these give the per-channel statistics the evaluation backward reads, that backward itself
// (the statistics are constants there, as PyTorch's own kernels treat them), and the evaluation
// forward where the cuDNN library is missing. The input is contiguous [n, c, s]: element
// (i, ch, j) sits at (i * c + ch) * s + j.

// Threads per block of `batch_norm_channel_sums_f32`; the launch uses exactly this many.
#define BATCH_NORM_THREADS 256

// 1 / sqrt(var + eps) per channel.
extern "C" __global__ void batch_norm_invstd_f32(const float* __restrict__ var,
                                                 float* __restrict__ invstd, long long c,
                                                 float eps) {
    FERRITE_FOR_EACH(ch, c) {
        invstd[ch] = (float)(1.0 / sqrt((double)var[ch] + (double)eps));
    }
}

// y = (x - mean) * (invstd * weight) + bias per channel, centring first as the CPU does. A null
// `mean` or `bias` counts as zeros: with both null this is the evaluation input gradient
// dx = dy * weight * invstd.
extern "C" __global__ void batch_norm_affine_f32(const float* __restrict__ x,
                                                 const float* __restrict__ mean,
                                                 const float* __restrict__ invstd,
                                                 const float* __restrict__ weight,
                                                 const float* __restrict__ bias,
                                                 float* __restrict__ y, long long n, long long c,
                                                 long long s) {
    long long total = n * c * s;
    FERRITE_FOR_EACH(i, total) {
        long long ch = i / s % c;
        float scale = invstd[ch] * weight[ch];
        float centred = mean ? x[i] - mean[ch] : x[i];
        y[i] = bias ? centred * scale + bias[ch] : centred * scale;
    }
}

// Per channel, one block: dweight = sum(dy * (x - mean)) * invstd and dbias = sum(dy), each
// written only where its pointer is not null. Sums are kept in double, as the CPU keeps them.
extern "C" __global__ void batch_norm_channel_sums_f32(const float* __restrict__ x,
                                                       const float* __restrict__ dy,
                                                       const float* __restrict__ mean,
                                                       const float* __restrict__ invstd,
                                                       float* __restrict__ dweight,
                                                       float* __restrict__ dbias, long long n,
                                                       long long c, long long s) {
    __shared__ double dy_sums[BATCH_NORM_THREADS];
    __shared__ double dy_xmu_sums[BATCH_NORM_THREADS];
    for (long long ch = blockIdx.x; ch < c; ch += gridDim.x) {
        float m = mean[ch];
        double dy_sum = 0.0;
        double dy_xmu_sum = 0.0;
        for (long long k = threadIdx.x; k < n * s; k += BATCH_NORM_THREADS) {
            long long at = (k / s * c + ch) * s + k % s;
            float g = dy[at];
            dy_sum += g;
            dy_xmu_sum += (double)(g * (x[at] - m));
        }
        dy_sums[threadIdx.x] = dy_sum;
        dy_xmu_sums[threadIdx.x] = dy_xmu_sum;
        __syncthreads();
        for (int half = BATCH_NORM_THREADS / 2; half > 0; half /= 2) {
            if (threadIdx.x < half) {
                dy_sums[threadIdx.x] += dy_sums[threadIdx.x + half];
                dy_xmu_sums[threadIdx.x] += dy_xmu_sums[threadIdx.x + half];
            }
            __syncthreads();
        }
        if (threadIdx.x == 0) {
            if (dweight) {
                dweight[ch] = (float)(dy_xmu_sums[0] * (double)invstd[ch]);
            }
            if (dbias) {
                dbias[ch] = (float)dy_sums[0];
            }
        }
        // The sums are read above before the next channel overwrites them.
        __syncthreads();
    }
}
