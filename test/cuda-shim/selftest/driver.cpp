// The shim self-test's driver: a host program that is not instrumented itself and dlopens the
// library, as the Rust tests do (so it needs libasan in LD_PRELOAD too). selftest.mjs runs
//   driver LIB all      the checks that must pass, one "ok NAME" / "FAIL NAME: why" line each
//   driver LIB CASE     one kernel that must abort (the divergent barrier, ASan's catches, ...)
#include <dlfcn.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Shim {
    int (*launch)(const char*, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, void**);
    const char* (*last_error)();
    void (*set_reverse_order)(int);
    int (*kernel_count)();
    const char* (*kernel_name)(int);
    int (*launch_count)(const char*);
    int (*kernel_params)(const char*, unsigned*, int);
    int (*sgemm)(int, int, int, int, int, float, const float*, int, long long, const float*, int, long long, float,
                 float*, int, long long, int);
} shim;

// The layout of ferrite.cuh's Strides (#[repr(C)] in Rust).
struct Strides {
    int rank;
    long long size[8];
    long long stride[8];
    long long offset;
};

template <class F>
void load(void* lib, F& f, const char* name) {
    f = reinterpret_cast<F>(dlsym(lib, name));
    if (!f) {
        std::fprintf(stderr, "driver: %s missing from the library\n", name);
        std::exit(2);
    }
}

struct Dims {
    unsigned x, y, z;
};

int launch(const char* kernel, Dims grid, Dims block, unsigned shared, std::vector<void*> args) {
    return shim.launch(kernel, grid.x, grid.y, grid.z, block.x, block.y, block.z, shared, args.data());
}

void launch_ok(const char* kernel, Dims grid, Dims block, unsigned shared, std::vector<void*> args) {
    if (launch(kernel, grid, block, shared, args) != 0) {
        std::fprintf(stderr, "driver: launch of %s failed: %s\n", kernel, shim.last_error());
        std::exit(2);
    }
}

std::vector<float> ramp(size_t n, float scale) {
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = scale * float((i * 37) % 101) - 20.0f;
    return v;
}

bool close(double got, double want, double rel) { return std::fabs(got - want) <= rel * std::max(1.0, std::fabs(want)); }

// ---- checks: each returns "" when it passes, else why not --------------------------------------
std::string check_block_sums(const char* kernel, unsigned threads) {
    for (int reverse = 0; reverse < 2; ++reverse) {
        shim.set_reverse_order(reverse);
        std::vector<float> x = ramp(1031, 0.5f);
        long long n = (long long)x.size();
        float* xp = x.data();
        std::vector<float> out(5, -1.0f);
        float* op = out.data();
        launch_ok(kernel, {5, 1, 1}, {threads, 1, 1}, 0, {&xp, &op, &n});
        double got = 0, want = 0;
        for (float v : out) got += v;
        for (float v : x) want += v;
        if (!close(got, want, 1e-5)) return "order " + std::to_string(reverse) + ": " + std::to_string(got) + " != " + std::to_string(want);
    }
    return "";
}

// What selftest_warp_ops deposits at lane `src` of the warp starting at `warp_base` (the shim's
// NaN pattern where the lane does not exist).
int lane_value(int warp_base, int lanes, int src) { return src < lanes ? 100 * (warp_base + src) + 7 : 0x7fc0dead; }

int expected_warp_op(int t, int threads, int op) {
    int warp_base = t / 32 * 32, lanes = std::min(32, threads - warp_base), lane = t % 32;
    int seg8 = lane & ~7, seg16 = lane & ~15;
    unsigned ballot = 0;
    for (int l = 0; l < lanes; ++l) ballot |= unsigned(l % 3 == 0) << l;
    switch (op) {
        case 0: return lane_value(warp_base, lanes, 5);
        case 1: return lane_value(warp_base, lanes, seg8 + ((lane + 3) & 7));
        case 2: return lane_value(warp_base, lanes, lane >= 3 ? lane - 3 : lane);
        case 3: return lane_value(warp_base, lanes, lane + 3 < seg16 + 16 ? lane + 3 : lane);
        case 4: return lane_value(warp_base, lanes, lane ^ 16);
        case 5: return int(ballot);
        case 6: return lanes > 30;
        case 7: return lanes < 32;
        case 8: return (lane ^ 1) < lanes ? lane_value(warp_base, lanes, lane ^ 1) : int(0x7ff8deaddeaddeadll >> 33);
        default: return lane_value(warp_base, lanes, lane + 1 < 32 ? lane + 1 : lane);
    }
}

