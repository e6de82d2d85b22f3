// Classifies the pictures a user chooses or drops with an ONNX model exported by Ferrite, run by
// onnxruntime-web's WebAssembly backend. `?model=<url>` picks the model (default model.onnx);
// its sidecar (the same URL ending in .json, as `ferrite export` writes it) gives the class
// names, the normalisation and the input shape.
import * as ort from './ort/ort.wasm.min.mjs'

const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']
// What `ferrite train` normalises CIFAR-10 with, for models exported without a sidecar.
const DEFAULT_SIDECAR = { classes: CIFAR10_CLASSES, mean: [0.49, 0.48, 0.45], std: [0.25, 0.24, 0.26], inputShape: [3, 32, 32] }
const TOP_K = 3

// A static server cannot send the COOP/COEP headers that threads need, so one thread it is.
ort.env.wasm.numThreads = 1

const statusText = document.getElementById('model-status-text')
const dropZone = document.getElementById('drop-zone')
const fileInput = document.getElementById('file-input')
const results = document.getElementById('results')
const resultsBar = document.querySelector('.results-bar')

const modelUrl = new URL(new URLSearchParams(location.search).get('model') ?? 'model.onnx', location.href)
const classifier = loadClassifier(modelUrl)
// One image at a time: a session runs one call at a time, and the cards fill in order.
let queue = Promise.resolve()

classifier.then(
  ({ sidecar, sidecarFound, inputName, modelInputShape }) => {
    const [, height, width] = sidecar.inputShape
    statusText.textContent =
      `${fileName(modelUrl)} · input “${inputName}” [${modelInputShape.join(', ')}] · ${sidecar.classes.length} classes · ` +
      `onnxruntime-web ${ort.env.versions.web} (wasm)` +
      (sidecarFound ? '' : ` · no ${fileName(sidecarUrlOf(modelUrl))} found: CIFAR-10 classes and normalisation assumed`)
    document.getElementById('input-note').textContent =
      `Any size: each picture is centre-cropped to the model's aspect ratio and scaled to ${width}×${height} pixels, the size of the training images.`
    document.getElementById('class-list').textContent = `Classes: ${sidecar.classes.join(', ')}`
    document.body.dataset.modelState = 'ready'
  },
  (error) => {
    statusText.textContent = `Could not load the model: ${error.message}`
    document.body.dataset.modelState = 'error'
  },
)

fileInput.addEventListener('change', () => {
  classifyFiles(fileInput.files)
  // Choosing the same file again should classify it again.
  fileInput.value = ''
})
for (const type of ['dragenter', 'dragover']) {
  dropZone.addEventListener(type, (event) => {
    event.preventDefault()
    dropZone.classList.add('dragging')
  })
}
dropZone.addEventListener('dragleave', () => dropZone.classList.remove('dragging'))
dropZone.addEventListener('drop', (event) => {
  event.preventDefault()
  dropZone.classList.remove('dragging')
  classifyFiles(event.dataTransfer.files)
})
document.getElementById('clear-results').addEventListener('click', () => {
  for (const img of results.querySelectorAll('img')) URL.revokeObjectURL(img.src)
  results.replaceChildren()
  resultsBar.hidden = true
})

function fileName(url) {
  return decodeURIComponent(url.pathname.split('/').pop() || url.href)
}

function sidecarUrlOf(url) {
  const sidecar = new URL(url)
  sidecar.pathname = sidecar.pathname.replace(/(\.onnx)?$/i, '.json')
  return sidecar
}

async function loadClassifier(url) {
  const [modelBytes, sidecarFile] = await Promise.all([fetchBytes(url), fetchSidecar(sidecarUrlOf(url))])
  const session = await ort.InferenceSession.create(modelBytes, { executionProviders: ['wasm'] })
  const [input] = session.inputMetadata
  // The model's own [batch, C, H, W] (symbolic dims are names), empty when the file does not say.
  const modelInputShape = input.isTensor ? [...input.shape] : []
  // Without a sidecar, a model that states its C, H, W is fed at that size.
  const statedShape = modelInputShape.length === 4 && modelInputShape.slice(1).every(Number.isInteger) ? { inputShape: modelInputShape.slice(1) } : {}
  const sidecar = checkSidecar({ ...DEFAULT_SIDECAR, ...statedShape, ...sidecarFile })
  checkModelInput(modelInputShape, sidecar.inputShape)
  return {
    session,
    sidecar,
    sidecarFound: sidecarFile !== undefined,
    inputName: session.inputNames[0],
    outputName: session.outputNames[0],
    modelInputShape: modelInputShape.length > 0 ? modelInputShape : ['N', ...sidecar.inputShape],
  }
}

/** The page feeds one [1, C, H, W] picture at a time: the model's input must take that. */
function checkModelInput(modelShape, [channels, height, width]) {
  if (modelShape.length === 0) return
  const fits = (dim, size) => typeof dim === 'string' || dim === size
  if (modelShape.length !== 4 || ![1, channels, height, width].every((size, i) => fits(modelShape[i], size))) {
    throw new Error(
      `the model's input is [${modelShape.join(', ')}], but this page feeds [1, ${channels}, ${height}, ${width}] ` +
        '(one picture; export with a batch of 1 or a dynamic batch)',
    )
  }
}

async function fetchBytes(url) {
  const response = await fetch(url)
  if (!response.ok) throw new Error(`${url.href} answered ${response.status} ${response.statusText}`)
  return new Uint8Array(await response.arrayBuffer())
}

/** The sidecar's fields, or undefined when the server has none. */
async function fetchSidecar(url) {
  const response = await fetch(url)
  if (response.status === 404) return undefined
  if (!response.ok) throw new Error(`${url.href} answered ${response.status} ${response.statusText}`)
  try {
    return await response.json()
  } catch (error) {
    throw new Error(`${url.href} is not valid JSON: ${error.message}`)
  }
}

