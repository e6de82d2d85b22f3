/* A fake CUDA driver (libcuda.so.1) for the host-side error paths, built by scripts/test-cuda.mjs
 * with `cc -shared -fPIC` and put first on LD_LIBRARY_PATH of a test process. It exports only
 * what Ferrite's discovery (crates/ferrite-core/src/cuda/mod.rs) calls before it knows whether a
 * GPU is there. Variants, chosen at compile time:
 *
 *   (default)                    cuInit answers CUDA_ERROR_NO_DEVICE, as the real driver does on a
 *                                machine without a GPU or with CUDA_VISIBLE_DEVICES="".
 *   -DFERRITE_FAKE_NO_DEVICE_COUNT cuInit succeeds but cuDeviceGetCount is not exported, as with a
 *                                driver too old for the API Ferrite was built against.
 *   -DFERRITE_FAKE_PARTIAL       one GPU is counted, but cuDeviceGet and everything after it is
 *                                missing: cudarc panics on the first call, and Ferrite's guard must
 *                                turn that panic into a reason.
 */
#include <stddef.h>

typedef int CUresult;
typedef int CUdevice;

enum {
    CUDA_SUCCESS = 0,
    CUDA_ERROR_INVALID_VALUE = 1,
    CUDA_ERROR_NOT_INITIALIZED = 3,
    CUDA_ERROR_NO_DEVICE = 100,
    CUDA_ERROR_INVALID_DEVICE = 101,
};

/* The driver API version this fake claims (13.0), as cuDriverGetVersion encodes it. */
#define FAKE_DRIVER_VERSION 13000

#if defined(FERRITE_FAKE_NO_DEVICE_COUNT) || defined(FERRITE_FAKE_PARTIAL)
#define INIT_RESULT CUDA_SUCCESS
#else
#define INIT_RESULT CUDA_ERROR_NO_DEVICE
#endif

#ifdef FERRITE_FAKE_PARTIAL
#define DEVICES 1
#else
#define DEVICES 0
#endif

CUresult cuInit(unsigned int flags) {
    return flags == 0 ? INIT_RESULT : CUDA_ERROR_INVALID_VALUE;
}

CUresult cuDriverGetVersion(int *version) {
    if (version == NULL) return CUDA_ERROR_INVALID_VALUE;
    *version = FAKE_DRIVER_VERSION;
    return CUDA_SUCCESS;
}

#ifndef FERRITE_FAKE_NO_DEVICE_COUNT
CUresult cuDeviceGetCount(int *count) {
    if (count == NULL) return CUDA_ERROR_INVALID_VALUE;
    *count = DEVICES;
    /* After a failed cuInit the real driver answers every call with the init error. */
    return INIT_RESULT == CUDA_SUCCESS ? CUDA_SUCCESS : CUDA_ERROR_NOT_INITIALIZED;
}
#endif

#ifndef FERRITE_FAKE_PARTIAL
CUresult cuDeviceGet(CUdevice *device, int ordinal) {
    (void)device;
    (void)ordinal;
    return INIT_RESULT == CUDA_SUCCESS ? CUDA_ERROR_INVALID_DEVICE : CUDA_ERROR_NOT_INITIALIZED;
}
#endif

static const char *error_name(CUresult error) {
    switch (error) {
    case CUDA_SUCCESS: return "CUDA_SUCCESS";
    case CUDA_ERROR_INVALID_VALUE: return "CUDA_ERROR_INVALID_VALUE";
    case CUDA_ERROR_NOT_INITIALIZED: return "CUDA_ERROR_NOT_INITIALIZED";
    case CUDA_ERROR_NO_DEVICE: return "CUDA_ERROR_NO_DEVICE";
    case CUDA_ERROR_INVALID_DEVICE: return "CUDA_ERROR_INVALID_DEVICE";
    default: return NULL;
    }
}

/* The real driver's texts for the same codes. */
static const char *error_string(CUresult error) {
    switch (error) {
    case CUDA_SUCCESS: return "no error";
    case CUDA_ERROR_INVALID_VALUE: return "invalid argument";
    case CUDA_ERROR_NOT_INITIALIZED: return "initialization error";
    case CUDA_ERROR_NO_DEVICE: return "no CUDA-capable device is detected";
    case CUDA_ERROR_INVALID_DEVICE: return "invalid device ordinal";
    default: return NULL;
    }
}

CUresult cuGetErrorName(CUresult error, const char **name) {
    if (name == NULL) return CUDA_ERROR_INVALID_VALUE;
    *name = error_name(error);
    return *name ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult cuGetErrorString(CUresult error, const char **text) {
    if (text == NULL) return CUDA_ERROR_INVALID_VALUE;
    *text = error_string(error);
    return *text ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}
