// Elementwise ops of two tensors broadcast to one shape: each operand is read through its own
// strides (0 along broadcast dims, so no broadcast operand is materialised) into a dense output.
// Both operands were promoted to one kernel dtype on the host side; the semantics are the CPU
// kernels' (ops/binary/cpu.rs): wrapping int64 arithmetic, NaN-propagating float maximum/minimum,
// int64 pow by repeated wrapping multiplication, bool as 0 or 1 in a byte.

// Every binary kernel has these parameters (T in, U out) and this body, combining `x` and `y`.
#define BINARY_PARAMS(T, U) \
    const T* __restrict__ a, Strides as, const T* __restrict__ b, Strides bs, U* __restrict__ out, long long n
#define BINARY_BODY(T, EXPR)                               \
    bool narrow = n <= 0x7fffffffLL;                       \
    FERRITE_FOR_EACH(i, n) {                               \
        long long pa, pb;                                  \
        ferrite_positions(as, bs, i, narrow, pa, pb);       \
        T x = a[pa];                                       \
        T y = b[pb];                                       \
        out[i] = (EXPR);                                   \
    }

// NaN wins (x + y is NaN when either is), else the larger; on equal values y, as on the CPU.
__device__ __forceinline__ float binary_max_nan(float x, float y) {
    return (x != x || y != y) ? x + y : (x > y ? x : y);
}

__device__ __forceinline__ float binary_min_nan(float x, float y) {
    return (x != x || y != y) ? x + y : (x < y ? x : y);
}

extern "C" __global__ void binary_add_f32(BINARY_PARAMS(float, float)) { BINARY_BODY(float, x + y) }
extern "C" __global__ void binary_sub_f32(BINARY_PARAMS(float, float)) { BINARY_BODY(float, x - y) }
extern "C" __global__ void binary_mul_f32(BINARY_PARAMS(float, float)) { BINARY_BODY(float, x * y) }
extern "C" __global__ void binary_div_f32(BINARY_PARAMS(float, float)) { BINARY_BODY(float, x / y) }
extern "C" __global__ void binary_pow_f32(BINARY_PARAMS(float, float)) {
    BINARY_BODY(float, powf(x, y))
}
extern "C" __global__ void binary_maximum_f32(BINARY_PARAMS(float, float)) {
    BINARY_BODY(float, binary_max_nan(x, y))
}
extern "C" __global__ void binary_minimum_f32(BINARY_PARAMS(float, float)) {
    BINARY_BODY(float, binary_min_nan(x, y))
}
extern "C" __global__ void binary_eq_f32(BINARY_PARAMS(float, unsigned char)) {
    BINARY_BODY(float, (unsigned char)(x == y))
}
extern "C" __global__ void binary_ne_f32(BINARY_PARAMS(float, unsigned char)) {
    BINARY_BODY(float, (unsigned char)(x != y))
}
extern "C" __global__ void binary_lt_f32(BINARY_PARAMS(float, unsigned char)) {
    BINARY_BODY(float, (unsigned char)(x < y))
}
extern "C" __global__ void binary_le_f32(BINARY_PARAMS(float, unsigned char)) {
    BINARY_BODY(float, (unsigned char)(x <= y))
}
extern "C" __global__ void binary_gt_f32(BINARY_PARAMS(float, unsigned char)) {
    BINARY_BODY(float, (unsigned char)(x > y))
}
extern "C" __global__ void binary_ge_f32(BINARY_PARAMS(float, unsigned char)) {
    BINARY_BODY(float, (unsigned char)(x >= y))
}

// Wrapping arithmetic through unsigned types: signed overflow is undefined in C++.
#define BINARY_WRAP(x, OP, y) (long long)((unsigned long long)(x) OP (unsigned long long)(y))

