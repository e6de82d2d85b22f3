// Internal: the napi-rs addon, via the generated loader <pkg>/native/index.js (which tries the
// local native/ferrite.<platform>.node, then the ferrite-ml-<platform> package). Compiled, this file
// is dist/cjs/native.js (loader two levels up); run from source (tsx, tsconfig "paths") it is
// ts/native.ts (one level up). The build copies native/index.d.ts to dist/native/ so that
// `../native/index` also resolves from the emitted declarations in dist/types/.
import type * as Native from '../native/index'
import { fromNativeError, NativeBindingError } from './errors'

export type { NativeImageFiles, NativeImageSet, NativeTracedGraph, TensorHandle } from '../native/index'

/* eslint-disable @typescript-eslint/no-require-imports */
const packageRoot = __filename.endsWith('.ts') ? '..' : '../..'
const binding = loadBinding()

function loadBinding(): typeof Native {
  try {
    return require(`${packageRoot}/native/index.js`)
  } catch (error) {
    const platform = platformName()
    const { name, napi, optionalDependencies = {} } = require(`${packageRoot}/package.json`) as {
      name: string
      napi: { binaryName: string }
      optionalDependencies?: Record<string, string>
    }
    const expected = `${name}-${platform}`
    const prebuilt = Object.keys(optionalDependencies).map((p) => p.slice(name.length + 1))
    const advice = prebuilt.includes(platform)
      ? `npm installs '${expected}' as an optional dependency of '${name}'. If it is missing from ` +
        `node_modules, the cause is usually npm's optional-dependency bug ` +
        `(https://github.com/npm/cli/issues/4828, a package-lock.json written on another platform): ` +
        `delete node_modules and package-lock.json, then run \`npm install\` again.`
      : `No prebuilt binary is published for ${platform} (prebuilt: ${prebuilt.join(', ')}); ` +
        `build it from source instead, as the README's "Building from source and contributing" section describes.`
    throw new NativeBindingError(
      `cannot load ${name}'s native addon for ${platform}: looked for a local build ` +
        `(native/${napi.binaryName}.${platform}.node) and the package '${expected}'. ${advice}`,
      { cause: error },
    )
  }
}

/** napi-rs's platform suffix for this process: `linux-x64-gnu`, `darwin-arm64`, `win32-x64-msvc`... */
function platformName(): string {
  const base = `${process.platform}-${process.arch}`
  if (process.platform === 'win32') return `${base}-msvc`
  if (process.platform !== 'linux') return base
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header
  return `${base}-${header?.glibcVersionRuntime ? 'gnu' : 'musl'}`
}

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown

/** Rethrows the addon's errors as the typed `FerriteError` subclass named by their `code`. */
function typedErrors(f: AnyFunction): AnyFunction {
  return function (this: unknown, ...args: unknown[]) {
    try {
      return f.apply(this, args)
    } catch (error) {
      throw fromNativeError(error)
    }
  }
}

// Wrapped once here, so that no call site needs its own try/catch. Classes keep their identity:
// their methods, accessors and static factories are wrapped in place.
function wrapMembers(target: object): void {
  for (const name of Object.getOwnPropertyNames(target)) {
    if (name === 'constructor' || name === 'prototype' || name === 'length' || name === 'name') continue
    const d = Object.getOwnPropertyDescriptor(target, name)!
    if (!d.configurable) continue
    if (typeof d.value === 'function') d.value = typedErrors(d.value)
    if (d.get) d.get = typedErrors(d.get)
    if (d.set) d.set = typedErrors(d.set)
    Object.defineProperty(target, name, d)
  }
}

const members = binding as unknown as Record<string, unknown>
for (const [name, value] of Object.entries(members)) {
  if (typeof value !== 'function') continue
  if (/^Native[A-Z]/.test(name)) {
    const native = value as new (...args: never[]) => object
    const statics = native as unknown as Record<string, unknown>
    wrapMembers(native.prototype)
    // napi defines static factories as non-configurable, so they are re-typed on a subclass.
    const factories = Object.getOwnPropertyNames(native).filter((k) => k !== 'prototype' && typeof statics[k] === 'function')
    if (factories.length > 0) {
      const typed = class extends native {}
      for (const k of factories) Object.defineProperty(typed, k, { value: typedErrors((statics[k] as AnyFunction).bind(native)) })
      Object.defineProperty(typed, 'name', { value: name })
      members[name] = typed
    }
  } else {
    members[name] = typedErrors(value as AnyFunction)
  }
}

export const native = binding
