// Elementwise ops of one tensor: a strided input read in row-major order into a dense output. The
// float ops take float32; neg and abs also take int64 (wrapping, as Rust's wrapping_neg and
// wrapping_abs); other dtypes were converted on the host side before the launch.

// Every unary kernel has these parameters and this body, mapping each element `v`.
#define UNARY_PARAMS(T) const T* __restrict__ x, Strides s, T* __restrict__ y, long long n
#define UNARY_BODY(T, EXPR)                                \
    bool narrow = n <= 0x7fffffffLL;                       \
    FERRITE_FOR_EACH(i, n) {                               \
        T v = x[ferrite_position(s, i, narrow)];             \
        y[i] = (EXPR);                                     \
    }

extern "C" __global__ void unary_neg_f32(UNARY_PARAMS(float)) { UNARY_BODY(float, -v) }
extern "C" __global__ void unary_abs_f32(UNARY_PARAMS(float)) { UNARY_BODY(float, fabsf(v)) }
extern "C" __global__ void unary_exp_f32(UNARY_PARAMS(float)) { UNARY_BODY(float, expf(v)) }
extern "C" __global__ void unary_log_f32(UNARY_PARAMS(float)) { UNARY_BODY(float, logf(v)) }
extern "C" __global__ void unary_sqrt_f32(UNARY_PARAMS(float)) { UNARY_BODY(float, sqrtf(v)) }

// Two's complement through unsigned arithmetic: signed overflow (of -i64::MIN) is undefined in C++.
extern "C" __global__ void unary_neg_i64(UNARY_PARAMS(long long)) {
    UNARY_BODY(long long, (long long)(0ULL - (unsigned long long)v))
}
extern "C" __global__ void unary_abs_i64(UNARY_PARAMS(long long)) {
    UNARY_BODY(long long, v < 0 ? (long long)(0ULL - (unsigned long long)v) : v)
}
