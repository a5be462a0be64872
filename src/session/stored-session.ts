import type { TokenSigner } from './session-token.js'
import type { Session } from './session-types.js'

/** What a {@link StoredSession} is made of. @internal */
export interface StoredSessionInit {
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
}

/** A {@link Session} as the store hands it out; the token is signed on first use. @internal */
export class StoredSession implements Session {
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

  constructor(
    readonly id: string,
    readonly handle: string,
    init: StoredSessionInit,
    signer: TokenSigner,
  ) {
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
  }

  get token(): string {
    return (this.#token ??= this.#signer.sign(this.id))
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
