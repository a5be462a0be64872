export { createStateStore } from './create-state-store.js'
export {
  resolveStateStoreOptions,
  type ResolvedStateStoreOptions,
  type StateStoreOptions,
} from './state-options.js'
export type {
  StateDocument,
  StatePutOptions,
  StatePutResult,
  StateStore,
  StateStoreStats,
  StateUpdateOptions,
} from './state-types.js'
