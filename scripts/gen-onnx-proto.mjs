// Regenerates ts/onnx/onnx-proto.{js,d.ts}, the static protobuf module the ONNX exporter encodes
// with, from ts/onnx/onnx.proto (ONNX's own onnx.proto, copied unchanged from the `onnx` Python
// package 1.23.2). Run `npm run gen:onnx-proto` after replacing the .proto; commit all three files.
//
//   pbjs -t static-module -w commonjs --no-verify --no-delimited --no-typeurl --no-service -r ferrite-onnx \
//        -o ts/onnx/onnx-proto.js ts/onnx/onnx.proto
//   pbts -o ts/onnx/onnx-proto.d.ts ts/onnx/onnx-proto.js
//
// The module requires only `protobufjs/minimal` at run time. scripts/build-esm.mjs copies it
// into dist/ beside the compiled TypeScript.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
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
run('pbjs', ['-t', 'static-module', '-w', 'commonjs', '--no-verify', '--no-delimited', '--no-typeurl', '--no-service', '-r', 'ferrite-onnx', '-o', js, proto]);
run('pbts', ['-o', 'ts/onnx/onnx-proto.d.ts', js]);
console.log(`gen-onnx-proto: wrote ${js} and its .d.ts from ${proto}`);
