/** TensorBoard event files: {@link SummaryWriter}, as `torch.utils.tensorboard`. */
export { SummaryWriter } from './summary-writer'
export type { SummaryWriterOptions } from './summary-writer'
