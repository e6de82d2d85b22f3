// The CUDA device language, as far as Ferrite's kernels use it, for the CPU shim (test only).
// Force-included before ferrite.cuh and the kernel file, so the source that NVRTC compiles compiles
// here unchanged: `g++ -include shim.hpp -include ferrite.cuh`. Each CUDA thread runs as a fiber
// (shim.cpp schedules them); every sync point below switches fibers, so it is a call into shim.cpp
// that the compiler cannot see through, and the index globals are re-read after it.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <math.h>  // libstdc++'s math.h brings the float overloads (exp(float), ...) into the global namespace, as CUDA has them
#include <type_traits>
#include <utility>
#include <vector>

// ---- qualifiers -------------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __constant__ static
// __restrict__ is a GCC/Clang keyword already.

// Static shared memory: one block runs at a time, so a static per variable is what every thread
// of the block shares. The variables live in a section of their own, between two markers that the
// build links first and last, which the scheduler fills with a NaN pattern before each block: a
// read before any write shows up as NaN, as garbage would on a GPU, and not as the previous
// launch's data. ASan keeps its redzones around them (Clang instruments a section whose name is
// not a C identifier; GCC needs -fsanitize-sections).
#define __shared__ static __attribute__((section("ferrite_shim.shared")))

// ---- indices ----------------------------------------------------------------------------------
struct uint3 {
    unsigned x, y, z;
};
struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

// Set by the scheduler before it resumes each fiber.
extern uint3 threadIdx;
extern uint3 blockIdx;
extern dim3 blockDim;
extern dim3 gridDim;
static const int warpSize = 32;

// ---- the scheduler's entry points (shim.cpp) --------------------------------------------------
namespace ferrite_shim {
enum WarpOp { WARP_SYNC, SHFL_IDX, SHFL_UP, SHFL_DOWN, SHFL_XOR, VOTE_BALLOT, VOTE_ANY, VOTE_ALL };
// `file` and `line` (the caller's, from __builtin_FILE/LINE defaults) say where a thread waits: all
// threads of a block must wait at the same __syncthreads, all lanes of a warp at the same warp op.
void block_barrier(const char* file, int line);
// A warp-wide exchange: every lane of the warp deposits `bits` (size bytes), waits for all lanes,
// and gets back the bits of the lane the op selects (its own where CUDA says so, a NaN pattern when
// the selected lane does not exist in a partial warp); the votes return the ballot over `bits != 0`.
uint64_t warp_exchange(WarpOp op, unsigned mask, uint64_t bits, int size, int lane_arg, int width, const char* file, int line);
void* dynamic_shared();

template <class T>
inline T warp_shuffle(WarpOp op, unsigned mask, T var, int lane_arg, int width, const char* file, int line) {
    static_assert(std::is_arithmetic<T>::value && sizeof(T) <= 8, "warp shuffles move scalars of at most 8 bytes");
    uint64_t bits = 0;
    std::memcpy(&bits, &var, sizeof(T));
    bits = warp_exchange(op, mask, bits, int(sizeof(T)), lane_arg, width, file, line);
    T out;
    std::memcpy(&out, &bits, sizeof(T));
    return out;
}
}  // namespace ferrite_shim

#define FERRITE_DYNAMIC_SHARED(type, name) type* name = static_cast<type*>(::ferrite_shim::dynamic_shared())

// ---- synchronisation --------------------------------------------------------------------------
#define FERRITE_SHIM_SITE const char *file = __builtin_FILE(), int line = __builtin_LINE()
inline void __syncthreads(FERRITE_SHIM_SITE) { ferrite_shim::block_barrier(file, line); }
inline void __syncwarp(unsigned mask = 0xffffffffu, FERRITE_SHIM_SITE) {
    ferrite_shim::warp_exchange(ferrite_shim::WARP_SYNC, mask, 0, 0, 0, warpSize, file, line);
}
inline void __threadfence() {}
inline void __threadfence_block() {}

