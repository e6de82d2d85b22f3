// `npm run check:cudnn`: checks our cuDNN descriptors and output shapes against the real cuDNN
// library, whose descriptor functions need no GPU (convolution and pooling output dims, batch
// norm's derived channel descriptor). Outside `npm test`: the cuDNN wheel is about half a
// gigabyte. Installs it once into .cache/cudnn with pip, then runs the ignored `cudnn_library`
// tests with FERRITE_CUDA_PATH pointing at it.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../..', import.meta.url))
const target = join(root, '.cache', 'cudnn')
const lib = join(target, 'nvidia', 'cudnn', 'lib')
const WHEEL = 'nvidia-cudnn-cu13'

function run(command, args, options = {}) {
  const r = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options })
  if (r.error) throw r.error
  return r.status === 0
}

if (!existsSync(join(lib, 'libcudnn.so.9'))) {
  console.log(`check:cudnn: installing ${WHEEL} into .cache/cudnn (about 0.5 GB)`)
  if (!run('python3', ['-m', 'pip', 'install', '--quiet', '--no-deps', '--target', target, WHEEL])) {
    console.error(`check:cudnn: pip could not install ${WHEEL}; it needs Python 3 with pip and access to the package index`)
    process.exit(1)
  }
}
const ok = run('cargo', ['test', '-p', 'ferrite-core', '--lib', '--', '--ignored', 'cudnn_library'], {
  env: { ...process.env, FERRITE_CUDA_PATH: lib },
})
process.exit(ok ? 0 : 1)
