import { loadScript, withKeyCount, type Script } from '../core/index.js'

const load = (file: string, numberOfKeys: number): Script =>
  loadScript(new URL(`./scripts/${file}`, import.meta.url), { numberOfKeys })

/**
 * The rate limiter's Lua scripts. Those named `-n` take a variable number of keys (all sharing
 * one hash tag); {@link withKeys} gives the variant for one call's key count (same SHA).
 *
 * @internal
 */
export const CHECK_RULES = load('check-rules-n.lua', 1)
/** @internal */
export const RELEASE_LEASE = load('release-lease-n.lua', 1)
/** @internal */
export const EXTEND_LEASE = load('extend-lease-n.lua', 1)
/** @internal */
export const BLOCK_SUBJECT = load('block-subject-n.lua', 1)
/** @internal */
export const PUBLISH_RULES = load('publish-rules-2.lua', 2)
/** @internal */
export const RESERVE_BUDGET = load('reserve-budget-n.lua', 1)
/** @internal */
export const SETTLE_BUDGET = load('settle-budget-n.lua', 1)
/** @internal */
export const ANNOUNCE_INSTANCE = load('announce-instance-1.lua', 1)

/** The script with `numberOfKeys` set to `n` (same source and SHA): core's `withKeyCount`. @internal */
export const withKeys = withKeyCount
