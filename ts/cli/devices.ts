/** `ferrite devices`: the CPU and the GPUs, like nvidia-smi, and why GPUs cannot be used. */
import { cpus, freemem, totalmem } from 'node:os'
import * as ft from '../index'
import { HELP, type Values } from './arguments'
import type { CliIO, Command } from './command'

export const devices: Command = {
  name: 'devices',
  summary: 'list the CPU and the GPUs, with memory use, utilisation and temperature',
  usage: 'ferrite devices',
  description:
    'Prints a table like nvidia-smi\'s: each device\'s id, name, memory used / total, utilisation and temperature, ' +
    'then the CUDA libraries found and, where GPUs cannot be used, why.',
  options: [HELP],
  run: runDevices,
}

async function runDevices(_values: Values, io: CliIO): Promise<void> {
  const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)}MiB`
  const cores = cpus()
  const rows = [
    ['ID', 'NAME', 'MEMORY-USAGE', 'UTIL', 'TEMP', 'THREADS'],
    ['cpu', cores[0]?.model.trim() || 'unknown CPU', `${mib(totalmem() - freemem())} / ${mib(totalmem())}`, '-', '-', String(ft.getNumThreads())],
  ]
  const gpus = ft.cuda.devices()
  for (const gpu of gpus) {
    rows.push([
      `cuda:${gpu.index}`,
      gpu.name,
      `${gpu.memoryUsed === null ? 'N/A' : mib(gpu.memoryUsed)} / ${mib(gpu.memoryTotal)}`,
      gpu.utilization === null ? 'N/A' : `${gpu.utilization}%`,
      gpu.temperature === null ? 'N/A' : `${gpu.temperature}C`,
      '-',
    ])
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)))
  for (const row of rows) io.stdout.write(`${row.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd()}\n`)
  const info = ft.cuda.info()
  const found = info.libraries.filter((l) => l.path !== null).map((l) => `${l.name} ${l.version ?? '(version unknown)'}`)
  io.stdout.write(`\nCUDA libraries found: ${found.length > 0 ? found.join(', ') : 'none'}\n`)
  if (info.driverVersion !== null) io.stdout.write(`Driver ${info.driverVersion}, CUDA ${info.cudaVersion ?? 'unknown'}\n`)
  if (!info.available) {
    const what = gpus.length > 0 ? 'Ferrite cannot place tensors on these GPUs' : 'no usable NVIDIA GPU'
    io.stdout.write(`${what}: ${info.unavailableReason}\n`)
  } else {
    io.stdout.write(`device 'auto' picks ${ft.cuda.autoDevice()} (the most free memory)\n`)
  }
  io.stdout.write('CPU threads: set RAYON_NUM_THREADS to change.\n')
}
