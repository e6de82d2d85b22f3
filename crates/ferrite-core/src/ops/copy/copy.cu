// Strided copies with dtype conversion, the CUDA counterpart of crate::cpu::map_strided: to_dtype,
// contiguous/copy, copy_ and cat read any view through them. Source and destination have the same
// sizes (coalesced together on the host), so one index decomposition serves both. bool is one
// byte holding 0 or 1, as in Rust.

// Rust's `as i64` from f32: truncation toward zero, saturating at the i64 range, NaN to 0. A plain
// C++ cast is undefined outside the range, so the ends are spelled out (-2^63 is an f32 exactly).
__device__ __forceinline__ long long copy_f32_to_i64(float v) {
    if (v != v) return 0;
    if (v >= 9223372036854775808.0f) return 9223372036854775807LL;
    if (v <= -9223372036854775808.0f) return (-9223372036854775807LL - 1);
    return (long long)v;
}

// bfloat16 is held as its bits (no <cuda_bf16.h>: NVRTC gets no headers): the upper half of a
// float32, rounded to nearest even as the CPU's `half::bf16::from_f32`; NaN stays a quiet NaN.
__device__ __forceinline__ unsigned short copy_f32_to_bf16(float v) {
    unsigned int bits = __float_as_uint(v);
    if (v != v) return (unsigned short)((bits >> 16) | 0x40u);
    return (unsigned short)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}
__device__ __forceinline__ float copy_bf16_to_f32(unsigned short v) {
    return __uint_as_float((unsigned int)v << 16);
}

// Every copy kernel has these parameters and this body, converting each element `v` of type S.
#define COPY_PARAMS(S, D) \
    const S* __restrict__ src, Strides s, D* __restrict__ dst, Strides d, long long n
#define COPY_BODY(S, CONVERT)                          \
    bool narrow = n <= 0x7fffffffLL;                   \
    FERRITE_FOR_EACH(i, n) {                           \
        long long ps, pd;                              \
        ferrite_positions(s, d, i, narrow, ps, pd);       \
        S v = src[ps];                                 \
        dst[pd] = (CONVERT);                           \
    }

// float32 source: to int64 as Rust's `as`, to bool as `v != 0` (NaN is true).
extern "C" __global__ void copy_f32_f32(COPY_PARAMS(float, float)) { COPY_BODY(float, v) }
extern "C" __global__ void copy_f32_i64(COPY_PARAMS(float, long long)) {
    COPY_BODY(float, copy_f32_to_i64(v))
}
extern "C" __global__ void copy_f32_bool(COPY_PARAMS(float, unsigned char)) {
    COPY_BODY(float, (unsigned char)(v != 0.0f))
}

extern "C" __global__ void copy_f32_bf16(COPY_PARAMS(float, unsigned short)) {
    COPY_BODY(float, copy_f32_to_bf16(v))
}

// bfloat16 source: widened exactly to float32, and on from there as float32 goes.
extern "C" __global__ void copy_bf16_f32(COPY_PARAMS(unsigned short, float)) {
    COPY_BODY(unsigned short, copy_bf16_to_f32(v))
}
extern "C" __global__ void copy_bf16_bf16(COPY_PARAMS(unsigned short, unsigned short)) {
    COPY_BODY(unsigned short, v)
}
extern "C" __global__ void copy_bf16_i64(COPY_PARAMS(unsigned short, long long)) {
    COPY_BODY(unsigned short, copy_f32_to_i64(copy_bf16_to_f32(v)))
}
extern "C" __global__ void copy_bf16_bool(COPY_PARAMS(unsigned short, unsigned char)) {
    COPY_BODY(unsigned short, (unsigned char)(copy_bf16_to_f32(v) != 0.0f))
}

// int64 source: to float32 rounding to nearest, as Rust's `as`.
extern "C" __global__ void copy_i64_f32(COPY_PARAMS(long long, float)) {
    COPY_BODY(long long, (float)v)
}
extern "C" __global__ void copy_i64_bf16(COPY_PARAMS(long long, unsigned short)) {
    COPY_BODY(long long, copy_f32_to_bf16((float)v))
}
extern "C" __global__ void copy_i64_i64(COPY_PARAMS(long long, long long)) {
    COPY_BODY(long long, v)
}
extern "C" __global__ void copy_i64_bool(COPY_PARAMS(long long, unsigned char)) {
    COPY_BODY(long long, (unsigned char)(v != 0))
}

// bool source: 0 or 1.
extern "C" __global__ void copy_bool_f32(COPY_PARAMS(unsigned char, float)) {
    COPY_BODY(unsigned char, v != 0 ? 1.0f : 0.0f)
}
extern "C" __global__ void copy_bool_bf16(COPY_PARAMS(unsigned char, unsigned short)) {
    COPY_BODY(unsigned char, (unsigned short)(v != 0 ? 0x3f80u : 0u))
}
extern "C" __global__ void copy_bool_i64(COPY_PARAMS(unsigned char, long long)) {
    COPY_BODY(unsigned char, (long long)(v != 0))
}
extern "C" __global__ void copy_bool_bool(COPY_PARAMS(unsigned char, unsigned char)) {
    COPY_BODY(unsigned char, (unsigned char)(v != 0))
}

// Every element of a dense buffer set to one value: scalar operands are made on the device
// this way instead of being copied from the host.
extern "C" __global__ void copy_fill_f32(float* __restrict__ dst, float value, long long n) {
    FERRITE_FOR_EACH(i, n) { dst[i] = value; }
}

// bfloat16 as its bits, widened to an unsigned int argument.
extern "C" __global__ void copy_fill_bf16(unsigned short* __restrict__ dst, unsigned int value, long long n) {
    FERRITE_FOR_EACH(i, n) { dst[i] = (unsigned short)value; }
}

extern "C" __global__ void copy_fill_i64(long long* __restrict__ dst, long long value, long long n) {
    FERRITE_FOR_EACH(i, n) { dst[i] = value; }
}

extern "C" __global__ void copy_fill_bool(unsigned char* __restrict__ dst, int value, long long n) {
    FERRITE_FOR_EACH(i, n) { dst[i] = (unsigned char)(value != 0); }
}
