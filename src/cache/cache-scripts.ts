import { loadScript, type Script } from '../core/index.js'

/**
 * The cache's Lua scripts. Both take a variable number of keys (one per tag), all sharing the
 * namespace's hash tag; `withKeys` gives the variant for one call's key count (same SHA).
 *
 * @internal
 */
export const SET_TAGGED = loadScript(new URL('./scripts/set-tagged-n.lua', import.meta.url), {
  numberOfKeys: 1,
})

/** @internal */
export const INVALIDATE_TAGS = loadScript(new URL('./scripts/invalidate-tags-n.lua', import.meta.url), {
  numberOfKeys: 1,
})

const variants = new Map<Script, Script[]>()

/**
 * The script with `numberOfKeys` set to `n`: same source and SHA, so EVALSHA hits the cached
 * script whatever the number of tags. (`runScript` checks the key count against the script.)
 *
 * @internal
 */
export function withKeys(script: Script, n: number): Script {
  let list = variants.get(script)
  if (list === undefined) variants.set(script, (list = []))
  return (list[n] ??= Object.freeze({ ...script, numberOfKeys: n }))
}
