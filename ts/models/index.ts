/** The tutorial's models: MyCNN, ResNet (with plain or SE residual blocks) and VGG11/13/16/19. */
export { MyCNN } from './mycnn'
export { conv3x3, ResidualBlock, ResNet, SELayer, SEResidualBlock, seResNet } from './resnet'
export type { Block } from './resnet'
export { VGG, VGG_CONFIGS } from './vgg'
export type { VGGName } from './vgg'
