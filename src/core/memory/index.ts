export { createMemoryStore } from './memory-store.js'
export type {
  EvictionReason,
  EvictListener,
  MemorySetOptions,
  MemoryStore,
  MemoryStoreStats,
} from './memory-store-types.js'
export { MEMORY_STORE_DEFAULTS, resolveMemoryStoreOptions } from './memory-store-options.js'
export type {
  EvictionPolicyName,
  MemoryStoreOptions,
  ResolvedMemoryStoreOptions,
} from './memory-store-options.js'
export { compileGlob } from './glob.js'
export { estimateSize } from './size-of.js'
export { createInstantClock, type InstantClock } from './instant-clock.js'