// 48 threads: warp 1 has 16 lanes, so sources 16..31 there read the NaN pattern.
std::string check_warp_ops() {
    const int threads = 48;
    for (int reverse = 0; reverse < 2; ++reverse) {
        shim.set_reverse_order(reverse);
        std::vector<int> out(threads * 10, -1);
        int* op = out.data();
        launch_ok("selftest_warp_ops", {1, 1, 1}, {threads, 1, 1}, 0, {&op});
        for (int t = 0; t < threads; ++t)
            for (int k = 0; k < 10; ++k)
                if (out[t * 10 + k] != expected_warp_op(t, threads, k))
                    return "thread " + std::to_string(t) + " op " + std::to_string(k) + ": " + std::to_string(out[t * 10 + k]) +
                           " != " + std::to_string(expected_warp_op(t, threads, k));
    }
    return "";
}

std::string check_atomics() {
    std::vector<int> x(777);
    for (size_t i = 0; i < x.size(); ++i) x[i] = int((i * 7919) % 1000) - 500;
    long long n = (long long)x.size();
    int acc[4] = {0, -1000000, 1000000, 0};
    unsigned usum = 0;
    unsigned long long ullsum = 0;
    float fsum = 0;
    int* xp = x.data();
    int* ap = acc;
    unsigned* up = &usum;
    unsigned long long* ullp = &ullsum;
    float* fp = &fsum;
    launch_ok("selftest_atomics", {3, 1, 1}, {64, 1, 1}, 0, {&xp, &n, &ap, &up, &ullp, &fp});
    long long sum = 0;
    int mx = -1000000, mn = 1000000;
    for (int v : x) sum += v, mx = std::max(mx, v), mn = std::min(mn, v);
    if (acc[0] != sum || acc[3] != sum) return "int sums " + std::to_string(acc[0]) + ", " + std::to_string(acc[3]);
    if (acc[1] != mx || acc[2] != mn) return "max/min";
    if (usum != unsigned(sum)) return "unsigned sum";
    if (ullsum != (unsigned long long)(sum + 1000 * n)) return "unsigned long long sum";
    if (!close(fsum, double(sum), 1e-6)) return "float sum";
    return "";
}

std::string check_dynamic_shared() {
    for (int reverse = 0; reverse < 2; ++reverse) {
        shim.set_reverse_order(reverse);
        std::vector<float> x = ramp(200, 1.0f), y(200, 0.0f);
        long long n = 200;
        float* xp = x.data();
        float* yp = y.data();
        launch_ok("selftest_dynamic_reverse", {4, 1, 1}, {64, 1, 1}, 64 * 4, {&xp, &yp, &n});
        for (long long i = 0; i < n; ++i) {
            long long block = i / 64, j = block * 64 + (63 - i % 64);
            float want = j < n ? x[size_t(i)] : 0.0f;
            if (j < n && y[size_t(j)] != want) return "element " + std::to_string(j);
        }
    }
    return "";
}

// A transposed 7 x 33 view (of a 33 x 7 matrix with an offset of 3), scaled by 2.
std::string check_strided() {
    std::vector<float> x = ramp(3 + 33 * 7, 1.0f), y(7 * 33, 0.0f);
    Strides s{};
    s.rank = 2;
    s.size[0] = 7, s.size[1] = 33;
    s.stride[0] = 1, s.stride[1] = 7;
    s.offset = 3;
    long long n = 7 * 33;
    float alpha = 2.0f;
    float* xp = x.data();
    float* yp = y.data();
    for (int reverse = 0; reverse < 2; ++reverse) {
        shim.set_reverse_order(reverse);
        launch_ok("selftest_strided_scale", {2, 1, 1}, {32, 1, 1}, 0, {&xp, &s, &yp, &n, &alpha});
        for (int r = 0; r < 7; ++r)
            for (int c = 0; c < 33; ++c)
                if (y[size_t(r * 33 + c)] != 2.0f * x[size_t(3 + r + 7 * c)]) return "element " + std::to_string(r * 33 + c);
    }
    return "";
}

std::string check_transpose() {
    int rows = 37, cols = 45;
    std::vector<float> x = ramp(size_t(rows * cols), 1.0f);
    float* xp = x.data();
    for (int reverse = 0; reverse < 2; ++reverse) {
        shim.set_reverse_order(reverse);
        std::vector<float> y(size_t(rows * cols), -1.0f);
        float* yp = y.data();
        launch_ok("selftest_transpose", {2, 2, 1}, {32, 8, 1}, 0, {&xp, &yp, &rows, &cols});
        for (int r = 0; r < rows; ++r)
            for (int c = 0; c < cols; ++c)
                if (y[size_t(c * rows + r)] != x[size_t(r * cols + c)]) return "element " + std::to_string(r) + "," + std::to_string(c);
    }
    return "";
}

