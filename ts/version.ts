import { readFileSync } from 'node:fs'
import { join } from 'node:path'

/** Ferrite's version, from package.json (two levels up when compiled to dist/cjs/, one from ts/). */
export function version(): string {
  const file = join(__dirname, __filename.endsWith('.ts') ? '..' : '../..', 'package.json')
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version
}
