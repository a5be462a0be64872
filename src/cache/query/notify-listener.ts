import type { Logger } from '../../core/index.js'
import { quoteIdent } from './identifiers.js'
import type { PgNotification, QueryCacheClient } from './pg-types.js'

/** What the listener needs from its owner. @internal */
export interface NotifyListenerOptions {
  readonly channel: string
  readonly connect: () => Promise<QueryCacheClient>
  readonly initialDelayMs: number
  readonly maxDelayMs: number
  readonly heartbeatMs: number | false
  readonly logger: Logger | undefined
  /** A notification's payload (`schema.table`). */
  onNotify(payload: string): void
  /**
   * LISTEN is active (first time: `reconnect` false). Until the returned promise settles the
   * listener does not count as listening: the owner invalidates what it may have missed.
   */
  onListening(reconnect: boolean): Promise<void>
  /** The established LISTEN connection is gone; notifications are lost until `onListening` again. */
  onLost(): void
}

/**
 * Holds one dedicated connection that LISTENs on a channel, and gets it back with capped,
 * jittered exponential backoff whenever it is lost (error, end, or a heartbeat left
 * unanswered for one interval).
 *
 * @internal
 */
export class NotifyListener {
  /** The backend pid of the listening connection, while listening. */
  pid: number | undefined
  listening = false
  /** Times LISTEN was established again after a loss. */
  reconnects = 0
  /** Resolves when LISTEN is first established; rejects if closed before. */
  readonly firstListen: Promise<void>
  private resolveFirst!: () => void
  private rejectFirst!: (err: Error) => void
  private closed = false
  private connecting = false
  private lastEnded: Promise<void> = Promise.resolve()
  private everListened = false
  /** Whether the current (or last) session reached LISTEN: the backoff starts over after one that did. */
  private sessionListened = false
  private dropCurrent: ((reason: unknown) => void) | undefined
  private wake: (() => void) | undefined
  private readonly done: Promise<void>

  constructor(private readonly o: NotifyListenerOptions) {
    this.firstListen = new Promise<void>((resolve, reject) => {
      this.resolveFirst = resolve
      this.rejectFirst = reject
    })
    this.firstListen.catch(() => {})
    this.done = this.run()
  }

  async close(closedError: Error): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.rejectFirst(closedError)
    this.wake?.()
    this.dropCurrent?.(undefined)
    // A connect() still pending (a busy pool) is not waited for: its client is destroyed on arrival.
    if (!this.connecting) await this.done
    await this.lastEnded
  }

  private async run(): Promise<void> {
    let attempt = 0
    while (!this.closed) {
      let failure: unknown
      this.sessionListened = false
      try {
        await this.session()
      } catch (err) {
        failure = err
      }
      if (this.closed) break
      attempt = this.sessionListened ? 1 : attempt + 1
      const delay = backoff(this.o.initialDelayMs, this.o.maxDelayMs, attempt)
      this.o.logger?.[attempt === 1 ? 'warn' : 'debug']('cache query: LISTEN connection lost; reconnecting', {
        channel: this.o.channel,
        attempt,
        delayMs: delay,
        error: describeError(failure),
      })
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay)
        timer.unref()
        this.wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.wake = undefined
    }
  }

  /** One connection's life: connect, LISTEN, report, wait for its loss. Rejects with the cause. */
  private async session(): Promise<void> {
    this.connecting = true
    let client: QueryCacheClient
    try {
      client = await this.o.connect()
    } finally {
      this.connecting = false
    }
    let settled = false
    let heartbeat: NodeJS.Timeout | undefined
    const lost = new Promise<void>((resolve, reject) => {
      this.dropCurrent = (reason) => {
        if (settled) return
        settled = true
        if (reason === undefined) resolve()
        else reject(reason instanceof Error ? reason : new Error(describeError(reason)))
      }
    })
    lost.catch(() => {})
    const drop = this.dropCurrent!
    // Keep an error listener for the client's whole life: an unhandled 'error' would crash the process.
    client.on('error', (err) => drop(err))
    let markEnded!: () => void
    const ended = new Promise<void>((resolve) => (markEnded = resolve))
    client.on('end', () => {
      markEnded()
      drop(new Error('the LISTEN connection ended'))
    })
    client.on('notification', (message: PgNotification) => {
      if (message.channel === this.o.channel && typeof message.payload === 'string')
        this.o.onNotify(message.payload)
    })
    try {
      if (this.closed) return
      await Promise.race([client.query(`LISTEN ${quoteIdent(this.o.channel)}`), lost])
      if (settled) return await lost
      const reconnect = this.everListened
      await Promise.race([this.o.onListening(reconnect), lost])
      if (settled) return await lost
      this.everListened = true
      if (reconnect) this.reconnects++
      this.listening = true
      this.sessionListened = true
      this.pid = typeof client.processID === 'number' ? client.processID : undefined
      this.resolveFirst()
      if (this.o.heartbeatMs !== false) heartbeat = this.startHeartbeat(client, this.o.heartbeatMs, drop)
      await lost
    } finally {
      settled = true
      if (heartbeat !== undefined) clearInterval(heartbeat)
      const wasListening = this.listening
      this.listening = false
      this.pid = undefined
      this.dropCurrent = undefined
      if (wasListening) this.o.onLost()
      // Reconnecting does not wait for a dead socket to close; close() does.
      this.lastEnded = destroy(client, ended)
    }
  }

  private startHeartbeat(
    client: QueryCacheClient,
    intervalMs: number,
    drop: (reason: unknown) => void,
  ): NodeJS.Timeout {
    let pending = false
    const timer = setInterval(() => {
      if (pending)
        return drop(new Error(`the LISTEN connection did not answer a heartbeat within ${intervalMs} ms`))
      pending = true
      client.query('SELECT 1').then(
        () => {
          pending = false
        },
        (err: unknown) => drop(err),
      )
    }, intervalMs)
    timer.unref()
    return timer
  }
}

/** Longest wait for a destroyed client's socket to close. */
const END_WAIT_MS = 2000

/**
 * Gives a client up for good: a pool client is destroyed (never returned to the pool still
 * LISTENing), a plain one ended; resolves once it has ended (or after {@link END_WAIT_MS}), so
 * `close()` does not leave a socket closing behind it (`pool.end()` does not wait for it).
 */
async function destroy(client: QueryCacheClient, ended: Promise<void>): Promise<void> {
  try {
    if (typeof client.release === 'function') client.release(true)
    else if (typeof client.end === 'function') client.end().catch(() => {})
  } catch {
    // already released
  }
  let timer: NodeJS.Timeout | undefined
  await Promise.race([ended, new Promise<void>((resolve) => (timer = setTimeout(resolve, END_WAIT_MS)))])
  clearTimeout(timer)
}

/** Delay before attempt `attempt` (1-based): full jitter over a doubling ceiling. @internal */
export function backoff(initialMs: number, maxMs: number, attempt: number): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(30, Math.max(0, attempt - 1)))
  return Math.floor(ceiling / 2 + (Math.random() * ceiling) / 2)
}

function describeError(err: unknown): string | undefined {
  if (err === undefined) return undefined
  if (err instanceof Error) return err.message
  return typeof err === 'string' ? err : JSON.stringify(err)
}
