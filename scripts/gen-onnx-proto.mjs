// Regenerates ts/onnx/onnx-proto.{js,d.ts}, the static protobuf module the ONNX exporter encodes
// with, from ts/onnx/onnx.proto (ONNX's own onnx.proto, copied unchanged from the `onnx` Python
// package 1.23.2). Run `npm run gen:onnx-proto` after replacing the .proto; commit all three files.
//
//   pbjs -t static-module -w commonjs -r ferrite-onnx --no-verify --no-convert --no-delimited \
//        --no-typeurl --no-service [--no-comments] -o <out.js> ts/onnx/onnx.proto
//   pbts -o ts/onnx/onnx-proto.d.ts <the commented out.js>
//
// pbts reads the types from the JSDoc comments, so it runs on a commented build; the shipped .js
// is the same code without them, at half the size. The module requires only `protobufjs/minimal`
// at run time; scripts/build-esm.mjs copies it into dist/ beside the compiled TypeScript.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const cli = (name) => require.resolve(`protobufjs-cli/bin/${name}`);

function run(script, args) {
  const result = spawnSync(process.execPath, [cli(script), ...args], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`${script} ${args.join(' ')} exited ${result.status}`);
}

const proto = 'ts/onnx/onnx.proto';
const js = 'ts/onnx/onnx-proto.js';
const flags = ['-t', 'static-module', '-w', 'commonjs', '-r', 'ferrite-onnx', '--no-verify', '--no-convert', '--no-delimited', '--no-typeurl', '--no-service'];
const scratch = mkdtempSync(join(tmpdir(), 'gen-onnx-proto-'));
try {
  const commented = join(scratch, 'onnx-proto.js');
  run('pbjs', [...flags, '-o', commented, proto]);
  run('pbts', ['-o', 'ts/onnx/onnx-proto.d.ts', commented]);
  run('pbjs', [...flags, '--no-comments', '-o', js, proto]);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
console.log(`gen-onnx-proto: wrote ${js} and its .d.ts from ${proto}`);
