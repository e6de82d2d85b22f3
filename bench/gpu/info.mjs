// The first stage of bench/gpu/run.sh: what Ferrite finds on this machine (ft.cuda.info(): driver,
// CUDA, cuBLAS, cuDNN and NVRTC versions and where each was loaded from) and the GPUs NVML lists.
// Exits 1 when Ferrite cannot place tensors on a GPU, naming the reason.
//
//   node bench/gpu/info.mjs [--json info.json]
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import * as ft from 'ferrite-ml'

const { values: args } = parseArgs({ options: { json: { type: 'string' } } })
const info = ft.cuda.info()
const devices = ft.cuda.devices()
console.log(`CUDA available to Ferrite: ${info.available}${info.available ? '' : ` (${info.unavailableReason})`}`)
console.log(`driver ${info.driverVersion ?? '-'}, CUDA ${info.cudaVersion ?? '-'} (the newest the driver supports), ${info.gpus} GPU(s)`)
for (const lib of info.libraries) {
  console.log(`  ${lib.name.padEnd(12)} ${(lib.version ?? '-').padEnd(12)} ${lib.path ?? `missing: ${lib.problem}`}`)
}
for (const gpu of devices) {
  const gib = (bytes) => (bytes === null ? '?' : (bytes / 2 ** 30).toFixed(1))
  console.log(`  cuda:${gpu.index} ${gpu.name}, ${gib(gpu.memoryUsed)} / ${gib(gpu.memoryTotal)} GiB used, ${gpu.utilization ?? '?'} % busy, ${gpu.temperature ?? '?'} C`)
}
if (args.json) writeFileSync(args.json, JSON.stringify({ ...info, devices }, null, 1))
process.exitCode = info.available ? 0 : 1
