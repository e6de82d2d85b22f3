// The CPU shim's scheduler (test only): runs a CUDA launch one block at a time, each CUDA thread a
// fiber (ucontext) on its own guarded stack, switching fibers only at sync points. Threads and
// blocks run in forward or reverse order: each fiber runs until it blocks, so a missing
// __syncthreads gives a different answer in one of the orders. A divergent barrier, a divergent or
// partial-mask warp op, or a deadlock between them prints where and aborts. Launches are
// serialised by a mutex; the exported C ABI is at the bottom (and in the README's list).
#include "shim.hpp"

#include <dlfcn.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define FERRITE_SHIM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FERRITE_SHIM_ASAN 1
#endif
#endif
#if FERRITE_SHIM_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#define FERRITE_SHIM_EXPORT extern "C" __attribute__((visibility("default")))

uint3 threadIdx;
uint3 blockIdx;
dim3 blockDim;
dim3 gridDim;

// The markers around the static __shared__ variables' section (shim.hpp), from the objects that
// build.mjs links first and last.
extern "C" char ferrite_shim_shared_begin[] __attribute__((visibility("hidden")));
extern "C" char ferrite_shim_shared_end[] __attribute__((visibility("hidden")));

namespace ferrite_shim {
namespace {

// ---- registry ---------------------------------------------------------------------------------
struct Kernel {
    std::string name;
    Invoke invoke;
    std::vector<unsigned> param_sizes;
    long long launches = 0;
};

std::map<std::string, Kernel>& registry() {
    static std::map<std::string, Kernel> kernels;
    return kernels;
}

std::vector<const Kernel*>& kernel_list() {
    static std::vector<const Kernel*> list;
    if (list.size() != registry().size()) {
        list.clear();
        for (auto& entry : registry()) list.push_back(&entry.second);
    }
    return list;
}

// ---- fibers -----------------------------------------------------------------------------------
enum State { READY, AT_BARRIER, AT_WARP, DONE };

struct Fiber {
    ucontext_t context;
    char* stack = nullptr;  // usable part, above the guard page
    size_t stack_size = 0;
    void* fake_stack = nullptr;
    uint3 tid{};
    unsigned linear = 0;
    State state = READY;
    const char* file = "";  // where it waits
    int line = 0;
    // What the fiber deposited at its warp op, and what it gets back.
    WarpOp op = WARP_SYNC;
    unsigned mask = 0;
    int size = 0, lane_arg = 0, width = 0;
    uint64_t bits = 0, result = 0;
};

struct LaunchState {
    const Kernel* kernel = nullptr;
    void** args = nullptr;
    unsigned threads = 0;
    std::vector<Fiber> fibers;
    void* dynamic_shared = nullptr;
    bool reverse = false;
};

LaunchState g_launch;
Fiber* g_current = nullptr;
ucontext_t g_scheduler;
void* g_scheduler_fake_stack = nullptr;
const void* g_scheduler_stack_bottom = nullptr;
size_t g_scheduler_stack_size = 0;
std::mutex g_mutex;
// 0 forward, 1 reverse, 2 FERRITE_SHIM_ORDER is neither; -1 until the first launch reads it.
std::atomic<int> g_reverse{-1};
thread_local std::string g_last_error;

// Read once: every stack has this size.
size_t stack_bytes() {
    static const size_t bytes = [] {
        const char* kib = std::getenv("FERRITE_SHIM_STACK_KIB");
        long value = kib ? std::atol(kib) : 0;
        return size_t(value > 0 ? value : 128) * 1024;
    }();
    return bytes;
}

// Stacks live for the process and are reused by every block: the lowest page is a guard, so an
// overflow faults instead of writing over a neighbour.
char* stack_for(unsigned index) {
    static std::vector<char*> stacks;
    static const size_t page = size_t(sysconf(_SC_PAGESIZE));
    while (stacks.size() <= index) {
        void* p = mmap(nullptr, stack_bytes() + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            std::perror("ferrite-shim: mmap of a fiber stack");
            std::abort();
        }
        mprotect(p, page, PROT_NONE);
        stacks.push_back(static_cast<char*>(p) + page);
    }
    return stacks[index];
}

void start_switch(void** fake_stack, const void* bottom, size_t size) {
#if FERRITE_SHIM_ASAN
    __sanitizer_start_switch_fiber(fake_stack, bottom, size);
#else
    (void)fake_stack, (void)bottom, (void)size;
#endif
}

void finish_switch(void* fake_stack, const void** bottom, size_t* size) {
#if FERRITE_SHIM_ASAN
    __sanitizer_finish_switch_fiber(fake_stack, bottom, size);
#else
    (void)fake_stack, (void)bottom, (void)size;
#endif
}

// libc's swapcontext. ASan's interceptor of it clears the shadow of the whole stack it switches
// to, which would wipe the redzones of the frames a parked fiber has live (a local array overrun
// after a barrier would go unseen); the fiber annotations above are what ASan needs instead.
int switch_context(ucontext_t* from, const ucontext_t* to) {
#if FERRITE_SHIM_ASAN
    typedef int (*Swap)(ucontext_t*, const ucontext_t*);
    // Looked up in libc itself: RTLD_NEXT would find the interceptor in libasan, one of our needed libraries.
    static void* libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    static Swap libc_swap = libc ? reinterpret_cast<Swap>(dlsym(libc, "swapcontext")) : nullptr;
    if (!libc_swap) {
        std::fprintf(stderr, "ferrite-shim: libc's swapcontext not found: %s\n", dlerror());
        std::abort();
    }
    return libc_swap(from, to);
#else
    return swapcontext(from, to);
#endif
}

void fiber_main() {
    finish_switch(nullptr, &g_scheduler_stack_bottom, &g_scheduler_stack_size);
    Fiber* self = g_current;
    g_launch.kernel->invoke(g_launch.args);
    self->state = DONE;
    start_switch(nullptr, g_scheduler_stack_bottom, g_scheduler_stack_size);
    switch_context(&self->context, &g_scheduler);
    std::abort();  // a finished fiber is never resumed
}

// From a fiber back to the scheduler, until the scheduler resumes it.
void park(Fiber* self) {
    start_switch(&self->fake_stack, g_scheduler_stack_bottom, g_scheduler_stack_size);
    switch_context(&self->context, &g_scheduler);
    finish_switch(self->fake_stack, &g_scheduler_stack_bottom, &g_scheduler_stack_size);
}

void resume(Fiber* fiber) {
    g_current = fiber;
    threadIdx = fiber->tid;
    start_switch(&g_scheduler_fake_stack, fiber->stack, fiber->stack_size);
    switch_context(&g_scheduler, &fiber->context);
    finish_switch(g_scheduler_fake_stack, nullptr, nullptr);
    g_current = nullptr;
}

// ---- diagnostics ------------------------------------------------------------------------------
const char* op_name(WarpOp op) {
    static const char* names[] = {"__syncwarp",       "__shfl_sync",   "__shfl_up_sync", "__shfl_down_sync",
                                  "__shfl_xor_sync",  "__ballot_sync", "__any_sync",     "__all_sync"};
    return names[op];
}

std::string label(const Fiber& fiber) {
    std::string site = std::string(" (") + fiber.file + ":" + std::to_string(fiber.line) + ")";
    switch (fiber.state) {
        case AT_BARRIER: return "wait at __syncthreads" + site;
        case AT_WARP: return std::string("wait at ") + op_name(fiber.op) + site;
        case DONE: return "finished the kernel";
        default: return "runnable";
    }
}

bool same_site(const Fiber& a, const Fiber& b) { return a.line == b.line && std::strcmp(a.file, b.file) == 0; }

// One line per state: "threads 0-31, 40: wait at __syncthreads".
std::string describe(size_t first, size_t count) {
    std::vector<Fiber>& fibers = g_launch.fibers;
    std::map<std::string, std::string> groups;
    for (size_t i = first; i < first + count;) {
        std::string what = label(fibers[i]);
        size_t j = i;
        while (j + 1 < first + count && label(fibers[j + 1]) == what) ++j;
        std::string& ids = groups[what];
        ids += (ids.empty() ? "" : ", ") + std::to_string(i) + (j > i ? "-" + std::to_string(j) : "");
        i = j + 1;
    }
    std::string out;
    for (auto& group : groups) out += "\n  threads " + group.second + ": " + group.first;
    return out;
}

[[noreturn]] void die(const std::string& what, size_t first, size_t count) {
    std::fprintf(stderr,
                 "ferrite-shim: %s in kernel %s, block (%u, %u, %u) of grid (%u, %u, %u), blockDim (%u, %u, %u) "
                 "(thread numbers are threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z)):%s\n",
                 what.c_str(), g_launch.kernel->name.c_str(), blockIdx.x, blockIdx.y, blockIdx.z, gridDim.x, gridDim.y,
                 gridDim.z, blockDim.x, blockDim.y, blockDim.z, describe(first, count).c_str());
    std::fflush(stderr);
    std::abort();
}

// ---- warps ------------------------------------------------------------------------------------
uint64_t poison(int size) { return size == 8 ? 0x7ff8deaddeaddeadull : 0x7fc0deadull; }

// The lane a shuffle reads (CUDA's rules for `width`): its own lane when the source falls outside
// its segment of `width` lanes.
int source_lane(const Fiber& f, int lane) {
    int base = lane & ~(f.width - 1);
    int src = lane;
    switch (f.op) {
        case SHFL_IDX: src = base + (f.lane_arg & (f.width - 1)); break;
        case SHFL_UP: src = lane - f.lane_arg; break;
        case SHFL_DOWN: src = lane + f.lane_arg; break;
        case SHFL_XOR: src = lane ^ f.lane_arg; break;
        default: break;
    }
    return src < base || src >= base + f.width ? lane : src;
}

void complete_warp(size_t first, size_t lanes) {
    std::vector<Fiber>& fibers = g_launch.fibers;
    const Fiber& lead = fibers[first];
    uint64_t ballot = 0;
    for (size_t lane = 0; lane < lanes; ++lane) {
        const Fiber& f = fibers[first + lane];
        if (f.op != lead.op || f.size != lead.size || f.width != lead.width || !same_site(f, lead))
            die("divergent warp op (the lanes of a warp are at different warp ops)", first, lanes);
        ballot |= uint64_t(f.bits != 0) << lane;
    }
    uint64_t all = lanes == 32 ? 0xffffffffull : (1ull << lanes) - 1;
    for (size_t lane = 0; lane < lanes; ++lane) {
        Fiber& f = fibers[first + lane];
        size_t src = size_t(source_lane(f, int(lane)));
        switch (f.op) {
            case VOTE_BALLOT: f.result = ballot; break;
            case VOTE_ANY: f.result = ballot != 0; break;
            case VOTE_ALL: f.result = ballot == all; break;
            case WARP_SYNC: f.result = 0; break;
            default: f.result = src < lanes ? fibers[first + src].bits : poison(f.size);
        }
        f.state = READY;
    }
}

// After a pass in which every fiber ran until it blocked: releases each warp whose lanes all wait
// at a warp op; a warp where only some do can never complete.
bool release_warps() {
    bool released = false;
    for (size_t first = 0; first < g_launch.threads; first += 32) {
        size_t lanes = std::min<size_t>(32, g_launch.threads - first);
        size_t waiting = 0;
        for (size_t lane = 0; lane < lanes; ++lane) waiting += g_launch.fibers[first + lane].state == AT_WARP;
        if (waiting == 0) continue;
        if (waiting < lanes) die("divergent warp op (not every lane of the warp reached it)", first, lanes);
        complete_warp(first, lanes);
        released = true;
    }
    return released;
}

// ---- blocks -----------------------------------------------------------------------------------
__attribute__((no_sanitize_address)) void poison_static_shared() {
    char* end = ferrite_shim_shared_end;
    if (end < ferrite_shim_shared_begin) {
        std::fprintf(stderr, "ferrite-shim: the shared-memory markers were not linked first and last\n");
        std::abort();
    }
    // Volatile stores: a memset would be checked by ASan against the redzones inside the section.
    char* p = ferrite_shim_shared_begin;
    for (; p < end && uintptr_t(p) % 8 != 0; ++p) *(volatile char*)p = char(0xff);
    for (; p + 8 <= end; p += 8) *(volatile uint64_t*)p = ~uint64_t(0);
    for (; p < end; ++p) *(volatile char*)p = char(0xff);
}

void start_fibers() {
    for (unsigned i = 0; i < g_launch.threads; ++i) {
        Fiber& f = g_launch.fibers[i];
        f = Fiber{};
        f.linear = i;
        f.tid = uint3{i % blockDim.x, (i / blockDim.x) % blockDim.y, i / (blockDim.x * blockDim.y)};
        f.stack = stack_for(i);
        f.stack_size = stack_bytes();
#if FERRITE_SHIM_ASAN
        // The previous block's fiber on this stack never returned from fiber_main: its frame's
        // redzones are still poisoned.
        __asan_unpoison_memory_region(f.stack, f.stack_size);
#endif
        getcontext(&f.context);
        f.context.uc_stack.ss_sp = f.stack;
        f.context.uc_stack.ss_size = f.stack_size;
        f.context.uc_link = nullptr;
        makecontext(&f.context, fiber_main, 0);
    }
}

void run_block() {
    poison_static_shared();
    start_fibers();
    std::vector<Fiber>& fibers = g_launch.fibers;
    for (;;) {
        for (unsigned k = 0; k < g_launch.threads; ++k) {
            Fiber& f = fibers[g_launch.reverse ? g_launch.threads - 1 - k : k];
            if (f.state == READY) resume(&f);
        }
        if (release_warps()) continue;
        unsigned done = 0;
        for (const Fiber& f : fibers) done += f.state == DONE;
        if (done == g_launch.threads) return;
        if (done > 0) die("divergent __syncthreads (some threads finished the kernel while others wait at a barrier)", 0, g_launch.threads);
        for (const Fiber& f : fibers)
            if (!same_site(f, fibers[0])) die("divergent __syncthreads (threads wait at different barriers)", 0, g_launch.threads);
        for (Fiber& f : fibers) f.state = READY;
    }
}

void run_grid(unsigned shared_bytes) {
    unsigned blocks = gridDim.x * gridDim.y * gridDim.z;
    for (unsigned k = 0; k < blocks; ++k) {
        unsigned b = g_launch.reverse ? blocks - 1 - k : k;
        blockIdx = uint3{b % gridDim.x, (b / gridDim.x) % gridDim.y, b / (gridDim.x * gridDim.y)};
        // Exactly shared_bytes, so ASan sees an overrun; 0xff bytes read as NaN until written.
        g_launch.dynamic_shared = std::malloc(shared_bytes);
        std::memset(g_launch.dynamic_shared, 0xff, shared_bytes);
        run_block();
        std::free(g_launch.dynamic_shared);
        g_launch.dynamic_shared = nullptr;
    }
}

std::string check_dims(unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned shared) {
    if (!gx || !gy || !gz || !bx || !by || !bz) return "a grid or block dimension is 0";
    if (bx > 1024 || by > 1024 || bz > 64) return "block dimensions exceed (1024, 1024, 64)";
    if ((unsigned long long)bx * by * bz > 1024) return "more than 1024 threads per block";
    if (gx > 0x7fffffffu || gy > 65535 || gz > 65535) return "grid dimensions exceed (2^31-1, 65535, 65535)";
    if ((unsigned long long)gx * gy * gz > 0xffffffffull) return "more than 2^32-1 blocks (the shim counts blocks in 32 bits)";
    if (shared > 48 * 1024) return "more than 48 KiB of dynamic shared memory (a GPU needs an opt-in attribute for that)";
    return "";
}

int order_from_env() {
    const char* order = std::getenv("FERRITE_SHIM_ORDER");
    if (!order || !*order || std::string(order) == "forward") return 0;
    return std::string(order) == "reverse" ? 1 : 2;
}

int fail(const std::string& message) {
    g_last_error = message;
    return 1;
}

// Constructs the registry first, so that it is destroyed after this runs.
struct CoverageAtExit {
    CoverageAtExit() { kernel_list(); }
    ~CoverageAtExit() {
        const char* path = std::getenv("FERRITE_SHIM_COVERAGE");
        if (!path || !*path) return;
        FILE* file = std::fopen(path, "a");
        if (!file) return;
        for (const Kernel* k : kernel_list())
            if (k->launches > 0) std::fprintf(file, "%s\n", k->name.c_str());
        std::fclose(file);
    }
} g_coverage_at_exit;

}  // namespace

Register::Register(const char* name, Invoke invoke, std::vector<unsigned> param_sizes) {
    Kernel& k = registry()[name];
    if (k.invoke) {
        std::fprintf(stderr, "ferrite-shim: kernel %s is defined twice\n", name);
        std::abort();
    }
    k.name = name;
    k.invoke = invoke;
    k.param_sizes = std::move(param_sizes);
}

void block_barrier(const char* file, int line) {
    Fiber* self = g_current;
    self->file = file;
    self->line = line;
    self->state = AT_BARRIER;
    park(self);
}

uint64_t warp_exchange(WarpOp op, unsigned mask, uint64_t bits, int size, int lane_arg, int width, const char* file, int line) {
    Fiber* self = g_current;
    self->file = file;
    self->line = line;
    if (mask != 0xffffffffu) {
        self->state = AT_WARP;
        self->op = op;
        die("warp op with a partial mask (the shim supports only 0xffffffff)", self->linear, 1);
    }
    if (width < 1 || width > 32 || (width & (width - 1)) != 0) {
        self->state = AT_WARP;
        self->op = op;
        die("warp op with a width that is not a power of 2 up to 32", self->linear, 1);
    }
    self->op = op;
    self->mask = mask;
    self->bits = bits;
    self->size = size;
    self->lane_arg = lane_arg;
    self->width = width;
    self->state = AT_WARP;
    park(self);
    return self->result;
}

void* dynamic_shared() { return g_launch.dynamic_shared; }

}  // namespace ferrite_shim

