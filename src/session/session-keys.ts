import type { KeySpace } from '../core/index.js'
import { BoundedCache } from './bounded-cache.js'
import { handleOf, tagOf } from './session-id.js'

/** The keys of one session record (all on its tag's slot). @internal */
export interface RecordRef {
  readonly tag: string
  readonly handle: string
  /** The record (a hash). */
  readonly record: string
  /** The user's index (sorted set handle -> expiry); unused by anonymous sessions. */
  readonly index: string
  /** Where the record goes when quarantined. */
  readonly quarantine: string
  /** The tag's quarantine index (sorted set handle -> expiry). */
  readonly quarantineIndex: string
}

/** The keys of one user's sessions. @internal */
export interface UserRef {
  readonly tag: string
  readonly index: string
  readonly quarantineIndex: string
  record(handle: string): string
  quarantine(handle: string): string
}

/**
 * Builds the keys of one store:
 *
 * ```
 * {prefix}:v1:session:{<tag>}:<store>:s:<handle>   record (hash)
 * {prefix}:v1:session:{<tag>}:<store>:idx          the user's index (sorted set)
 * {prefix}:v1:session:{<tag>}:<store>:q:<handle>   a quarantined record
 * {prefix}:v1:session:{<tag>}:<store>:qidx         the tag's quarantine index (sorted set)
 * ```
 *
 * @internal
 */
export class SessionKeys {
  /** ID -> its keys: hashing the ID and building four key names once per hot session. */
  private readonly refs: BoundedCache<string, RecordRef>

  constructor(
    private readonly keys: KeySpace,
    readonly store: string,
    cacheEntries = 0,
  ) {
    this.refs = new BoundedCache(cacheEntries)
  }

  ref(id: string): RecordRef {
    let ref = this.refs.get(id)
    if (ref === undefined) this.refs.set(id, (ref = this.refOf(tagOf(id), handleOf(id))))
    return ref
  }

  refOf(tag: string, handle: string): RecordRef {
    const { keys, store } = this
    return {
      tag,
      handle,
      record: keys.key('session', tag, store, 's', handle),
      index: keys.key('session', tag, store, 'idx'),
      quarantine: keys.key('session', tag, store, 'q', handle),
      quarantineIndex: keys.key('session', tag, store, 'qidx'),
    }
  }

  user(tag: string): UserRef {
    const { keys, store } = this
    return {
      tag,
      index: keys.key('session', tag, store, 'idx'),
      quarantineIndex: keys.key('session', tag, store, 'qidx'),
      record: (handle) => keys.key('session', tag, store, 's', handle),
      quarantine: (handle) => keys.key('session', tag, store, 'q', handle),
    }
  }

  /** `SCAN MATCH` pattern of every record of this store. */
  recordPattern(): string {
    return `${this.keys.pattern('session').slice(0, -1)}*:${this.store}:s:*`
  }
}
