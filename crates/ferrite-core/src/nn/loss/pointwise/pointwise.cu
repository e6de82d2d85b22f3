// Pointwise losses over dense buffers of `n` floats (`pointwise_loss_*`): per-element losses,
// and the gradient with respect to the input or the target. The upstream gradient of element i
// is g[i * g_step] * scale (g_step 0 for a reduced loss). `weight` and `pos_weight` may be null:
// a factor of 1. The formulas are those of `cpu.rs` beside this file.

#define POINTWISE_LOSS_MSE 0
#define POINTWISE_LOSS_BCE_WITH_LOGITS 1

// log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)), exact in both tails.
__device__ __forceinline__ float pointwise_loss_log_sigmoid(float x) {
    return fminf(x, 0.0f) - log1pf(expf(-fabsf(x)));
}

extern "C" __global__ void pointwise_loss_forward_f32(const float* __restrict__ x,
                                                      const float* __restrict__ y,
                                                      const float* __restrict__ weight,
                                                      const float* __restrict__ pos_weight,
                                                      float* __restrict__ out, long long n,
                                                      int kind) {
    FERRITE_FOR_EACH(i, n) {
        if (kind == POINTWISE_LOSS_MSE) {
            const float d = x[i] - y[i];
            out[i] = d * d;
        } else {
            const float p = pos_weight ? pos_weight[i] : 1.0f;
            const float w = weight ? weight[i] : 1.0f;
            const float log_weight = 1.0f + (p - 1.0f) * y[i];
            out[i] = w * ((1.0f - y[i]) * x[i] - log_weight * pointwise_loss_log_sigmoid(x[i]));
        }
    }
}

// The gradient with respect to the input (wrt_target 0) or the target (1).
extern "C" __global__ void pointwise_loss_backward_f32(
    const float* __restrict__ g, long long g_step, float scale, const float* __restrict__ x,
    const float* __restrict__ y, const float* __restrict__ weight,
    const float* __restrict__ pos_weight, float* __restrict__ grad, long long n, int kind,
    int wrt_target) {
    FERRITE_FOR_EACH(i, n) {
        const float upstream = g[i * g_step] * scale;
        float d;
        if (kind == POINTWISE_LOSS_MSE) {
            d = (wrt_target ? -2.0f : 2.0f) * (x[i] - y[i]);
        } else {
            const float p = pos_weight ? pos_weight[i] : 1.0f;
            const float w = weight ? weight[i] : 1.0f;
            d = w * (wrt_target ? -x[i] - (p - 1.0f) * pointwise_loss_log_sigmoid(x[i])
                                : (1.0f + (p - 1.0f) * y[i]) / (1.0f + expf(-x[i])) - p * y[i]);
        }
        grad[i] = d * upstream;
    }
}