using namespace ferrite_shim;

FERRITE_SHIM_EXPORT int ferrite_shim_launch(const char* kernel, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                                            unsigned by, unsigned bz, unsigned shared_bytes, void** args) {
    std::lock_guard<std::mutex> lock(g_mutex);
    auto found = registry().find(kernel ? kernel : "");
    if (found == registry().end()) return fail(std::string("unknown kernel ") + (kernel ? kernel : "(null)"));
    std::string bad = check_dims(gx, gy, gz, bx, by, bz, shared_bytes);
    if (!bad.empty()) return fail("launch of " + found->first + ": " + bad);
    if (g_reverse.load() < 0) g_reverse.store(order_from_env());
    if (g_reverse.load() == 2) return fail("FERRITE_SHIM_ORDER must be forward or reverse (or ferrite_shim_set_reverse_order called)");
    found->second.launches += 1;
    g_launch.kernel = &found->second;
    g_launch.args = args;
    g_launch.threads = bx * by * bz;
    g_launch.fibers.resize(g_launch.threads);
    g_launch.reverse = g_reverse.load() == 1;
    gridDim = dim3(gx, gy, gz);
    blockDim = dim3(bx, by, bz);
    run_grid(shared_bytes);
    g_launch.kernel = nullptr;
    return 0;
}