template <class T>
inline T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize, FERRITE_SHIM_SITE) {
    return ferrite_shim::warp_shuffle(ferrite_shim::SHFL_IDX, mask, var, src_lane, width, file, line);
}
template <class T>
inline T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize, FERRITE_SHIM_SITE) {
    return ferrite_shim::warp_shuffle(ferrite_shim::SHFL_UP, mask, var, int(delta), width, file, line);
}
template <class T>
inline T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize, FERRITE_SHIM_SITE) {
    return ferrite_shim::warp_shuffle(ferrite_shim::SHFL_DOWN, mask, var, int(delta), width, file, line);
}
template <class T>
inline T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize, FERRITE_SHIM_SITE) {
    return ferrite_shim::warp_shuffle(ferrite_shim::SHFL_XOR, mask, var, lane_mask, width, file, line);
}
inline unsigned __ballot_sync(unsigned mask, int predicate, FERRITE_SHIM_SITE) {
    return unsigned(ferrite_shim::warp_exchange(ferrite_shim::VOTE_BALLOT, mask, predicate != 0, 4, 0, warpSize, file, line));
}
inline int __any_sync(unsigned mask, int predicate, FERRITE_SHIM_SITE) {
    return int(ferrite_shim::warp_exchange(ferrite_shim::VOTE_ANY, mask, predicate != 0, 4, 0, warpSize, file, line));
}
inline int __all_sync(unsigned mask, int predicate, FERRITE_SHIM_SITE) {
    return int(ferrite_shim::warp_exchange(ferrite_shim::VOTE_ALL, mask, predicate != 0, 4, 0, warpSize, file, line));
}

// ---- atomics: fibers never preempt each other, so a plain read-modify-write is atomic ----------
// Only the overloads CUDA has, so a kernel using one it lacks fails here as under NVRTC.
#define FERRITE_SHIM_ATOMIC(name, type, expr)          \
    inline type name(type* address, type val) {        \
        type old = *address;                           \
        *address = (expr);                             \
        return old;                                    \
    }
FERRITE_SHIM_ATOMIC(atomicAdd, int, old + val)
FERRITE_SHIM_ATOMIC(atomicAdd, unsigned, old + val)
FERRITE_SHIM_ATOMIC(atomicAdd, unsigned long long, old + val)
FERRITE_SHIM_ATOMIC(atomicAdd, float, old + val)
FERRITE_SHIM_ATOMIC(atomicAdd, double, old + val)
FERRITE_SHIM_ATOMIC(atomicSub, int, old - val)
FERRITE_SHIM_ATOMIC(atomicSub, unsigned, old - val)
FERRITE_SHIM_ATOMIC(atomicExch, int, val)
FERRITE_SHIM_ATOMIC(atomicExch, unsigned, val)
FERRITE_SHIM_ATOMIC(atomicExch, unsigned long long, val)
FERRITE_SHIM_ATOMIC(atomicExch, float, val)
FERRITE_SHIM_ATOMIC(atomicMax, int, old > val ? old : val)
FERRITE_SHIM_ATOMIC(atomicMax, unsigned, old > val ? old : val)
FERRITE_SHIM_ATOMIC(atomicMax, long long, old > val ? old : val)
FERRITE_SHIM_ATOMIC(atomicMax, unsigned long long, old > val ? old : val)
FERRITE_SHIM_ATOMIC(atomicMin, int, old < val ? old : val)
FERRITE_SHIM_ATOMIC(atomicMin, unsigned, old < val ? old : val)
FERRITE_SHIM_ATOMIC(atomicMin, long long, old < val ? old : val)
FERRITE_SHIM_ATOMIC(atomicMin, unsigned long long, old < val ? old : val)
FERRITE_SHIM_ATOMIC(atomicAnd, int, old & val)
FERRITE_SHIM_ATOMIC(atomicAnd, unsigned, old & val)
FERRITE_SHIM_ATOMIC(atomicOr, int, old | val)
FERRITE_SHIM_ATOMIC(atomicOr, unsigned, old | val)
FERRITE_SHIM_ATOMIC(atomicXor, int, old ^ val)
FERRITE_SHIM_ATOMIC(atomicXor, unsigned, old ^ val)
#undef FERRITE_SHIM_ATOMIC

