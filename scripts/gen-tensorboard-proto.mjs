// Regenerates ts/tensorboard/proto.js and proto.d.ts, the static protobufjs module of
// ts/tensorboard/tensorboard.proto, with protobufjs-cli. Run after editing the .proto and commit all three:
//   node scripts/gen-tensorboard-proto.mjs
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const dir = 'ts/tensorboard'
const run = (bin, args) => execFileSync(`${root}node_modules/.bin/${bin}`, args, { cwd: root, stdio: 'inherit' })

// A named root keeps this module's types apart from other generated modules in protobufjs's shared registry.
run('pbjs', [
  '--target', 'static-module', '--wrap', 'commonjs', '--root', 'tensorboard',
  '--no-create', '--no-verify', '--no-convert', '--no-delimited', '--no-typeurl', '--no-service',
  '--out', `${dir}/proto.js`, `${dir}/tensorboard.proto`,
])
run('pbts', ['--no-comments', '--out', `${dir}/proto.d.ts`, `${dir}/proto.js`])
