/** Optimizers and learning-rate schedulers, like `torch.optim`. */
export { Optimizer } from './optimizer'
export type { OptimizerStateDict, ParamGroup, ParamGroupInput, Params, ParamState, ParamUpdate, PyTorchOptions } from './optimizer'
export { SGD } from './sgd'
export type { SGDOptions } from './sgd'
export { Adam, AdamW } from './adam'
export type { AdamOptions } from './adam'
export { CosineAnnealingLR, LRScheduler, OneCycleLR, StepLR } from './lr-scheduler'
export type { LrOptimizer, OneCycleLROptions } from './lr-scheduler'
