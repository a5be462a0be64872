export {
  createGetBatcher,
  type CommandTarget,
  type GetBatcher,
  type GetBatcherOptions,
} from './get-batcher.js'
export { turnBatches, type TurnBatchOptions, type Waiting } from './turn-batches.js'
