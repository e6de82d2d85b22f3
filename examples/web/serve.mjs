#!/usr/bin/env node
// A static server for the browser page, using only node:http:
//
//   node examples/web/serve.mjs [model.onnx] [--port 8080] [--host 127.0.0.1]
//
// It serves the page from this folder, onnxruntime-web's dist files under /ort/, and, when a
// model is given (say runs/mycnn.onnx), that file and the sidecar next to it (runs/mycnn.json)
// under their own names (/mycnn.onnx, /mycnn.json) and as /model.onnx and /model.json, the URLs
// the page loads by default. Without a model it serves model.onnx and model.json from this
// folder. Once listening, it prints the page's URL on one line.
import { createReadStream, statSync } from 'node:fs'
import { createServer } from 'node:http'
import { createRequire } from 'node:module'
import { basename, dirname, extname, isAbsolute, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const USAGE = 'usage: node examples/web/serve.mjs [model.onnx] [--port 8080] [--host 127.0.0.1]'

const MIME_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  // Browsers compile WebAssembly while it downloads only when it is served with this type.
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.md': 'text/markdown; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
}

const pageFolder = dirname(fileURLToPath(import.meta.url))
// 'onnxruntime-web/wasm' resolves to a file in the package's dist/, next to the browser builds.
const ortFolder = dirname(createRequire(import.meta.url).resolve('onnxruntime-web/wasm'))

function parseCommandLine(argv) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { port: { type: 'string', default: '8080' }, host: { type: 'string', default: '127.0.0.1' }, help: { type: 'boolean', short: 'h' } },
  })
  if (values.help) {
    console.log(USAGE)
    process.exit(0)
  }
  const port = Number(values.port)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be an integer from 0 to 65535, got ${values.port}\n${USAGE}`)
  if (positionals.length > 1) throw new Error(`expected at most one model file, got ${positionals.length}\n${USAGE}`)
  return { port, host: values.host, model: positionals[0] }
}

/** The sidecar of `model.onnx` is `model.json`, as `ferrite export` writes it. */
const sidecarOf = (modelPath) => modelPath.replace(/\.onnx$/i, '') + '.json'

/** The URL paths of the model and its sidecar, each to its file. */
function modelRoutes(model) {
  if (!model) return new Map()
  const name = basename(model).replace(/\.onnx$/i, '')
  return new Map([
    ['/model.onnx', model],
    ['/model.json', sidecarOf(model)],
    [`/${name}.onnx`, model],
    [`/${name}.json`, sidecarOf(model)],
  ])
}

/** The file a URL path names, or undefined when it names nothing this server shares. */
function fileFor(urlPath, routes) {
  if (routes.has(urlPath)) return routes.get(urlPath)
  if (urlPath === '/') return join(pageFolder, 'index.html')
  const [root, rest] = urlPath.startsWith('/ort/') ? [ortFolder, urlPath.slice('/ort/'.length)] : [pageFolder, urlPath.slice(1)]
  const file = resolve(root, rest)
  // Decoded '..' segments must not climb out of the shared folder.
  const inside = relative(root, file)
  return inside === '' || inside.startsWith('..') || isAbsolute(inside) ? undefined : file
}

function respond(request, response, routes) {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { allow: 'GET, HEAD' }).end()
    return
  }
  let urlPath
  try {
    urlPath = decodeURIComponent(new URL(request.url, 'http://localhost').pathname)
  } catch {
    response.writeHead(400).end('bad URL')
    return
  }
  const file = fileFor(urlPath, routes)
  const stats = file && statSync(file, { throwIfNoEntry: false })
  if (!stats?.isFile()) {
    response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(`not found: ${urlPath}`)
    return
  }
  response.writeHead(200, {
    'content-type': MIME_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
    'content-length': stats.size,
    // A re-exported model under the same name must not be served stale from the cache.
    'cache-control': 'no-cache',
  })
  if (request.method === 'HEAD') response.end()
  else createReadStream(file).pipe(response)
}

let options
try {
  options = parseCommandLine(process.argv.slice(2))
} catch (error) {
  console.error(error.message)
  process.exit(2)
}
const model = options.model && resolve(options.model)
if (model && !statSync(model, { throwIfNoEntry: false })?.isFile()) {
  console.error(`model file not found: ${options.model}`)
  process.exit(1)
}
const routes = modelRoutes(model)
const server = createServer((request, response) => respond(request, response, routes))
server.on('error', (error) => {
  console.error(`cannot serve on ${options.host}:${options.port}: ${error.message}`)
  process.exit(1)
})
server.listen(options.port, options.host, () => {
  const { port } = server.address()
  const host = options.host.includes(':') ? `[${options.host}]` : options.host
  const page = model ? `?model=${encodeURIComponent(basename(model))}` : ''
  console.log(`Serving the Ferrite web demo at http://${host}:${port}/${page}`)
})
