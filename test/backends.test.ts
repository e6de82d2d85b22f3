// ft.backends: which kernels this machine runs, against what /proc/cpuinfo says of it.
import { existsSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'

describe('ft.backends.cpu', () => {
  it('names the CPU kernel of bf16 products after the CPU flags and vendor', () => {
    const kernel = ft.backends.cpu.bf16Kernel()
    expect(kernel === null).toBe(!ft.backends.cpu.hasBf16Kernels())
    expect(kernel === null).toBe(ft.backends.cpu.float32Reason() !== null)
    if (!existsSync('/proc/cpuinfo') || process.env.FERRITE_CPU_BF16 !== undefined || process.env.FERRITE_CPU_AMX !== undefined) return
    const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8')
    const flags = cpuinfo.match(/^flags\s*:(.*)$/m)?.[1].split(' ') ?? []
    const intel = cpuinfo.match(/^vendor_id\s*:\s*(\S+)/m)?.[1] === 'GenuineIntel'
    const amx = flags.includes('amx_bf16') && flags.includes('amx_tile')
    // vdpbf16ps only pays where it issues as often as a float32 FMA: not on Intel's cores.
    const expected = amx ? 'amx' : flags.includes('avx512_bf16') && !intel ? 'avx512-bf16' : null
    expect(kernel).toBe(expected)
    if (expected === null) expect(ft.backends.cpu.float32Reason()).toMatch(intel && flags.includes('avx512_bf16') ? /Intel CPU without AMX/ : /no AVX512-BF16/)
  })

  it('warns once, saying why, where autocast computes in float32', async () => {
    const why = ft.backends.cpu.float32Reason()
    const warnings: string[] = []
    const listen = (warning: Error) => warnings.push(warning.message)
    process.on('warning', listen)
    ft.autocast({}, () => 0)
    ft.autocast({}, () => 0)
    await new Promise((resolve) => setImmediate(resolve))
    process.off('warning', listen)
    const expected = why === null ? [] : [`autocast: ${why}, so convolutions and matrix products run in float32`]
    expect(warnings.filter((message) => message.startsWith('autocast:'))).toEqual(expected)
  })
})
