// The tutorial's four models in TensorFlow.js layers (NHWC), shaped like torch_models.py and
// ts/models/: same layers, channels, strides, biases and batch-norm settings; logits out.
import * as tf from '@tensorflow/tfjs'

type Layer = tf.SymbolicTensor

/** PyTorch's BatchNorm2d defaults (eps 1e-5, running stats updated by 0.1 of each batch). */
function batchNorm(x: Layer): Layer {
  return tf.layers.batchNormalization({ epsilon: 1e-5, momentum: 0.9 }).apply(x) as Layer
}

function relu(x: Layer): Layer {
  return tf.layers.reLU().apply(x) as Layer
}

function conv3x3(x: Layer, filters: number, strides = 1, useBias = false): Layer {
  return tf.layers.conv2d({ filters, kernelSize: 3, strides, padding: 'same', useBias }).apply(x) as Layer
}

function maxPool(x: Layer): Layer {
  return tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }).apply(x) as Layer
}

function classifier(x: Layer, classes: number): Layer {
  return tf.layers.dense({ units: classes }).apply(tf.layers.flatten().apply(x)) as Layer
}

function build(body: (input: Layer) => Layer, name: string): tf.LayersModel {
  const input = tf.input({ shape: [32, 32, 3] })
  return tf.model({ inputs: input, outputs: body(input), name })
}

/** Two Conv(bias) -> BN -> ReLU -> MaxPool stages and a linear layer. */
export function myCNN(classes = 10): tf.LayersModel {
  return build((x) => {
    const stage = (h: Layer, channels: number) => maxPool(relu(batchNorm(conv3x3(h, channels, 1, true))))
    return classifier(stage(stage(x, 16), 32), classes)
  }, 'mycnn')
}

/** Channel rescaling by sigmoid(FC2(relu(FC1(global average)))), each sample by its own weights. */
function squeezeExcite(x: Layer, channels: number, reduction = 16): Layer {
  const pooled = tf.layers.globalAveragePooling2d({}).apply(x) as Layer
  const hidden = tf.layers.dense({ units: Math.floor(channels / reduction), activation: 'relu' }).apply(pooled) as Layer
  const weights = tf.layers.dense({ units: channels, activation: 'sigmoid' }).apply(hidden) as Layer
  const perChannel = tf.layers.reshape({ targetShape: [1, 1, channels] }).apply(weights) as Layer
  return tf.layers.multiply().apply([x, perChannel]) as Layer
}

function residualBlock(x: Layer, inChannels: number, outChannels: number, stride: number, se: boolean): Layer {
  const residual = stride !== 1 || inChannels !== outChannels ? batchNorm(conv3x3(x, outChannels, stride)) : x
  let out = batchNorm(conv3x3(relu(batchNorm(conv3x3(x, outChannels, stride))), outChannels))
  if (se) out = squeezeExcite(out, outChannels)
  return relu(tf.layers.add().apply([out, residual]) as Layer)
}

/** The CIFAR ResNet: 3x3 stem, stages of 16, 32, 64 channels (the last two stride 2), 8x8 average pool, linear. */
export function resNet(layers = [2, 2, 2], se = false, classes = 10): tf.LayersModel {
  return build((x) => {
    let out = relu(batchNorm(conv3x3(x, 16)))
    let channels = 16
    for (const [i, outChannels] of [16, 32, 64].entries()) {
      for (let b = 0; b < layers[i]; b++) {
        out = residualBlock(out, channels, outChannels, b === 0 && i > 0 ? 2 : 1, se)
        channels = outChannels
      }
    }
    out = tf.layers.averagePooling2d({ poolSize: 8, strides: 8 }).apply(out) as Layer
    return classifier(out, classes)
  }, se ? 'se-resnet' : 'resnet')
}

const VGG11: (number | 'M')[] = [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M']

/** VGG11: Conv(bias) -> BN -> ReLU per number, 2x2 max pool per 'M', a 1x1 average pool, linear. */
export function vgg11(classes = 10): tf.LayersModel {
  return build((x) => {
    let out = x
    for (const v of VGG11) out = v === 'M' ? maxPool(out) : relu(batchNorm(conv3x3(out, v, 1, true)))
    out = tf.layers.averagePooling2d({ poolSize: 1, strides: 1 }).apply(out) as Layer
    return classifier(out, classes)
  }, 'vgg11')
}

export const models: Record<string, () => tf.LayersModel> = {
  mycnn: () => myCNN(),
  resnet: () => resNet(),
  'se-resnet': () => resNet([2, 2, 2], true),
  vgg11: () => vgg11(),
}
