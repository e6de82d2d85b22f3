// The one kernel matmul needs besides cuBLAS: a strided operand that cuBLAS cannot read (neither
// of its matrix dims has unit stride, or a matrix dim is broadcast) copied into dense row-major
// order first.

extern "C" __global__ void matmul_gather_f32(const float* __restrict__ src, Strides view,
                                             float* __restrict__ dst, long long n) {
    FERRITE_FOR_EACH(i, n) dst[i] = src[ferrite_position(view, i, false)];
}
