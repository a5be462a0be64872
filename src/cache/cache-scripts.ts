import { loadScript, withKeyCount, type Script } from '../core/index.js'

const load = (file: string, numberOfKeys: number): Script =>
  loadScript(new URL(`./scripts/${file}`, import.meta.url), { numberOfKeys })

/**
 * The cache's Lua scripts. Those named `-n` take a variable number of keys (one or two per tag),
 * all sharing the namespace's hash tag; `withKeys` gives the variant for one call's key count
 * (same SHA).
 *
 * @internal
 */
export const SET_TAGGED = load('set-tagged-n.lua', 1)
/** @internal */
export const SET_MANY = load('set-many-n.lua', 1)
/** @internal */
export const INVALIDATE_TAGS = load('invalidate-tags-n.lua', 1)
/** @internal */
export const BEGIN_LOAD = load('begin-load-3.lua', 3)
/** @internal */
export const STORE_LOADED = load('store-loaded-n.lua', 2)
/** @internal */
export const RELEASE_LEASE = load('release-lease-1.lua', 1)
/** @internal */
export const EXTEND_LEASE = load('extend-lease-1.lua', 1)

/** The script with `numberOfKeys` set to `n` (same source and SHA): core's `withKeyCount`. @internal */
export const withKeys = withKeyCount