std::string check_macro_kernels() {
    std::vector<float> y(100, 0.0f);
    float* yp = y.data();
    long long n = 100;
    launch_ok("selftest_fill_one", {1, 1, 1}, {64, 1, 1}, 0, {&yp, &n});
    for (float v : y)
        if (v != 1.0f) return "selftest_fill_one";
    launch_ok("selftest_fill_index", {1, 1, 1}, {64, 1, 1}, 0, {&yp, &n});
    for (long long i = 0; i < n; ++i)
        if (y[size_t(i)] != float(i)) return "selftest_fill_index";
    return "";
}

std::string check_unwritten_shared() {
    std::vector<float> out(64, 0.0f);
    float* op = out.data();
    launch_ok("selftest_unwritten_shared", {1, 1, 1}, {64, 1, 1}, 0, {&op});
    for (float v : out)
        if (!std::isnan(v)) return "read " + std::to_string(v) + " instead of the NaN fill";
    return "";
}

// How many of selftest_missing_sync's outputs are right, in the order set now.
int missing_sync_right() {
    std::vector<float> x = ramp(128, 1.0f), y(128, 0.0f);
    float* xp = x.data();
    float* yp = y.data();
    launch_ok("selftest_missing_sync", {1, 1, 1}, {128, 1, 1}, 0, {&xp, &yp});
    int right = 0;
    for (size_t i = 0; i < y.size(); ++i) right += y[i] == x[(i + 1) % x.size()];
    return right;
}

// The bug shows in one order only: forward, thread t reads slot t+1 before thread t+1 wrote it.
std::string check_missing_sync_differs() {
    int right[2];
    for (int reverse = 0; reverse < 2; ++reverse) {
        shim.set_reverse_order(reverse);
        right[reverse] = missing_sync_right();
    }
    if (right[0] == right[1]) return "forward and reverse order gave as many right elements: " + std::to_string(right[0]);
    if (right[0] == 128 || right[1] == 128) return "neither order should be entirely right";
    return "";
}

std::string check_launch_errors() {
    float* nothing = nullptr;
    struct Bad {
        const char* kernel;
        Dims grid, block;
        unsigned shared;
        const char* message;
    } bad[] = {
        {"no_such_kernel", {1, 1, 1}, {1, 1, 1}, 0, "unknown kernel no_such_kernel"},
        {"selftest_unwritten_shared", {1, 1, 1}, {1025, 1, 1}, 0, "block dimensions"},
        {"selftest_unwritten_shared", {1, 1, 1}, {64, 32, 1}, 0, "more than 1024 threads"},
        {"selftest_unwritten_shared", {0, 1, 1}, {64, 1, 1}, 0, "is 0"},
        {"selftest_unwritten_shared", {1, 65536, 1}, {64, 1, 1}, 0, "grid dimensions"},
        {"selftest_unwritten_shared", {1, 1, 1}, {64, 1, 1}, 48 * 1024 + 1, "48 KiB"},
    };
    for (const Bad& b : bad) {
        if (launch(b.kernel, b.grid, b.block, b.shared, {&nothing}) == 0) return std::string("launch succeeded: ") + b.message;
        if (!std::strstr(shim.last_error(), b.message)) return std::string("error \"") + shim.last_error() + "\" lacks \"" + b.message + "\"";
    }
    return "";
}

std::string check_registry(int expected_kernels) {
    if (shim.kernel_count() != expected_kernels) return "kernel_count " + std::to_string(shim.kernel_count());
    for (int i = 1; i < expected_kernels; ++i)
        if (std::strcmp(shim.kernel_name(i - 1), shim.kernel_name(i)) >= 0) return "names not sorted";
    if (shim.kernel_name(expected_kernels) != nullptr || shim.kernel_name(-1) != nullptr) return "name out of range";
    int before = shim.launch_count("selftest_unwritten_shared");
    std::vector<float> out(64);
    float* op = out.data();
    launch_ok("selftest_unwritten_shared", {1, 1, 1}, {64, 1, 1}, 0, {&op});
    if (shim.launch_count("selftest_unwritten_shared") != before + 1) return "launch_count did not count the launch";
    if (shim.launch_count("no_such_kernel") != 0) return "launch_count of an unknown kernel";
    // selftest_strided_scale(const float*, Strides, float*, long long, float)
    unsigned sizes[8] = {};
    unsigned want[5] = {8, unsigned(sizeof(Strides)), 8, 8, 4};
    if (shim.kernel_params("selftest_strided_scale", sizes, 8) != 5 || std::memcmp(sizes, want, sizeof want) != 0)
        return "kernel_params of selftest_strided_scale";
    if (shim.kernel_params("selftest_strided_scale", sizes, 2) != 5 || shim.kernel_params("no_such_kernel", sizes, 8) != -1)
        return "kernel_params with a small capacity or an unknown kernel";
    return "";
}

