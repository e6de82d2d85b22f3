/**
 * Functional forms of the layers, like `torch.nn.functional`: `F.conv2d`, `F.maxPool2d`,
 * `F.batchNorm`, `F.relu`, `F.crossEntropy`, ...
 */
export * from './activation'
export * from './conv'
export { dropout } from './dropout'
export type { DropoutOptions } from './dropout'
export * from './linear'
export * from './loss'
export * from './norm'
export * from './pool'
