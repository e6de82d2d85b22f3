// Multi-tensor optimizer updates: one launch updates every parameter of a step. The parameters
// are described in a device buffer, OPTIM_SLOTS int64 per tensor (addresses, element count and
// per-tensor scalars), and the work is cut into chunks of `chunk` elements, each a (tensor, start)
// pair that one block updates. Same arithmetic, in the same order, as cpu.rs.

#define OPTIM_SLOTS 8

// Slots of one tensor's row in `tensors`.
#define OPTIM_PARAM 0
#define OPTIM_GRAD 1
#define OPTIM_STATE0 2
#define OPTIM_STATE1 3
#define OPTIM_STATE2 4
#define OPTIM_LEN 5
#define OPTIM_SCALAR0 6
#define OPTIM_SCALAR1 7

__device__ __forceinline__ float* optim_floats(long long address) { return (float*)address; }

// SGD. State0 is the momentum buffer (0 without momentum), scalar0 is 1 on its first step.
extern "C" __global__ void optim_sgd_f32(const long long* __restrict__ tensors,
                                         const long long* __restrict__ work, long long items,
                                         long long chunk, float lr, float weight_decay,
                                         float momentum, float dampening, float sign, int nesterov) {
    for (long long w = blockIdx.x; w < items; w += gridDim.x) {
        const long long* t = tensors + work[2 * w] * OPTIM_SLOTS;
        float* p = optim_floats(t[OPTIM_PARAM]);
        const float* g = optim_floats(t[OPTIM_GRAD]);
        float* buf = optim_floats(t[OPTIM_STATE0]);
        const bool first_step = t[OPTIM_SCALAR0] != 0;
        const long long start = work[2 * w + 1];
        const long long end = min(start + chunk, t[OPTIM_LEN]);
        for (long long i = start + threadIdx.x; i < end; i += blockDim.x) {
            const float d = sign * g[i] + weight_decay * p[i];
            if (buf == 0) {
                p[i] -= lr * d;
            } else {
                const float b = first_step ? d : momentum * buf[i] + (1.0f - dampening) * d;
                buf[i] = b;
                p[i] -= lr * (nesterov ? d + momentum * b : b);
            }
        }
    }
}

// Adam and AdamW. State0..2 are exp_avg, exp_avg_sq and max_exp_avg_sq (0 without amsgrad);
// scalar0 and scalar1 are the bits of the f32 step size and sqrt of the second bias correction.
extern "C" __global__ void optim_adam_f32(const long long* __restrict__ tensors,
                                          const long long* __restrict__ work, long long items,
                                          long long chunk, float beta1, float beta2, float eps,
                                          float sign, float shrink, float coupled_weight_decay) {
    for (long long w = blockIdx.x; w < items; w += gridDim.x) {
        const long long* t = tensors + work[2 * w] * OPTIM_SLOTS;
        float* p = optim_floats(t[OPTIM_PARAM]);
        const float* g = optim_floats(t[OPTIM_GRAD]);
        float* m = optim_floats(t[OPTIM_STATE0]);
        float* v = optim_floats(t[OPTIM_STATE1]);
        float* vmax = optim_floats(t[OPTIM_STATE2]);
        const float step_size = __int_as_float((int)t[OPTIM_SCALAR0]);
        const float bias_correction2_sqrt = __int_as_float((int)t[OPTIM_SCALAR1]);
        const long long start = work[2 * w + 1];
        const long long end = min(start + chunk, t[OPTIM_LEN]);
        for (long long i = start + threadIdx.x; i < end; i += blockDim.x) {
            p[i] *= shrink;
            const float grad = sign * g[i] + coupled_weight_decay * p[i];
            // m.lerp_(grad, 1 - beta1), as PyTorch writes it.
            m[i] += (grad - m[i]) * (1.0f - beta1);
            v[i] = beta2 * v[i] + (1.0f - beta2) * grad * grad;
            float second = v[i];
            if (vmax != 0) {
                vmax[i] = fmaxf(vmax[i], v[i]);
                second = vmax[i];
            }
            p[i] -= step_size * m[i] / (sqrtf(second) / bias_correction2_sqrt + eps);
        }
    }
}