#define FERRITE_SHIM_ATOMIC_CAS(type)                                 \
    inline type atomicCAS(type* address, type compare, type val) {    \
        type old = *address;                                          \
        if (old == compare) *address = val;                           \
        return old;                                                   \
    }
FERRITE_SHIM_ATOMIC_CAS(int)
FERRITE_SHIM_ATOMIC_CAS(unsigned)
FERRITE_SHIM_ATOMIC_CAS(unsigned long long)
#undef FERRITE_SHIM_ATOMIC_CAS

// ---- math -------------------------------------------------------------------------------------
// expf logf sqrtf tanhf fmaxf fminf fabsf powf floorf ceilf fmaf erff ... and INFINITY/NAN come from
// <math.h>; what follows are CUDA's own additions.
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __powf(float x, float y) { return powf(x, y); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __tanf(float x) { return tanf(x); }
inline float __fdividef(float x, float y) { return x / y; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
inline float __fmaf_rn(float x, float y, float z) { return fmaf(x, y, z); }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
inline float exp10f(float x) { return powf(10.0f, x); }
template <class T>
inline T __ldg(const T* p) { return *p; }

inline float __int_as_float(int x) { float f; std::memcpy(&f, &x, 4); return f; }
inline int __float_as_int(float x) { int i; std::memcpy(&i, &x, 4); return i; }
inline float __uint_as_float(unsigned x) { float f; std::memcpy(&f, &x, 4); return f; }
inline unsigned __float_as_uint(float x) { unsigned u; std::memcpy(&u, &x, 4); return u; }
inline double __longlong_as_double(long long x) { double d; std::memcpy(&d, &x, 8); return d; }
inline long long __double_as_longlong(double x) { long long i; std::memcpy(&i, &x, 8); return i; }
inline int __float2int_rn(float x) { return int(nearbyintf(x)); }
inline int __float2int_rz(float x) { return int(x); }
inline int __float2int_rd(float x) { return int(floorf(x)); }
inline int __float2int_ru(float x) { return int(ceilf(x)); }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(unsigned(x)); }
inline int __ffs(int x) { return __builtin_ffs(x); }

// CUDA's min/max: an overload for every pair of arithmetic types, with the usual conversions; on
// floating point they are fminf/fmaxf (a NaN operand loses).
template <class A, class B>
using ferrite_shim_common = typename std::enable_if<std::is_arithmetic<A>::value && std::is_arithmetic<B>::value,
                                                    typename std::common_type<A, B>::type>::type;
template <class A, class B>
inline ferrite_shim_common<A, B> min(A a, B b) {
    typedef ferrite_shim_common<A, B> C;
    if constexpr (std::is_floating_point<C>::value) return std::fmin(C(a), C(b));
    else return C(b) < C(a) ? C(b) : C(a);
}
template <class A, class B>
inline ferrite_shim_common<A, B> max(A a, B b) {
    typedef ferrite_shim_common<A, B> C;
    if constexpr (std::is_floating_point<C>::value) return std::fmax(C(a), C(b));
    else return C(a) < C(b) ? C(b) : C(a);
}

// ---- launch by name ---------------------------------------------------------------------------
// The generated registry (build.mjs) registers each kernel with invoke<&kernel>, which unpacks
// cuLaunchKernel's argument array (args[i] points at the i-th parameter's value), and the sizes of
// its parameters, for the host to check its arguments against.
namespace ferrite_shim {
typedef void (*Invoke)(void** args);
struct Register {
    Register(const char* name, Invoke invoke, std::vector<unsigned> param_sizes);
};

template <class... A>
std::vector<unsigned> param_sizes(void (*)(A...)) {
    return {unsigned(sizeof(A))...};
}

template <class... A, std::size_t... I>
inline void call_unpacked(void (*f)(A...), void** args, std::index_sequence<I...>) {
    f(*static_cast<typename std::remove_reference<A>::type*>(args[I])...);
}
template <class... A>
inline void call(void (*f)(A...), void** args) {
    call_unpacked(f, args, std::index_sequence_for<A...>{});
}
template <auto F>
void invoke(void** args) {
    call(F, args);
}
}  // namespace ferrite_shim