function checkSidecar(sidecar) {
  const { classes, mean, std, inputShape } = sidecar
  const isNumbers = (xs, n) => Array.isArray(xs) && xs.length === n && xs.every((x) => typeof x === 'number' && Number.isFinite(x))
  if (!Array.isArray(inputShape) || inputShape.length !== 3 || !inputShape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(`the sidecar's inputShape must be [channels, height, width], got ${JSON.stringify(inputShape)}`)
  }
  if (inputShape[0] !== 3) throw new Error(`this page feeds RGB pictures, but the model takes ${inputShape[0]} channels`)
  if (!isNumbers(mean, 3) || !isNumbers(std, 3) || std.some((s) => s === 0)) {
    throw new Error(`the sidecar's mean and std must be 3 numbers each (std not 0), got ${JSON.stringify({ mean, std })}`)
  }
  if (!Array.isArray(classes) || classes.length < 1 || !classes.every((c) => typeof c === 'string')) {
    throw new Error(`the sidecar's classes must be a list of names, got ${JSON.stringify(classes)}`)
  }
  return sidecar
}

function classifyFiles(files) {
  for (const file of files) {
    if (!file.type.startsWith('image/')) continue
    const card = addCard(file)
    queue = queue.then(() => classifyInto(card, file))
  }
}

async function classifyInto(card, file) {
  try {
    const { session, sidecar, inputName, outputName } = await classifier
    const [, height, width] = sidecar.inputShape
    const { pixels, resized } = await drawModelInput(file, card.querySelector('canvas.model-input'), width, height)
    card.classList.toggle('resized', resized)
    const input = new ort.Tensor('float32', normalise(pixels, sidecar.mean, sidecar.std), [1, 3, height, width])
    const outputs = await session.run({ [inputName]: input })
    const logits = outputs[outputName].data
    if (logits.length !== sidecar.classes.length) {
      throw new Error(`the model gives ${logits.length} outputs for ${sidecar.classes.length} classes`)
    }
    showTopClasses(card, softmax(logits), sidecar.classes)
    card.dataset.state = 'done'
  } catch (error) {
    card.querySelector('.top-classes').replaceChildren(element('li', { class: 'error' }, error.message))
    card.dataset.state = 'error'
  }
}

/**
 * Draws the picture as the model sees it: the largest centred region with the input's aspect
 * ratio, scaled to width x height (pixels already that size are copied as they are). Embedded
 * colour profiles are ignored, as in Ferrite's and PIL's image readers, so a PNG's pixels reach
 * the model unchanged. Returns the canvas's RGBA bytes, and whether the picture was cropped or scaled.
 */
async function drawModelInput(file, canvas, width, height) {
  const bitmap = await createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' })
  const scale = Math.min(bitmap.width / width, bitmap.height / height)
  const [cropWidth, cropHeight] = [width * scale, height * scale]
  canvas.width = width
  canvas.height = height
  const context = canvas.getContext('2d', { willReadFrequently: true })
  context.imageSmoothingQuality = 'high'
  context.drawImage(bitmap, (bitmap.width - cropWidth) / 2, (bitmap.height - cropHeight) / 2, cropWidth, cropHeight, 0, 0, width, height)
  const resized = bitmap.width !== width || bitmap.height !== height
  bitmap.close()
  return { pixels: context.getImageData(0, 0, width, height).data, resized }
}

/** RGBA bytes to a planar [3, H, W] float32 array of (byte / 255 - mean) / std, like toTensor() then normalize(). */
function normalise(rgba, mean, std) {
  const area = rgba.length / 4
  const planes = new Float32Array(3 * area)
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < area; i++) planes[c * area + i] = (rgba[4 * i + c] / 255 - mean[c]) / std[c]
  }
  return planes
}

function softmax(logits) {
  const max = Math.max(...logits)
  const exps = Array.from(logits, (z) => Math.exp(z - max))
  const sum = exps.reduce((a, b) => a + b, 0)
  return exps.map((e) => e / sum)
}

function showTopClasses(card, probabilities, classes) {
  const ranked = probabilities.map((p, i) => ({ p, name: classes[i] })).sort((a, b) => b.p - a.p)
  const rows = ranked.slice(0, TOP_K).map(({ p, name }) => {
    const percent = `${(100 * p).toFixed(1)}%`
    const bar = element('span', { class: 'bar' }, element('span', { class: 'fill', style: `width: ${(100 * p).toFixed(2)}%` }))
    return element(
      'li',
      { 'data-class': name, 'data-probability': String(p) },
      element('span', { class: 'class-name' }, name),
      element('span', { class: 'probability' }, percent),
      bar,
    )
  })
  card.querySelector('.top-classes').replaceChildren(...rows)
}

function addCard(file) {
  const picture = element('img', { src: URL.createObjectURL(file), alt: file.name })
  // Small pictures (CIFAR-10's are 32x32) are shown enlarged with sharp pixels, not blurred.
  picture.addEventListener('load', () => picture.classList.toggle('pixelated', picture.naturalWidth <= 128))
  const card = element(
    'article',
    { class: 'prediction', 'data-file': file.name, 'data-state': 'running' },
    element(
      'figure',
      {},
      element('div', { class: 'picture' }, picture, element('canvas', { class: 'model-input', title: 'what the model sees' })),
      element('figcaption', { title: file.name }, file.name),
    ),
    element('ol', { class: 'top-classes' }, element('li', { class: 'pending' }, 'Classifying…')),
  )
  results.append(card)
  resultsBar.hidden = false
  return card
}

function element(tag, attributes, ...children) {
  const node = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value)
  node.append(...children)
  return node
}
