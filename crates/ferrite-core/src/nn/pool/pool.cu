// 2-D pooling of channel planes [planes, h, w] to [planes, oh, ow], for what cuDNN's pooling
// cannot give with the CPU's results: max pooling with the argmax indices (and dilation, and the
// CPU's NaN and tie rules), the gradient through those indices, and average pooling over windows
// cuDNN cannot describe (ceil_mode's extra window, PyTorch's adaptive bins).
//
// The windows along one axis are worked out exactly as `PoolShape`'s `Span`s on the CPU: taps
// `start, start + step, ...` (`count` of them) inside the input, and `padded`, the window's length
// counting padding, for `count_include_pad`. Gradients gather: each input element sums, in output
// order, what every window holding it sends, so no atomics are needed and the sums are added in
// the CPU's order.

// The sizes of one pooling, as `PoolWindow` in cuda.rs passes them (#[repr(C)]). Sliding
// windows: `k*` taps `d*` apart, moved by `s*`, padding `p*`; adaptive bins ignore those four.
struct PoolWindow {
    long long planes;
    int h, w, oh, ow;
    int kh, kw, sh, sw, ph, pw, dh, dw;
    int adaptive;
    int count_padding;
};

struct PoolSpan {
    int start;
    int count;
    int padded;
};

// Output `o` of a sliding window of `k` taps `d` apart, moved by `s`, over an axis of `len`
// values padded by `p` on each side.
__device__ __forceinline__ PoolSpan pool_sliding_span(int o, int k, int s, int p, int d, int len) {
    long long first = (long long)o * s - p;
    long long end = first + (long long)(k - 1) * d + 1;
    if (end > len) {
        end = len;
    }
    // Taps before the input are skipped in whole steps of the dilation.
    long long start = first < 0 ? first + (-first + d - 1) / d * d : first;
    long long count = start < end ? (end - start - 1) / d + 1 : 0;
    long long padded_end = first + k < (long long)len + p ? first + k : (long long)len + p;
    PoolSpan span;
    span.start = count > 0 ? (int)start : 0;
    span.count = (int)count;
    span.padded = (int)(padded_end - first);
    return span;
}

// PyTorch's adaptive bin `o` of `out` over `len`: floor(o * len / out) .. ceil((o + 1) * len / out).
__device__ __forceinline__ PoolSpan pool_adaptive_span(int o, int out, int len) {
    long long start = (long long)o * len / out;
    long long end = ((long long)(o + 1) * len + out - 1) / out;
    PoolSpan span;
    span.start = (int)start;
    span.count = (int)(end - start);
    span.padded = span.count;
    return span;
}

// The window of output `o` along one axis: adaptive bins when `adaptive`, else sliding windows.
__device__ __forceinline__ PoolSpan pool_span(int o, int out, int len, int k, int s, int p, int d,
                                              int adaptive) {
    return adaptive ? pool_adaptive_span(o, out, len) : pool_sliding_span(o, k, s, p, d, len);
}

// The first output whose sliding window (its extent, padding and skipped taps included) can reach
// input `i`, and the last, clamped to the outputs there are.
__device__ __forceinline__ void pool_sliding_outputs(int i, int k, int s, int p, int d, int out,
                                                     int* lo, int* hi) {
    long long reach = (long long)i + p - (long long)(k - 1) * d;
    long long first = reach <= 0 ? 0 : (reach + s - 1) / s;
    long long last = ((long long)i + p) / s;
    *lo = (int)first;
    *hi = (int)(last < out - 1 ? last : out - 1);
}

// The adaptive bins that can hold input `i` of `len` (bins overlap by at most one element).
__device__ __forceinline__ void pool_adaptive_outputs(int i, int len, int out, int* lo, int* hi) {
    long long first = (long long)i * out / len;
    long long last = ((long long)(i + 1) * out + len - 1) / len - 1;
    *lo = (int)first;
    *hi = (int)(last < out - 1 ? last : out - 1);
}

// The maximum of each window and its flat index `y * w + x` in the input plane. NaN wins (the
// last NaN of the window, as the CPU's walk leaves it), ties keep the first, and a window without
// taps gives -inf at its start.
extern "C" __global__ void pool_max_forward_f32(const float* __restrict__ x, float* __restrict__ y,
                                                long long* __restrict__ indices, PoolWindow p) {
    int h = p.h, w = p.w, oh = p.oh, ow = p.ow;
    long long total = p.planes * oh * ow;
    FERRITE_FOR_EACH(i, total) {
        long long plane = i / ((long long)oh * ow);
        int oy = (int)(i / ow % oh);
        int ox = (int)(i % ow);
        PoolSpan ry = pool_sliding_span(oy, p.kh, p.sh, p.ph, p.dh, h);
        PoolSpan rx = pool_sliding_span(ox, p.kw, p.sw, p.pw, p.dw, w);
        const float* in = x + plane * h * w;
        float best = -INFINITY;
        long long at = (long long)ry.start * w + rx.start;
        for (int j = 0; j < ry.count; ++j) {
            long long row = (long long)(ry.start + j * p.dh) * w;
            for (int k = 0; k < rx.count; ++k) {
                long long index = row + rx.start + k * p.dw;
                float v = in[index];
                if (v > best || v != v) {
                    best = v;
                    at = index;
                }
            }
        }
        y[i] = best;
        indices[i] = at;
    }
}

