// `ferrite export`: saved weights to an ONNX file and its sidecar, run in process through the
// built dist/cjs/cli/index.js, the file checked in onnxruntime-node against Ferrite's forward.
import { mkdtempSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import * as ft from 'ferrite-ml'
import { expectAgreement, runOnnx } from './onnx-support'

type Cli = typeof import('../ts/cli')
type ProtoModule = typeof import('../ts/onnx/onnx-proto')
const load = createRequire(import.meta.url)
const { main } = load(join(__dirname, '..', 'dist', 'cjs', 'cli', 'index.js')) as Cli
const { onnx } = load(join(__dirname, '..', 'dist', 'cjs', 'onnx', 'onnx-proto.js')) as ProtoModule

async function ferrite(...argv: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const status = await main(argv, { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } })
  return { status, stdout, stderr }
}

/** A seeded MyCNN saved as a state dict, with the model itself for comparison. */
function savedMyCNN(dir: string): { model: ft.nn.Module; weights: string } {
  ft.manualSeed(3)
  const model = new ft.models.MyCNN(32, 10).eval()
  const weights = join(dir, 'mycnn.safetensors')
  ft.save(model.stateDict(), weights)
  return { model, weights }
}

describe('ferrite export', () => {
  it('writes the ONNX file, which agrees with Ferrite at any batch size, and the sidecar the browser page reads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferrite-export-'))
    const { model, weights } = savedMyCNN(dir)
    const out = join(dir, 'nested', 'mycnn.onnx')
    const { status, stdout, stderr } = await ferrite('export', '--model', 'mycnn', '--weights', weights, '--out', out, '--dynamic-batch', '--opset', '18')
    expect(stderr).toBe('')
    expect(status).toBe(0)
    expect(stdout).toMatch(/^Wrote .*mycnn\.onnx \(mycnn, opset 18, any batch size, [\d.]+ MB\) and .*mycnn\.json\n$/)
    expect(JSON.parse(readFileSync(join(dir, 'nested', 'mycnn.json'), 'utf8'))).toEqual({
      classes: ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'],
      mean: [0.49, 0.48, 0.45],
      std: [0.25, 0.24, 0.26],
      inputShape: [3, 32, 32],
    })
    const file = onnx.ModelProto.decode(readFileSync(out))
    expect(file.opsetImport.map((o) => Number(o.version))).toEqual([18])
    expect(Object.fromEntries(file.metadataProps.map((p) => [p.key, p.value]))).toEqual({ model: 'mycnn', classes: 'airplane,automobile,bird,cat,deer,dog,frog,horse,ship,truck' })
    const input = ft.randn([3, 3, 32, 32])
    const [actual] = await runOnnx(readFileSync(out), [input])
    expectAgreement(actual, ft.noGrad(() => model.forward(input) as ft.Tensor))
  })

  it('without --dynamic-batch takes one image', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferrite-export-'))
    const { model, weights } = savedMyCNN(dir)
    const out = join(dir, 'fixed.onnx')
    expect((await ferrite('export', '--model', 'mycnn', '--weights', weights, '--out', out)).status).toBe(0)
    const input = ft.randn([1, 3, 32, 32])
    const [actual] = await runOnnx(readFileSync(out), [input])
    expectAgreement(actual, ft.noGrad(() => model.forward(input) as ft.Tensor))
    await expect(runOnnx(readFileSync(out), [ft.randn([2, 3, 32, 32])])).rejects.toThrow()
  })

  it('reports usage errors with status 2 and missing or mismatched weights with status 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferrite-export-'))
    const { weights } = savedMyCNN(dir)
    const out = join(dir, 'x.onnx')
    expect(await ferrite('export', '--model', 'mycnn', '--weights', weights)).toMatchObject({ status: 2, stderr: expect.stringContaining('missing required option --out') })
    expect(await ferrite('export', '--model', 'mycnn', '--weights', weights, '--out', out, '--opset', '12')).toMatchObject({ status: 2, stderr: expect.stringContaining('--opset must be from 13 to 21') })
    expect(await ferrite('export', '--model', 'mycnn', '--weights', join(dir, 'none.safetensors'), '--out', out)).toMatchObject({ status: 1, stderr: expect.stringContaining('weights file not found') })
    expect(await ferrite('export', '--model', 'resnet', '--weights', weights, '--out', out)).toMatchObject({ status: 1, stderr: expect.stringContaining("does not hold weights for model 'resnet'") })
  })

  it('is listed in ferrite --help and has its own help', async () => {
    expect((await ferrite('--help')).stdout).toMatch(/^ {2}export {2,}write a model with saved weights as an ONNX file/m)
    const { stdout } = await ferrite('export', '--help')
    for (const option of ['--model', '--weights', '--out', '--dynamic-batch', '--opset']) expect(stdout).toContain(option)
  })
})
