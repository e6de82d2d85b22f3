import { IndexOutOfRangeError } from '../errors'
import { markPureForward } from '../inference'
import { checkInt } from '../validate'
import { Module } from './module'

/**
 * A chain of modules run one after another, like `torch.nn.Sequential`. Its children are
 * named `'0'`, `'1'`, ... in the order given, which is how their state-dict keys and printout
 * name them (`conv1.0.weight`).
 *
 * ```ts
 * const block = new nn.Sequential(new nn.Conv2d(3, 16, 3, { padding: 1 }), new nn.BatchNorm2d(16), new nn.ReLU())
 * const y = block.forward(x)
 * ```
 */
export class Sequential extends Module implements Iterable<Module> {
  constructor(...modules: Module[]) {
    super()
    for (const m of modules) this.append(m)
  }

  /** Number of modules in the chain. */
  get length(): number {
    return this.namedChildren().length
  }

  /** The module at `index`; negative indices count from the end, as in PyTorch. */
  at(index: number): Module {
    const children = this.children()
    const i = checkInt('Sequential.at', 'index', index) < 0 ? index + children.length : index
    if (i < 0 || i >= children.length) {
      throw new IndexOutOfRangeError(`Sequential.at: index ${index} is out of range for a Sequential of length ${children.length}`)
    }
    return children[i]
  }

  /** Adds `module` at the end and returns this Sequential. */
  append(module: Module): this {
    this.registerModule(String(this.length), module)
    return this
  }

  /** Iterates the modules in order: `for (const layer of block)`. */
  [Symbol.iterator](): Iterator<Module> {
    return this.children()[Symbol.iterator]()
  }

  /** Passes `input` through every module in turn. */
  forward(input: any): any {
    let out = input
    for (const m of this) out = m.forward(out)
    return out
  }
}

markPureForward(Sequential)
