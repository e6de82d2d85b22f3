/**
 * Layers and models, like `torch.nn`: subclass {@link Module}, assign layers to fields,
 * implement `forward`.
 *
 * ```ts
 * import * as ft from 'ferrite-ml'
 * const { nn } = ft
 *
 * class MyCNN extends nn.Module {
 *   conv1 = new nn.Sequential(new nn.Conv2d(3, 16, 3, { padding: 1 }), new nn.BatchNorm2d(16), new nn.ReLU(), new nn.MaxPool2d(2))
 *   fc = new nn.Linear(16 * 16 * 16, 10)
 *   forward(x: ft.Tensor): ft.Tensor {
 *     return this.fc.forward(this.conv1.forward(x).flatten(1))
 *   }
 * }
 * ```
 */
export { Module } from './module'
export type { IncompatibleKeys, LoadStateDictOptions, RegisterBufferOptions, ZeroGradOptions } from './module'
export { Buffer, Parameter } from './parameter'
export type { BufferOptions, ParameterOptions } from './parameter'
export { Sequential } from './containers'
export { Conv2d } from './conv'
export type { Conv2dOptions } from './conv'
export { BatchNorm2d } from './normalization'
export type { BatchNorm2dOptions } from './normalization'
export { BatchNorm1d, BatchNormBase } from './normalization'
export type { BatchNorm1dOptions } from './normalization'
export { ReLU, ReLU6, Sigmoid, Tanh } from './activation'
export type { ReLUOptions } from './activation'
export { GELU, Hardswish, LeakyReLU, SiLU } from './activation'
export type { LeakyReLUOptions } from './activation'
export { AdaptiveAvgPool2d, AvgPool2d, MaxPool2d } from './pooling'
export type { AvgPool2dOptions, MaxPool2dOptions } from './pooling'
export { Linear } from './linear'
export type { LinearOptions } from './linear'
export { Flatten } from './flatten'
export type { FlattenOptions } from './flatten'
export { Dropout } from './dropout'
export type { DropoutOptions } from './dropout'
export { Identity } from './identity'
export { CrossEntropyLoss } from './loss'
export type { CrossEntropyLossOptions } from './loss'
export { BCEWithLogitsLoss, MSELoss } from './loss'
export type { BCEWithLogitsLossOptions, MSELossOptions } from './loss'
export * as init from './init'
export * as utils from './utils'

import { markPureForward } from '../inference'
import * as activation from './activation'
import * as conv from './conv'
import * as dropout from './dropout'
import * as flatten from './flatten'
import * as identity from './identity'
import * as linear from './linear'
import * as normalization from './normalization'
import * as pooling from './pooling'

// The layers whose forwards a trace replays exactly in evaluation mode (see Module.forward).
markPureForward(
  conv.Conv2d,
  normalization.BatchNormBase,
  linear.Linear,
  activation.ReLU,
  activation.ReLU6,
  activation.Sigmoid,
  activation.Tanh,
  activation.LeakyReLU,
  activation.GELU,
  activation.SiLU,
  activation.Hardswish,
  pooling.MaxPool2d,
  pooling.AvgPool2d,
  pooling.AdaptiveAvgPool2d,
  flatten.Flatten,
  dropout.Dropout,
  identity.Identity,
)
