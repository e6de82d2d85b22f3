/** Datasets and the data loader, like `torch.utils.data` and `torchvision.datasets`. */
export { Dataset, ImageDataset, Subset } from './dataset'
export type { Batch, Item } from './dataset'
export { CIFAR10, CIFAR10_CLASSES, CIFAR10_MD5, CIFAR10_URL } from './cifar'
export type { CIFAR10Options } from './cifar'
export { IMG_EXTENSIONS, ImageFolder } from './image-folder'
export type { ImageFolderOptions, Sample } from './image-folder'
export { DataLoader } from './dataloader'
export type { DataLoaderOptions } from './dataloader'
