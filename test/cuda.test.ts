// ft.cuda: library discovery, the GPU list and device errors. These run on every machine; on one
// without an NVIDIA driver they check that nothing throws and that every error names the missing
// piece and the fix.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'

const ROOT = join(__dirname, '..')
const LIBRARIES = ['CUDA driver', 'NVML', 'cuBLAS', 'cuDNN', 'NVRTC']

describe('ft.cuda', () => {
  it('answers without throwing, and agrees with itself', () => {
    const available = ft.cuda.isAvailable()
    const info = ft.cuda.info()
    expect(info.available).toBe(available)
    expect(info.libraries.map((l) => l.name)).toEqual(LIBRARIES)
    for (const library of info.libraries) {
      // Each library is either loaded (with a path) or missing (with a reason and a fix).
      expect(library.path === null, library.name).toBe(library.problem !== null)
      if (library.problem !== null) expect(library.problem).toMatch(/install|failed to load/)
    }
    if (available) {
      expect(info.unavailableReason).toBeNull()
      expect(ft.cuda.deviceCount()).toBeGreaterThan(0)
    } else {
      expect(info.unavailableReason).toMatch(/\w/)
      expect(ft.cuda.deviceCount()).toBe(0)
      expect(ft.cuda.autoDevice()).toBe('cpu')
    }
  })

  it('reports allocator statistics and TF32 switches like torch.cuda and torch.backends', () => {
    const stats = ft.cuda.memoryStats('cuda:0')
    expect(Object.keys(stats).sort()).toEqual(['allocated', 'driverAllocations', 'peakAllocated', 'peakReserved', 'requests', 'reserved'])
    expect(ft.cuda.memoryAllocated()).toBe(stats.allocated)
    expect(ft.cuda.memoryReserved(0)).toBe(stats.reserved)
    expect(ft.cuda.maxMemoryAllocated('cuda')).toBeGreaterThanOrEqual(stats.allocated)
    expect(() => ft.cuda.memoryAllocated('gpu:0' as ft.DeviceName)).toThrow(/expected a CUDA device/)
    ft.cuda.emptyCache()
    ft.cuda.resetPeakMemoryStats()
    if (!ft.cuda.isAvailable()) {
      expect(stats.reserved).toBe(0)
      expect(() => ft.cuda.synchronize()).toThrow(ft.DeviceUnavailableError)
    }
    // PyTorch's defaults: TF32 for cuDNN convolutions, not for matmul.
    expect(ft.backends.cudnn.allowTf32).toBe(true)
    expect(ft.backends.cuda.matmul.allowTf32).toBe(false)
    ft.backends.cuda.matmul.allowTf32 = true
    expect(ft.backends.cuda.matmul.allowTf32).toBe(true)
    ft.backends.cuda.matmul.allowTf32 = false
    ft.backends.cudnn.allowTf32 = false
    expect(ft.backends.cudnn.allowTf32).toBe(false)
    ft.backends.cudnn.allowTf32 = true
    expect(ft.backends.cudnn.benchmark).toBe(true)
    ft.backends.cudnn.benchmark = false
    expect(ft.backends.cudnn.benchmark).toBe(false)
    ft.backends.cudnn.benchmark = true
  })

  it('lists GPUs with nvidia-smi readings and picks the one with the most free memory', () => {
    const gpus = ft.cuda.devices()
    expect(ft.cuda.info().gpus).toBe(gpus.length)
    for (const gpu of gpus) {
      expect(gpu.memoryTotal).toBeGreaterThan(0)
      if (gpu.memoryUsed !== null) expect(gpu.memoryFree).toBe(gpu.memoryTotal - gpu.memoryUsed)
    }
    const withReadings = gpus.filter((g) => g.memoryFree !== null)
    const freest = ft.cuda.freestDevice()
    if (withReadings.length === 0) {
      expect(freest).toBeNull()
    } else {
      const most = Math.max(...withReadings.map((g) => g.memoryFree!))
      expect(freest).toBe(`cuda:${withReadings.find((g) => g.memoryFree === most)!.index}`)
    }
  })

  it.skipIf(ft.cuda.isAvailable())('refuses cuda:N with a DeviceUnavailableError that says why', () => {
    const reason = ft.cuda.info().unavailableReason!
    const attempts = [
      () => ft.randn([2, 2], { device: 'cuda:0' }),
      () => ft.zeros([2], { device: 'cuda' }),
      () => ft.tensor([1, 2]).to('cuda:1'),
      () => new ft.nn.Conv2d(1, 1, 3).to('cuda:0'),
    ]
    for (const attempt of attempts) {
      expect(attempt).toThrow(ft.DeviceUnavailableError)
      expect(attempt).toThrow(reason)
    }
  })

  it('names a library that is present but broken, in a fresh process', () => {
    // A file named like cuDNN that is not a library, on FERRITE_CUDA_PATH.
    const folder = mkdtempSync(join(tmpdir(), 'ferrite-cuda-'))
    writeFileSync(join(folder, process.platform === 'win32' ? 'cudnn64_9.dll' : 'libcudnn.so.9'), 'not a library')
    const script = `const ft = require(${JSON.stringify(join(ROOT, 'dist', 'cjs'))}); console.log(JSON.stringify(ft.cuda.info().libraries.find((l) => l.name === 'cuDNN')))`
    // Only node on PATH, so no python3 points the search at wheels holding a real cuDNN.
    const env = { ...process.env, FERRITE_CUDA_PATH: folder, PATH: dirname(process.execPath), LD_LIBRARY_PATH: '', VIRTUAL_ENV: '', CONDA_PREFIX: '' }
    const cudnn = JSON.parse(execFileSync(process.execPath, ['-e', script], { env, encoding: 'utf8' }))
    // Where the system loader (or CUDA_HOME) has a real cuDNN, that one is loaded instead.
    if (cudnn.path === null) expect(cudnn.problem).toMatch(new RegExp(`found but failed to load: ${folder}.*libcudnn`))
    else expect(cudnn.version).toMatch(/^9\./)
  })
})
