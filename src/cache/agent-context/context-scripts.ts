import { loadScript } from '../../core/index.js'

/**
 * The agent context's Lua scripts. Each takes the three keys of one scope (version counter, meta
 * hash, data hash), which share the scope's hash tag, so they run unchanged on a Cluster.
 *
 * @internal
 */
export const READ_ENTRY = loadScript(new URL('./scripts/read-entry-3.lua', import.meta.url))
/** @internal */
export const READ_SCOPE = loadScript(new URL('./scripts/read-scope-3.lua', import.meta.url))
/** @internal */
export const WRITE_ENTRY = loadScript(new URL('./scripts/write-entry-3.lua', import.meta.url))
/** @internal */
export const APPEND_ITEM = loadScript(new URL('./scripts/append-item-3.lua', import.meta.url))
/** @internal */
export const DELETE_ENTRY = loadScript(new URL('./scripts/delete-entry-3.lua', import.meta.url))
/** @internal */
export const CLEAR_SCOPE = loadScript(new URL('./scripts/clear-scope-3.lua', import.meta.url))