// Max pooling's input gradient: each input element gathers the gradients of the windows that
// picked it, in output order.
extern "C" __global__ void pool_max_backward_f32(const float* __restrict__ dy,
                                                 const long long* __restrict__ indices,
                                                 float* __restrict__ dx, PoolWindow p) {
    int h = p.h, w = p.w, oh = p.oh, ow = p.ow;
    long long total = p.planes * h * w;
    FERRITE_FOR_EACH(i, total) {
        long long plane = i / ((long long)h * w);
        long long at = i % ((long long)h * w);
        int iy = (int)(at / w);
        int ix = (int)(at % w);
        int oy0, oy1, ox0, ox1;
        pool_sliding_outputs(iy, p.kh, p.sh, p.ph, p.dh, oh, &oy0, &oy1);
        pool_sliding_outputs(ix, p.kw, p.sw, p.pw, p.dw, ow, &ox0, &ox1);
        const float* g = dy + plane * oh * ow;
        const long long* picked = indices + plane * oh * ow;
        float sum = 0.0f;
        for (int oy = oy0; oy <= oy1; ++oy) {
            for (int ox = ox0; ox <= ox1; ++ox) {
                long long o = (long long)oy * ow + ox;
                if (picked[o] == at) {
                    sum += g[o];
                }
            }
        }
        dx[i] = sum;
    }
}

// The divisor of an average window: its area with or without the padding it covers.
__device__ __forceinline__ float pool_divisor(PoolSpan ry, PoolSpan rx, int count_padding) {
    return count_padding ? (float)((long long)ry.padded * rx.padded)
                         : (float)((long long)ry.count * rx.count);
}

// Average pooling: each window's sum (row by row, as the CPU adds it) over its divisor; a window
// without taps gives 0. Sliding windows are undilated here, as `avg_pool2d` has no dilation.
extern "C" __global__ void pool_avg_forward_f32(const float* __restrict__ x, float* __restrict__ y,
                                                PoolWindow p) {
    int h = p.h, w = p.w, oh = p.oh, ow = p.ow;
    long long total = p.planes * oh * ow;
    FERRITE_FOR_EACH(i, total) {
        long long plane = i / ((long long)oh * ow);
        int oy = (int)(i / ow % oh);
        int ox = (int)(i % ow);
        PoolSpan ry = pool_span(oy, oh, h, p.kh, p.sh, p.ph, 1, p.adaptive);
        PoolSpan rx = pool_span(ox, ow, w, p.kw, p.sw, p.pw, 1, p.adaptive);
        float out = 0.0f;
        if (ry.count > 0 && rx.count > 0) {
            const float* in = x + plane * h * w + rx.start;
            // Rows are summed in float as on the CPU; their total in double, which is as close
            // as the CPU's lane sums of whole planes (global pooling).
            double sum = 0.0;
            for (int j = 0; j < ry.count; ++j) {
                const float* row = in + (long long)(ry.start + j) * w;
                float row_sum = 0.0f;
                for (int k = 0; k < rx.count; ++k) {
                    row_sum += row[k];
                }
                sum += row_sum;
            }
            out = (float)sum / pool_divisor(ry, rx, p.count_padding);
        }
        y[i] = out;
    }
}

// Average pooling's input gradient: each input element gathers, in output order, every window's
// gradient over that window's divisor.
extern "C" __global__ void pool_avg_backward_f32(const float* __restrict__ dy,
                                                 float* __restrict__ dx, PoolWindow p) {
    int h = p.h, w = p.w, oh = p.oh, ow = p.ow;
    long long total = p.planes * h * w;
    FERRITE_FOR_EACH(i, total) {
        long long plane = i / ((long long)h * w);
        int iy = (int)(i / w % h);
        int ix = (int)(i % w);
        int oy0, oy1, ox0, ox1;
        if (p.adaptive) {
            pool_adaptive_outputs(iy, h, oh, &oy0, &oy1);
            pool_adaptive_outputs(ix, w, ow, &ox0, &ox1);
        } else {
            pool_sliding_outputs(iy, p.kh, p.sh, p.ph, 1, oh, &oy0, &oy1);
            pool_sliding_outputs(ix, p.kw, p.sw, p.pw, 1, ow, &ox0, &ox1);
        }
        const float* g = dy + plane * oh * ow;
        float sum = 0.0f;
        for (int oy = oy0; oy <= oy1; ++oy) {
            PoolSpan ry = pool_span(oy, oh, h, p.kh, p.sh, p.ph, 1, p.adaptive);
            if (iy < ry.start || iy >= ry.start + ry.count) {
                continue;
            }
            for (int ox = ox0; ox <= ox1; ++ox) {
                PoolSpan rx = pool_span(ox, ow, w, p.kw, p.sw, p.pw, 1, p.adaptive);
                if (ix >= rx.start && ix < rx.start + rx.count) {
                    sum += g[(long long)oy * ow + ox] / pool_divisor(ry, rx, p.count_padding);
                }
            }
        }
        dx[i] = sum;
    }
}
