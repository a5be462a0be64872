import { loadScript, type Script } from '../core/index.js'

const load = (file: string): Script => loadScript(new URL(`./scripts/${file}`, import.meta.url))

/** The six keys of a lock resource: exclusive holder, shared holders and their tokens, fence, queue, waiters. @internal */
export const ACQUIRE_SLOT = load('acquire-slot-6.lua')
/** @internal */
export const RELEASE_SLOT = load('release-slot-6.lua')
/** @internal */
export const CANCEL_WAIT = load('cancel-wait-6.lua')
/** The first three keys of a lock resource. @internal */
export const EXTEND_SLOT = load('extend-slot-3.lua')
/** The exclusive holder and fence of a resource: Redlock's agreed token. @internal */
export const RAISE_FENCE = load('raise-fence-2.lua')
/** @internal */
export const WRITE_FENCED = load('write-fenced-1.lua')
/** The wait-for graph's scripts (keys under one hash tag). @internal */
export const NOTE_HOLD = load('note-hold-3.lua')
/** @internal */
export const WAIT_FOR = load('wait-for-4.lua')
/** @internal */
export const END_WAIT = load('end-wait-1.lua')
/** @internal */
export const FIND_STUCK = load('find-stuck-2.lua')
/** Versioned values and idempotent operations. @internal */
export const SWAP_VERSIONED = load('swap-versioned-1.lua')
/** @internal */
export const BEGIN_IDEMPOTENT = load('begin-idempotent-1.lua')
/** @internal */
export const END_IDEMPOTENT = load('end-idempotent-1.lua')