FERRITE_SHIM_EXPORT const char* ferrite_shim_last_error(void) { return g_last_error.c_str(); }

FERRITE_SHIM_EXPORT void ferrite_shim_set_reverse_order(int reverse) { g_reverse.store(reverse ? 1 : 0); }

FERRITE_SHIM_EXPORT int ferrite_shim_kernel_count(void) {
    std::lock_guard<std::mutex> lock(g_mutex);
    return int(kernel_list().size());
}

FERRITE_SHIM_EXPORT const char* ferrite_shim_kernel_name(int i) {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (i < 0 || size_t(i) >= kernel_list().size()) return nullptr;
    return kernel_list()[size_t(i)]->name.c_str();
}

FERRITE_SHIM_EXPORT int ferrite_shim_kernel_params(const char* kernel, unsigned* sizes, int capacity) {
    std::lock_guard<std::mutex> lock(g_mutex);
    auto found = registry().find(kernel ? kernel : "");
    if (found == registry().end()) return -1;
    const std::vector<unsigned>& params = found->second.param_sizes;
    for (size_t i = 0; i < params.size() && int(i) < capacity; ++i) sizes[i] = params[i];
    return int(params.size());
}

FERRITE_SHIM_EXPORT int ferrite_shim_launch_count(const char* kernel) {
    std::lock_guard<std::mutex> lock(g_mutex);
    auto found = registry().find(kernel ? kernel : "");
    return found == registry().end() ? 0 : int(found->second.launches);
}