// Launches from several host threads at once (Rust runs its tests in parallel).
std::string check_threads() {
    std::vector<std::string> errors(4);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&errors, t] {
            for (int i = 0; i < 10 && errors[size_t(t)].empty(); ++i) errors[size_t(t)] = check_block_sums("selftest_warp_sum", 64);
        });
    for (std::thread& t : threads) t.join();
    for (const std::string& e : errors)
        if (!e.empty()) return e;
    return "";
}

// ---- sgemm against a naive row-major product ---------------------------------------------------
// Element (i, q) of batch p's logical A, and (q, j) of its B.
float A(int p, int i, int q) { return 0.25f * float((p * 31 + i * 7 + q * 3) % 13) - 1.0f; }
float B(int p, int q, int j) { return 0.5f * float((p * 17 + q * 5 + j * 11) % 9) - 2.0f; }

std::string check_sgemm() {
    const int m = 7, n = 5, k = 3, batch = 2, pad = 2;
    for (int ta = 0; ta < 2; ++ta)
        for (int tb = 0; tb < 2; ++tb) {
            // Row-major logical A (m x k), B (k x n); stored column-major, transposed or not, with padded leading dims.
            int lda = (ta ? k : m) + pad, ldb = (tb ? n : k) + pad, ldc = m + pad;
            long long sa = (long long)lda * (ta ? m : k) + 1, sb = (long long)ldb * (tb ? k : n) + 3, sc = (long long)ldc * n + 5;
            std::vector<float> a(size_t(sa * batch)), b(size_t(sb * batch)), c(size_t(sc * batch)), want;
            for (int p = 0; p < batch; ++p) {
                for (int i = 0; i < m; ++i)
                    for (int q = 0; q < k; ++q) a[size_t(p * sa + (ta ? q + i * lda : i + q * lda))] = A(p, i, q);
                for (int q = 0; q < k; ++q)
                    for (int j = 0; j < n; ++j) b[size_t(p * sb + (tb ? j + q * ldb : q + j * ldb))] = B(p, q, j);
            }
            for (size_t i = 0; i < c.size(); ++i) c[i] = float(i % 7) - 3.0f;
            want = c;
            float alpha = 1.5f, beta = -0.5f;
            for (int p = 0; p < batch; ++p)
                for (int i = 0; i < m; ++i)
                    for (int j = 0; j < n; ++j) {
                        double s = 0;
                        for (int q = 0; q < k; ++q) s += double(A(p, i, q)) * B(p, q, j);
                        float& w = want[size_t(p * sc + i + j * ldc)];
                        w = float(alpha * s + beta * w);
                    }
            if (shim.sgemm(ta, tb, m, n, k, alpha, a.data(), lda, sa, b.data(), ldb, sb, beta, c.data(), ldc, sc, batch) != 0)
                return std::string("sgemm failed: ") + shim.last_error();
            for (size_t i = 0; i < c.size(); ++i)
                if (!close(c[i], want[i], 1e-6)) return "transa " + std::to_string(ta) + " transb " + std::to_string(tb) + ": element " + std::to_string(i);
        }
    // beta 0 never reads C; a bad leading dimension is an error.
    float a1[1] = {2}, b1[1] = {3}, c1[1] = {NAN};
    if (shim.sgemm(0, 0, 1, 1, 1, 1.0f, a1, 1, 0, b1, 1, 0, 0.0f, c1, 1, 0, 1) != 0 || c1[0] != 6.0f) return "beta 0 read C";
    if (shim.sgemm(0, 0, 4, 1, 1, 1.0f, a1, 3, 0, b1, 1, 0, 0.0f, c1, 4, 0, 1) == 0 || !std::strstr(shim.last_error(), "lda"))
        return "lda < m accepted";
    return "";
}

