import { loadCreateValkit } from '../core/valkit-subject.js'

/** The part of valkit's cache (src/cache) this benchmark uses. */
export interface ValkitCacheLike {
  get(key: string): Promise<unknown>
  set(key: string, value: unknown, options?: object): Promise<unknown>
  getOrSet(key: string, loader: () => Promise<unknown>, options?: object): Promise<unknown>
  close(): Promise<void>
}

/** The part of a valkit instance the cache benchmark touches. */
export interface ValkitInstanceLike {
  readonly supervisor?: { waitFor?(state: string, timeoutMs?: number): Promise<void> }
  close(): Promise<void>
}

type CreateValkit = (options: object) => ValkitInstanceLike | Promise<ValkitInstanceLike>
type CreateCache = (valkit: ValkitInstanceLike, options: object) => ValkitCacheLike | Promise<ValkitCacheLike>

/** `createValkit` and `createCache`, found at run time. */
export interface ValkitCacheApi {
  readonly createValkit: CreateValkit
  readonly createCache: CreateCache
}

// A variable specifier: src/cache may not exist yet, and the type checker must not require it.
const CACHE_MODULE = '../../src/cache/index.js'

/** valkit's cache API when src/index.ts and src/cache/index.ts export it; otherwise the reason. */
export async function loadValkitCache(): Promise<{ api?: ValkitCacheApi; reason?: string }> {
  const valkit = await loadCreateValkit()
  if (!valkit.create) return { reason: valkit.reason ?? 'createValkit not found' }
  try {
    const mod = (await import(CACHE_MODULE)) as { createCache?: unknown }
    if (typeof mod.createCache !== 'function')
      return { reason: 'src/cache/index.ts does not export createCache yet' }
    return {
      api: {
        createValkit: valkit.create as unknown as CreateValkit,
        createCache: mod.createCache as CreateCache,
      },
    }
  } catch (err) {
    return {
      reason: `src/cache/index.ts could not be loaded: ${err instanceof Error ? err.message : String(err)}`,
    }
  }
}
