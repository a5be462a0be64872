import { ValkitError, isValkitError, type Valkit } from '../core/index.js'
import type { LocalCopies } from './local-copy.js'
import { CorruptRecord, type RecordCodec } from './record-codec.js'
import type { SessionBackend } from './session-backend.js'
import { checkUserId, userTag } from './session-id.js'
import type { RecordRef, SessionKeys } from './session-keys.js'
import type { DestroyReason, SessionMetrics } from './session-metrics.js'
import type { ResolvedSessionStoreOptions } from './session-options.js'
import type { TokenSigner } from './session-token.js'

/** Counters behind `stats()`. @internal */
export interface StoreCounters {
  created: number
  rotated: number
  destroyed: number
  expired: number
  revoked: number
  quarantined: number
  rejectedTokens: number
  reads: number
  misses: number
  conflicts: number
  localReads: number
  backendErrors: number
}

/** Codes of failures that mean "Redis/Valkey cannot answer now". */
const TRANSPORT = new Set(['VALKIT_UNAVAILABLE', 'VALKIT_TIMEOUT', 'VALKIT_READONLY', 'VALKIT_NOT_DURABLE'])

/** `true` for an error that says the server could not be reached or did not answer in time. @internal */
export function isTransportError(err: unknown): boolean {
  return isValkitError(err) && TRANSPORT.has(err.code)
}

/**
 * What the store's operations share: options, keys, codec, token signer, backend, metrics,
 * counters, the local copies and the invalidation channel.
 *
 * @internal
 */
export class StoreContext {
  readonly counters: StoreCounters = {
    created: 0,
    rotated: 0,
    destroyed: 0,
    expired: 0,
    revoked: 0,
    quarantined: 0,
    rejectedTokens: 0,
    reads: 0,
    misses: 0,
    conflicts: 0,
    localReads: 0,
    backendErrors: 0,
  }

  constructor(
    readonly valkit: Valkit,
    readonly options: ResolvedSessionStoreOptions,
    readonly keys: SessionKeys,
    readonly codec: RecordCodec,
    readonly signer: TokenSigner,
    readonly backend: SessionBackend,
    readonly metrics: SessionMetrics,
    readonly local: LocalCopies | null,
    readonly channel: string,
  ) {}

  /** The user's hash tag and keys. */
  user(userId: string | number): { userId: string; ref: ReturnType<SessionKeys['user']> } {
    const id = checkUserId(userId)
    return { userId: id, ref: this.keys.user(userTag(id)) }
  }

  ended(reason: DestroyReason, n = 1): void {
    if (n <= 0) return
    this.metrics.destroyed(reason, n)
    if (reason === 'expired') this.counters.expired += n
    else if (reason === 'revoke' || reason === 'revoke_all' || reason === 'evicted')
      this.counters.revoked += n
    else this.counters.destroyed += n
  }

  /** Moves a record that cannot be trusted aside (best effort: a failure leaves it to expire). */
  async quarantine(ref: RecordRef, reason: string): Promise<void> {
    this.counters.quarantined++
    this.metrics.quarantined(reason)
    this.valkit.logger.warn('session: a record could not be trusted and was quarantined', {
      store: this.options.name,
      handle: ref.handle,
      reason,
    })
    this.local?.dropHandle(ref.handle)
    try {
      await this.backend.quarantine(ref, this.options.quarantineTtlMs)
    } catch (err) {
      this.failed(err)
    }
  }

  /** Reason label of a decoding failure. */
  reasonOf(err: unknown): string {
    return err instanceof CorruptRecord ? err.reason : 'format'
  }

  /** Counts a backend failure. */
  failed(err: unknown): void {
    this.counters.backendErrors++
    this.metrics.errors.inc()
    this.valkit.logger.debug('session: backend operation failed', {
      store: this.options.name,
      error: err instanceof Error ? err.message : String(err),
    })
  }

  /**
   * The error a rotation, revocation or destroy rejects with when the server cannot confirm it:
   * the operation is refused rather than assumed (fail closed).
   */
  failClosed(operation: string, err: unknown): unknown {
    this.failed(err)
    if (!isTransportError(err)) return err
    const code = (err as ValkitError).code
    return new ValkitError(
      code,
      `Cannot ${operation}: Redis/Valkey did not confirm it (${(err as Error).message}). ` +
        'A session rotation or revocation that cannot be confirmed is refused (fail closed); retry once the connection is back.',
      { cause: err, details: { operation, failClosed: true } },
    )
  }

  /** Tells every instance to drop its local copies of a session (`s <handle>`) or a user's (`u <tag>`). */
  publish(message: string): void {
    this.local?.[message.startsWith('u ') ? 'dropTag' : 'dropHandle'](message.slice(2))
    if (this.backend.kind !== 'redis') return
    this.valkit.connection
      .command(['PUBLISH', this.channel, message])
      .catch((err: unknown) => this.failed(err))
  }
}
