import { readFileSync } from 'node:fs'
import { join } from 'node:path'

/** Ferrite's version, from package.json (three levels up when compiled to dist/cjs/cli/, two from ts/cli/). */
export function version(): string {
  const file = join(__dirname, __filename.endsWith('.ts') ? '../..' : '../../..', 'package.json')
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version
}
