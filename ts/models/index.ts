/**
 * The tutorial's models (MyCNN, ResNet with plain or SE residual blocks, VGG11/13/16/19), and
 * torchvision's ResNet-18/34/50/101/152 and MobileNetV2 with torchvision's state-dict keys.
 */
export { MyCNN } from './mycnn'
export { conv3x3, ResidualBlock, ResNet, SELayer, SEResidualBlock, seResNet } from './resnet'
export type { Block } from './resnet'
export { VGG, VGG_CONFIGS } from './vgg'
export type { VGGName } from './vgg'
export { BasicBlock, Bottleneck, ResNet as TorchvisionResNet, resnet18, resnet34, resnet50, resnet101, resnet152 } from './torchvision-resnet'
export type { ResNetBlock, ResNetOptions } from './torchvision-resnet'
export { Conv2dNormActivation, InvertedResidual, MobileNetV2, mobilenetV2 } from './mobilenet'
export type { Conv2dNormActivationOptions, MobileNetV2Options } from './mobilenet'