// ---- cuBLAS reference ---------------------------------------------------------------------------
// cublasSgemmStridedBatched's semantics, column-major: C = alpha * op(A) op(B) + beta * C, with
// op(A) m x k and op(B) k x n, summed in double. As in cuBLAS, C is not read when beta is 0.
namespace {
std::string check_gemm(int transa, int transb, int m, int n, int k, int lda, int ldb, int ldc, int batch) {
    if ((transa != 0 && transa != 1) || (transb != 0 && transb != 1)) return "transa and transb must be 0 (N) or 1 (T)";
    if (m < 0 || n < 0 || k < 0 || batch < 0) return "m, n, k and batch must not be negative";
    if (lda < std::max(1, transa ? k : m)) return "lda is less than the rows of A as stored";
    if (ldb < std::max(1, transb ? n : k)) return "ldb is less than the rows of B as stored";
    if (ldc < std::max(1, m)) return "ldc is less than m";
    return "";
}
}  // namespace

FERRITE_SHIM_EXPORT int ferrite_shim_sgemm_strided_batched(int transa, int transb, int m, int n, int k, float alpha,
                                                           const float* a, int lda, long long stride_a, const float* b,
                                                           int ldb, long long stride_b, float beta, float* c, int ldc,
                                                           long long stride_c, int batch) {
    std::string bad = check_gemm(transa, transb, m, n, k, lda, ldb, ldc, batch);
    if (!bad.empty()) return fail("sgemm_strided_batched: " + bad);
    for (int p = 0; p < batch; ++p) {
        const float* ap = a + p * stride_a;
        const float* bp = b + p * stride_b;
        float* cp = c + p * stride_c;
        for (int j = 0; j < n; ++j) {
            for (int i = 0; i < m; ++i) {
                double sum = 0.0;
                for (int q = 0; q < k; ++q) {
                    double av = transa ? ap[q + (long long)i * lda] : ap[i + (long long)q * lda];
                    double bv = transb ? bp[j + (long long)q * ldb] : bp[q + (long long)j * ldb];
                    sum += av * bv;
                }
                float& out = cp[i + (long long)j * ldc];
                out = float(beta == 0.0f ? double(alpha) * sum : double(alpha) * sum + double(beta) * double(out));
            }
        }
    }
    return 0;
}
