import { InvalidArgumentError } from './errors'
import { native } from './native'
import { Tensor } from './tensor'
import { describe } from './validate'

/** Options of {@link save}. */
export interface SaveOptions {
  /** Free-form string pairs stored in the file's header (`__metadata__`), e.g. `{ format: 'pt' }`. */
  metadata?: Record<string, string>
}

/**
 * Writes named tensors (usually `model.stateDict()`) to a `.safetensors` file, which PyTorch
 * reads with `safetensors.torch.load_file`. The file is written next to `path` under a
 * temporary name and renamed over it once complete, so an existing file is never left
 * half-written; temporary files that killed saves left next to `path` are removed by the next
 * save to it. Files that cannot be written throw an `IoError` naming the path, and a tensor
 * named `__metadata__` (the header's reserved key) an `InvalidArgumentError`.
 *
 * ```ts
 * ft.save(model.stateDict(), 'mycnn.safetensors')
 * ```
 */
export function save(stateDict: Record<string, Tensor>, path: string, { metadata }: SaveOptions = {}): void {
  if (typeof path !== 'string') throw new InvalidArgumentError(`save: path must be a string, got ${describe(path)}`)
  for (const [key, value] of Object.entries(metadata ?? {})) {
    if (typeof value !== 'string') throw new InvalidArgumentError(`save: metadata values must be strings, got ${describe(value)} for key '${key}'`)
  }
  const names = Object.keys(stateDict)
  const tensors = names.map((name) => {
    const t: unknown = stateDict[name]
    if (!(t instanceof Tensor)) throw new InvalidArgumentError(`save: the value of '${name}' is ${describe(t)}, not a Tensor`)
    return t.handle
  })
  native.saveSafetensors(names, tensors, path, metadata)
}

/**
 * Reads every tensor of a `.safetensors` file (one written by {@link save}, or by PyTorch's
 * `safetensors.torch.save_file`) into `{ name: tensor }`, for `model.loadStateDict`. float32,
 * bfloat16, int64 and bool tensors load as they are; float16 (exactly) and float64 (rounded, as
 * `loadStateDict` into a float32 parameter would anyway) load as float32; the other integer
 * types as int64. `loadStateDict` converts to each parameter's dtype, as PyTorch's does (a
 * bfloat16 file into a float32 model gives float32 parameters). Keys come sorted by name, as
 * safetensors stores them, not in the model's order (`loadStateDict` matches by name, so this
 * does not matter). A missing, truncated or corrupt file, or a tensor of a dtype Ferrite cannot
 * hold (float8, complex), throws an `IoError` naming the file and the tensor.
 *
 * ```ts
 * model.loadStateDict(ft.load('mycnn.safetensors'))
 * ```
 */
export function load(path: string): Record<string, Tensor> {
  if (typeof path !== 'string') throw new InvalidArgumentError(`load: path must be a string, got ${describe(path)}`)
  const out: Record<string, Tensor> = {}
  for (const { name, tensor } of native.loadSafetensors(path)) out[name] = new Tensor(tensor)
  return out
}

/** The string metadata saved in a safetensors file's header (`{}` when there is none). */
export function loadMetadata(path: string): Record<string, string> {
  if (typeof path !== 'string') throw new InvalidArgumentError(`loadMetadata: path must be a string, got ${describe(path)}`)
  return native.loadSafetensorsMetadata(path)
}
