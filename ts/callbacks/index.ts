/**
 * Callbacks for {@link fit}: `earlyStopping`, `modelCheckpoint`, `tensorBoard`, `plotCurves`, or
 * any object with some of the {@link Callback} hooks.
 */
export type { BatchEndContext, BatchLogs, Callback, CallbackContext, EpochEndContext, EpochLogs, HookResult, Monitor, TrainEndContext } from './callback'
export { plotCurves } from './curves'
export { earlyStopping, type EarlyStoppingOptions } from './early-stopping'
export { modelCheckpoint, type ModelCheckpointOptions } from './model-checkpoint'
export type { MonitorMode } from './monitor'
export { tensorBoard, type TensorBoardOptions } from './tensorboard'
