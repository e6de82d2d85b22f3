/** Datasets and the data loader, like `torch.utils.data` and `torchvision.datasets`. */
export { Dataset, ImageDataset } from './dataset'
export type { Batch } from './dataset'
export { CIFAR10, CIFAR10_CLASSES } from './cifar'
export type { CIFAR10Options } from './cifar'
export { DataLoader } from './dataloader'
export type { DataLoaderOptions } from './dataloader'