int run_all(int expected_kernels) {
    std::vector<std::pair<const char*, std::function<std::string()>>> checks = {
        {"registry", [&] { return check_registry(expected_kernels); }},
        {"launch_errors", check_launch_errors},
        {"block_sum_both_orders", [] { return check_block_sums("selftest_block_sum", 256); }},
        {"warp_sum_both_orders", [] { return check_block_sums("selftest_warp_sum", 256); }},
        {"warp_sum_1024_threads", [] { return check_block_sums("selftest_warp_sum", 1024); }},
        {"warp_ops_partial_warp", check_warp_ops},
        {"atomics", check_atomics},
        {"dynamic_shared", check_dynamic_shared},
        {"strided_view", check_strided},
        {"transpose_2d_blocks", check_transpose},
        {"unwritten_shared_is_nan", check_unwritten_shared},
        {"kernels_defined_by_a_macro", check_macro_kernels},
        {"missing_sync_orders_differ", check_missing_sync_differs},
        {"parallel_host_threads", check_threads},
        {"sgemm_four_transposes", check_sgemm},
    };
    int failed = 0;
    for (auto& check : checks) {
        std::string why = check.second();
        if (why.empty()) std::printf("ok %s\n", check.first);
        else std::printf("FAIL %s: %s\n", check.first, why.c_str()), ++failed;
    }
    return failed == 0 ? 0 : 1;
}

// The order FERRITE_SHIM_ORDER picks (no set_reverse_order call), as missing_sync's right outputs.
int run_env_order() {
    std::printf("right %d\n", missing_sync_right());
    return 0;
}

// ---- cases that must abort -------------------------------------------------------------------
int run_fatal(const std::string& name) {
    std::vector<float> y(64, 1.0f);
    float* yp = y.data();
    long long n = 64;
    int big = 2147483600;
    std::vector<int> yi(64);
    int* yip = yi.data();
    if (name == "divergent_barrier") launch_ok("selftest_divergent_barrier", {1, 1, 1}, {64, 1, 1}, 0, {&yp});
    else if (name == "split_barrier") launch_ok("selftest_split_barrier", {1, 1, 1}, {64, 1, 1}, 0, {&yp});
    else if (name == "divergent_shuffle") launch_ok("selftest_divergent_shuffle", {1, 1, 1}, {64, 1, 1}, 0, {&yp});
    else if (name == "shuffle_vs_barrier") launch_ok("selftest_shuffle_vs_barrier", {1, 1, 1}, {64, 1, 1}, 0, {&yp});
    else if (name == "partial_mask") launch_ok("selftest_partial_mask", {1, 1, 1}, {32, 1, 1}, 0, {&yp});
    else if (name == "misaligned_arg") {
        alignas(8) char bytes[16] = {};
        void* misaligned = bytes + 1;  // where a long long cannot be
        launch_ok("selftest_oob_write", {1, 1, 1}, {32, 1, 1}, 0, {&yp, misaligned});
    } else if (name == "oob_write") launch_ok("selftest_oob_write", {1, 1, 1}, {32, 1, 1}, 0, {&yp, &n});
    else if (name == "dynamic_overrun") launch_ok("selftest_dynamic_overrun", {1, 1, 1}, {32, 1, 1}, 32 * 4, {&yp});
    else if (name == "static_overrun") launch_ok("selftest_static_overrun", {1, 1, 1}, {32, 1, 1}, 0, {&yp});
    else if (name == "local_overrun") {
        int index = 4;
        launch_ok("selftest_local_overrun", {1, 1, 1}, {32, 1, 1}, 0, {&yp, &index});
    } else if (name == "stack_overflow") {
        int depth = 100000;
        launch_ok("selftest_stack_overflow", {1, 1, 1}, {2, 1, 1}, 0, {&yp, &depth});
    } else if (name == "int_overflow") launch_ok("selftest_int_overflow", {1, 1, 1}, {64, 1, 1}, 0, {&yip, &big});
    else {
        std::fprintf(stderr, "driver: unknown case %s\n", name.c_str());
        return 2;
    }
    std::printf("driver: %s did not abort\n", name.c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: driver LIB all KERNELS | driver LIB CASE\n");
        return 2;
    }
    void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        std::fprintf(stderr, "driver: %s\n", dlerror());
        return 2;
    }
    load(lib, shim.launch, "ferrite_shim_launch");
    load(lib, shim.last_error, "ferrite_shim_last_error");
    load(lib, shim.set_reverse_order, "ferrite_shim_set_reverse_order");
    load(lib, shim.kernel_count, "ferrite_shim_kernel_count");
    load(lib, shim.kernel_name, "ferrite_shim_kernel_name");
    load(lib, shim.launch_count, "ferrite_shim_launch_count");
    load(lib, shim.kernel_params, "ferrite_shim_kernel_params");
    load(lib, shim.sgemm, "ferrite_shim_sgemm_strided_batched");
    std::string what = argv[2];
    if (what == "all") return run_all(argc > 3 ? std::atoi(argv[3]) : -1);
    if (what == "env_order") return run_env_order();
    return run_fatal(what);
}
