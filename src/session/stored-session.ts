import type { DecodedRecord } from './record-codec.js'
import type { TokenSigner } from './session-token.js'
import type { Session } from './session-types.js'

/** What a write needs from the read it follows: the values to re-encrypt with the primary key. @internal */
export interface RekeyInfo {
  /** `[redis field, bytes read]` of values encrypted with an older key. */
  readonly stale: readonly (readonly [string, Buffer])[]
}

/** A {@link Session} as the store hands it out; the token is signed on first use. @internal */
export class StoredSession implements Session {
  readonly handle: string
  readonly userId: string | null
  readonly device: string | null
  readonly version: number
  readonly createdAt: number
  readonly lastSeenAt: number
  readonly expiresAt: number
  readonly absoluteExpiresAt: number
  readonly renewDue: boolean
  readonly readOnly: boolean
  readonly source: 'redis' | 'memory' | 'local-copy'
  readonly data: Readonly<Record<string, unknown>>
  #token: string | undefined
  readonly #signer: TokenSigner
  readonly #rekey: RekeyInfo | undefined

  constructor(
    readonly id: string,
    handle: string,
    init: {
      readonly userId: string | null
      readonly device: string | null
      readonly version: number
      readonly createdAt: number
      readonly lastSeenAt: number
      readonly expiresAt: number
      readonly absoluteExpiresAt: number
      readonly renewDue: boolean
      readonly readOnly: boolean
      readonly source: 'redis' | 'memory' | 'local-copy'
      readonly data: Readonly<Record<string, unknown>>
    },
    signer: TokenSigner,
    rekey?: RekeyInfo,
  ) {
    this.handle = handle
    this.userId = init.userId
    this.device = init.device
    this.version = init.version
    this.createdAt = init.createdAt
    this.lastSeenAt = init.lastSeenAt
    this.expiresAt = init.expiresAt
    this.absoluteExpiresAt = init.absoluteExpiresAt
    this.renewDue = init.renewDue
    this.readOnly = init.readOnly
    this.source = init.source
    this.data = init.data
    this.#signer = signer
    this.#rekey = rekey
  }

  get token(): string {
    return (this.#token ??= this.#signer.sign(this.id))
  }

  /** The values this session's next write should re-encrypt. */
  get rekey(): RekeyInfo | undefined {
    return this.#rekey
  }

  /** Keeps the ID out of `JSON.stringify` and logs. */
  toJSON(): Record<string, unknown> {
    return {
      handle: this.handle,
      userId: this.userId,
      device: this.device,
      version: this.version,
      createdAt: this.createdAt,
      lastSeenAt: this.lastSeenAt,
      expiresAt: this.expiresAt,
      absoluteExpiresAt: this.absoluteExpiresAt,
      renewDue: this.renewDue,
      readOnly: this.readOnly,
      source: this.source,
      data: this.data,
    }
  }
}

/** The data fields of a decoded record as a frozen plain object. @internal */
export function frozenData(data: Map<string, unknown>): Readonly<Record<string, unknown>> {
  const out: Record<string, unknown> = {}
  for (const [name, value] of data) if (name !== '__proto__') out[name] = value
  return Object.freeze(out)
}

/** Fields of a record to re-encrypt on its next write. @internal */
export function rekeyOf(decoded: DecodedRecord, fields: Map<string, Buffer>): RekeyInfo | undefined {
  if (decoded.stale.length === 0) return undefined
  return { stale: decoded.stale.map((field) => [field, fields.get(field)!] as const) }
}
