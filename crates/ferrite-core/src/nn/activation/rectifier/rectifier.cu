// ReLU's relatives elementwise: leaky relu, gelu (erf or tanh), silu and hardswish, picked by
// `kind` (the same for every thread of a launch, so the switch does not diverge). Forwards read a
// strided view through `Strides`; gradients zip the contiguous upstream gradient and input. The
// formulas are those of `cpu.rs` beside this file, with CUDA's own erfcf and expf.

#define RECTIFIER_LEAKY_RELU 0
#define RECTIFIER_GELU 1
#define RECTIFIER_GELU_TANH 2
#define RECTIFIER_SILU 3
#define RECTIFIER_HARDSWISH 4

// sqrt(2 / pi) and the cubic coefficient of gelu's tanh approximation.
#define RECTIFIER_TANH_BETA 0.7978845608f
#define RECTIFIER_TANH_KAPPA 0.044715f

__device__ __forceinline__ float rectifier_forward(int kind, float x, float slope) {
    switch (kind) {
    case RECTIFIER_LEAKY_RELU: return x > 0.0f ? x : x * slope;
    // x * Phi(x) through erfc, which stays accurate for negative x where 1 + erf cancels.
    case RECTIFIER_GELU: return 0.5f * x * erfcf(-x * 0.7071067812f);
    // x (1 + tanh u) / 2 written as x * sigmoid(2u).
    case RECTIFIER_GELU_TANH: {
        const float u = RECTIFIER_TANH_BETA * (x + RECTIFIER_TANH_KAPPA * x * x * x);
        return x / (1.0f + expf(-2.0f * u));
    }
    case RECTIFIER_SILU: return x / (1.0f + expf(-x));
    default: return x * fminf(fmaxf(x + 3.0f, 0.0f), 6.0f) / 6.0f;
    }
}

__device__ __forceinline__ float rectifier_derivative(int kind, float x, float slope) {
    switch (kind) {
    case RECTIFIER_LEAKY_RELU: return x > 0.0f ? 1.0f : slope;
    case RECTIFIER_GELU:
        return 0.5f * erfcf(-x * 0.7071067812f) + x * 0.3989422804f * expf(-0.5f * x * x);
    case RECTIFIER_GELU_TANH: {
        const float u = RECTIFIER_TANH_BETA * (x + RECTIFIER_TANH_KAPPA * x * x * x);
        const float s = 1.0f / (1.0f + expf(-2.0f * u));
        return s + 2.0f * x * s * (1.0f - s) * RECTIFIER_TANH_BETA *
                       (1.0f + 3.0f * RECTIFIER_TANH_KAPPA * x * x);
    }
    case RECTIFIER_SILU: {
        const float s = 1.0f / (1.0f + expf(-x));
        return s * (1.0f + x * (1.0f - s));
    }
    // PyTorch's pieces, boundaries included: 0 up to -3, 1 from 3 on.
    default: return x <= -3.0f ? 0.0f : (x < 3.0f ? x / 3.0f + 0.5f : 1.0f);
    }
}

extern "C" __global__ void rectifier_forward_f32(const float* __restrict__ x, Strides view,
                                                 int contiguous, float* __restrict__ y,
                                                 long long n, int kind, float slope) {
    FERRITE_FOR_EACH(i, n) {
        const long long at = contiguous ? view.offset + i : ferrite_position(view, i, false);
        y[i] = rectifier_forward(kind, x[at], slope);
    }
}

// g * f'(x); a zero derivative gives 0 even where g is infinite, as on the CPU (hardswish up to -3).
extern "C" __global__ void rectifier_backward_f32(const float* __restrict__ g,
                                                  const float* __restrict__ x,
                                                  float* __restrict__ dx, long long n, int kind,
                                                  float slope) {
    FERRITE_FOR_EACH(i, n) {
        const float d = rectifier_derivative(kind, x[i], slope);
        dx[i] = (kind == RECTIFIER_HARDSWISH && x[i] <= -3.0f) ? 0.0f : g[i] * d;
    }
}