extern "C" __global__ void binary_add_i64(BINARY_PARAMS(long long, long long)) {
    BINARY_BODY(long long, BINARY_WRAP(x, +, y))
}
extern "C" __global__ void binary_sub_i64(BINARY_PARAMS(long long, long long)) {
    BINARY_BODY(long long, BINARY_WRAP(x, -, y))
}
extern "C" __global__ void binary_mul_i64(BINARY_PARAMS(long long, long long)) {
    BINARY_BODY(long long, BINARY_WRAP(x, *, y))
}
extern "C" __global__ void binary_maximum_i64(BINARY_PARAMS(long long, long long)) {
    BINARY_BODY(long long, x > y ? x : y)
}
extern "C" __global__ void binary_minimum_i64(BINARY_PARAMS(long long, long long)) {
    BINARY_BODY(long long, x < y ? x : y)
}
extern "C" __global__ void binary_eq_i64(BINARY_PARAMS(long long, unsigned char)) {
    BINARY_BODY(long long, (unsigned char)(x == y))
}
extern "C" __global__ void binary_ne_i64(BINARY_PARAMS(long long, unsigned char)) {
    BINARY_BODY(long long, (unsigned char)(x != y))
}
extern "C" __global__ void binary_lt_i64(BINARY_PARAMS(long long, unsigned char)) {
    BINARY_BODY(long long, (unsigned char)(x < y))
}
extern "C" __global__ void binary_le_i64(BINARY_PARAMS(long long, unsigned char)) {
    BINARY_BODY(long long, (unsigned char)(x <= y))
}
extern "C" __global__ void binary_gt_i64(BINARY_PARAMS(long long, unsigned char)) {
    BINARY_BODY(long long, (unsigned char)(x > y))
}
extern "C" __global__ void binary_ge_i64(BINARY_PARAMS(long long, unsigned char)) {
    BINARY_BODY(long long, (unsigned char)(x >= y))
}

// Rust's i64::wrapping_pow with the exponent clamped to [0, u32::MAX], as the CPU kernel does:
// the product modulo 2^64 does not depend on the order of the multiplications.
__device__ __forceinline__ long long binary_wrapping_pow(long long x, long long y) {
    unsigned long long e = y < 0 ? 0ULL : (y > 0xffffffffLL ? 0xffffffffULL : (unsigned long long)y);
    unsigned long long base = (unsigned long long)x;
    unsigned long long acc = 1;
    while (e != 0) {
        if (e & 1ULL) acc *= base;
        base *= base;
        e >>= 1;
    }
    return (long long)acc;
}

// int64 pow; sets *negative when any exponent is negative, which the host turns into the CPU's
// error (every thread that sees one stores the same value, so the stores need no ordering).
extern "C" __global__ void binary_pow_i64(const long long* __restrict__ a, Strides as,
                                          const long long* __restrict__ b, Strides bs,
                                          long long* __restrict__ out, long long n,
                                          int* __restrict__ negative) {
    bool narrow = n <= 0x7fffffffLL;
    FERRITE_FOR_EACH(i, n) {
        long long pa, pb;
        ferrite_positions(as, bs, i, narrow, pa, pb);
        long long y = b[pb];
        if (y < 0) *negative = 1;
        out[i] = binary_wrapping_pow(a[pa], y);
    }
}

// bool: add and maximum are or, mul and minimum are and; false < true.
#define BINARY_BOOL_PARAMS BINARY_PARAMS(unsigned char, unsigned char)
#define BINARY_BOOL_BODY(EXPR) BINARY_BODY(unsigned char, (unsigned char)(EXPR))

extern "C" __global__ void binary_add_bool(BINARY_BOOL_PARAMS) {
    BINARY_BOOL_BODY((x != 0) | (y != 0))
}
extern "C" __global__ void binary_maximum_bool(BINARY_BOOL_PARAMS) {
    BINARY_BOOL_BODY((x != 0) | (y != 0))
}
extern "C" __global__ void binary_mul_bool(BINARY_BOOL_PARAMS) {
    BINARY_BOOL_BODY((x != 0) & (y != 0))
}
extern "C" __global__ void binary_minimum_bool(BINARY_BOOL_PARAMS) {
    BINARY_BOOL_BODY((x != 0) & (y != 0))
}
extern "C" __global__ void binary_eq_bool(BINARY_BOOL_PARAMS) {
    BINARY_BOOL_BODY((x != 0) == (y != 0))
}
extern "C" __global__ void binary_ne_bool(BINARY_BOOL_PARAMS) {
    BINARY_BOOL_BODY((x != 0) != (y != 0))
}
extern "C" __global__ void binary_lt_bool(BINARY_BOOL_PARAMS) {
    BINARY_BOOL_BODY((x == 0) & (y != 0))
}
extern "C" __global__ void binary_le_bool(BINARY_BOOL_PARAMS) {
    BINARY_BOOL_BODY((x == 0) | (y != 0))
}
extern "C" __global__ void binary_gt_bool(BINARY_BOOL_PARAMS) {
    BINARY_BOOL_BODY((x != 0) & (y == 0))
}
extern "C" __global__ void binary_ge_bool(BINARY_BOOL_PARAMS) {
    BINARY_BOOL_BODY((x != 0) | (y == 0))
}
