"""Prints the library folders bench/gpu/run.sh gives Ferrite (FERRITE_CUDA_PATH, and LD_LIBRARY_PATH
so that NVRTC finds its builtins library beside it): the `nvidia/*/lib` folders of PyTorch's CUDA
wheels, so that both frameworks use the same cuBLAS and cuDNN. One exception: an NVRTC newer than
the driver emits PTX the driver refuses, so when the wheel's NVRTC is newer than the CUDA version
nvidia-smi reports, a toolkit folder whose NVRTC is not goes first. Notes go to stderr.

    python3 bench/gpu/cuda_path.py        # prints folder:folder:...
"""

import ctypes
import glob
import os
import re
import subprocess
import sys

TOOLKIT = ['/usr/local/cuda/lib64', '/usr/local/cuda/targets/x86_64-linux/lib']


def note(message):
    print(f'cuda_path.py: {message}', file=sys.stderr)


def wheel_folders():
    try:
        import torch
    except ImportError:
        note('no torch in this Python; Ferrite searches on its own')
        return []
    site = os.path.dirname(os.path.dirname(torch.__file__))
    return sorted(glob.glob(os.path.join(site, 'nvidia', '*', 'lib')))


def driver_cuda_version():
    """(major, minor) of 'CUDA Version: 13.0' in nvidia-smi's header, or None."""
    try:
        out = subprocess.run(['nvidia-smi'], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r'CUDA Version:\s*(\d+)\.(\d+)', out)
    return (int(m.group(1)), int(m.group(2))) if m else None


def nvrtc_version(folder):
    """(major, minor) that the libnvrtc.so.* in `folder` reports, or None."""
    for path in sorted(glob.glob(os.path.join(folder, 'libnvrtc.so.*'))):
        if 'builtins' in path:
            continue
        try:
            lib = ctypes.CDLL(path)
            major, minor = ctypes.c_int(), ctypes.c_int()
            if lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor)) == 0:
                return major.value, minor.value
        except OSError:
            continue
    return None


def main():
    folders = wheel_folders()
    driver = driver_cuda_version()
    wheel_nvrtc = next((v for v in map(nvrtc_version, folders) if v), None)
    if driver and wheel_nvrtc and wheel_nvrtc > driver:
        usable = [f for f in TOOLKIT if (nvrtc_version(f) or (99, 0)) <= driver]
        if usable:
            note(f'the wheels\' NVRTC {wheel_nvrtc} is newer than the driver\'s CUDA {driver}; {usable[0]} goes first')
            folders = [usable[0], *folders]
        else:
            note(f'the wheels\' NVRTC {wheel_nvrtc} is newer than the driver\'s CUDA {driver}, and no toolkit NVRTC is older')
    print(':'.join(folders))


if __name__ == '__main__':
    main()
