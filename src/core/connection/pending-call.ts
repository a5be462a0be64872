/**
 * One command in flight on the hot path: it is both the deadline entry and the holder of the
 * caller's settle functions, so a command costs one small object and one promise.
 */
import type { CallOptions } from '../api-types.js'
import type { RedisArg, RedisReply } from '../driver/port.js'
import type { DeadlineEntry, DeadlineQueue } from './deadlines.js'

/** Who is told when a call's deadline passes first. */
export interface DeadlineOwner {
  expired(call: PendingCall): void
}

export class PendingCall implements DeadlineEntry {
  deadline = 0
  done = false
  queue: DeadlineQueue | null = null
  /** Holds back the lean path's stall watch while in flight (a longer deadline than the default, or none). */
  long = false
  /** The connection's stall-reset count when this was sent (see ValkitConnection#resets). */
  resets = 0
  resolve: (reply: RedisReply | Promise<RedisReply>) => void = noop
  reject: (err: unknown) => void = noop
  /** The promise the caller holds; settled through `resolve`/`reject`. */
  readonly promise: Promise<RedisReply>

  constructor(
    readonly owner: DeadlineOwner,
    readonly args: readonly RedisArg[],
    readonly options: CallOptions | undefined,
    readonly timeoutMs: number,
    readonly key: RedisArg | undefined,
    /** A first attempt, which may continue in a retry if it fails. */
    readonly retry: boolean,
  ) {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the shared executor below needs the call being built
    creating = this
    this.promise = new Promise<RedisReply>(captureSettlers)
    creating = null
  }

  expire(): void {
    this.owner.expired(this)
  }
}

function noop(): void {}

// `new Promise(executor)` runs the executor synchronously: a shared executor that stores the
// settle functions on the call being created avoids a closure per command.
let creating: PendingCall | null = null
function captureSettlers(
  resolve: (reply: RedisReply | Promise<RedisReply>) => void,
  reject: (err: unknown) => void,
): void {
  creating!.resolve = resolve
  creating!.reject = reject
}
