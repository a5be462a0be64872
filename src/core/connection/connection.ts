/**
 * valkit's command path: every capability sends through here. It adds what the driver does
 * not: a deadline per command (cheap: see deadlines.ts), fail-fast while disconnected or a
 * bounded offline queue, retries with backoff for idempotent commands only, durable writes
 * (WAIT), error classification, counters for metrics, and tracing when someone listens.
 */
import diagnostics from 'node:diagnostics_channel'
import { performance } from 'node:perf_hooks'
import type { CallOptions, Connection, ScriptRef } from '../api-types.js'
import type { DriverPort, MessageListener, RedisArg, RedisReply } from '../driver/port.js'
import { ValkitError, isValkitError } from '../errors.js'
import { backoffDelay, type BackoffPolicy } from './backoff.js'
import { classifyCommandError, isConnectionError, isTransientReply } from './classify-error.js'
import { Deadlines, type DeadlineQueue } from './deadlines.js'
import { runScript } from '../scripts/run-script.js'
import { commandName, isIdempotentCommand } from './idempotent-commands.js'
import { OfflineQueue } from './offline-queue.js'
import { PendingCall } from './pending-call.js'
import { StallWatch } from './stall-watch.js'

export interface ConnectionOptions {
  readonly commandTimeoutMs: number
  readonly offlineQueue: { readonly enabled: boolean; readonly maxSize: number; readonly maxWaitMs: number }
  readonly retry: { readonly attempts: number; readonly initialDelayMs: number; readonly maxDelayMs: number }
  readonly durableWrites: { readonly replicas: number; readonly timeoutMs: number } | null
  /** How long a retry waits for a lost connection to come back (a few reconnect backoff steps). */
  readonly reconnectWaitMs: number
}

/** Plain counters, read by the metrics registry at scrape time and by `stats()`. */
export interface ConnectionStats {
  commands: number
  failures: number
  timeouts: number
  retries: number
  rejectedOffline: number
  queuedOffline: number
  /** Times the command connection was replaced because a command on it passed its deadline. */
  stalls: number
}

const commandChannel = diagnostics.tracingChannel('valkit:core:command')
const DRIVER_BUFFERS = Object.freeze({ buffers: true })
const SCRIPT_BUFFERS = Object.freeze({ buffers: true })

export class ValkitConnection implements Connection {
  readonly #driver: DriverPort
  readonly #options: ConnectionOptions
  readonly #deadlines = new Deadlines()
  /** The queue of the configured `commandTimeout`, held to skip a lookup per command. */
  readonly #defaultQueue: DeadlineQueue
  /** The driver needs the routing key (Cluster); otherwise no options object is built per command. */
  readonly #routesByKey: boolean
  readonly #retryBackoff: BackoffPolicy
  readonly #offline: OfflineQueue
  readonly stats: ConnectionStats = {
    commands: 0,
    failures: 0,
    timeouts: 0,
    retries: 0,
    rejectedOffline: 0,
    queuedOffline: 0,
    stalls: 0,
  }
  /**
   * The lean path's deadlines (see stall-watch.ts), when the driver can replace its command
   * connection: a command under the default timeout then costs no entry and no promise of its
   * own. `null` on a Cluster (a stalled node is one of several) and without a timeout.
   */
  readonly #watch: StallWatch | null
  /**
   * Calls with their own deadline longer than the default, or none, in flight. While one is,
   * default calls take the path with a deadline entry each: queued behind it they wait for it,
   * and each still fails at its own deadline without the connection being replaced.
   */
  #longInFlight = 0
  /** Bumped each time the stall watch replaces the connection; a call remembers it when sent. */
  #resets = 0
  /** The lean path's reply handler: one function for every command. */
  readonly #leanReplied = (reply: RedisReply): RedisReply => {
    this.#watch!.settled++
    return reply
  }
  #closed = false
  /** Bumped on every fresh connection: a timed-out command is retried only on a new one (or on a Cluster, whose slot map may have moved). */
  #epoch = 0

  constructor(driver: DriverPort, options: ConnectionOptions) {
    this.#driver = driver
    this.#options = options
    this.#routesByKey = driver.routesByKey === true
    this.#watch =
      driver.resetCommandConnection !== undefined && !this.#routesByKey && options.commandTimeoutMs > 0
        ? new StallWatch(options.commandTimeoutMs, () => this.#stalled())
        : null
    this.#defaultQueue = this.#deadlines.queue(Math.max(1, options.commandTimeoutMs))
    this.#offline = new OfflineQueue(this.#deadlines, options.offlineQueue.maxSize)
    this.#retryBackoff = {
      initialDelayMs: options.retry.initialDelayMs,
      maxDelayMs: options.retry.maxDelayMs,
      jitter: 'full',
    }
    driver.onEvent((event) => {
      if (event.type !== 'ready') return
      this.#epoch++
      this.#offline.flush()
    })
  }

  get isReady(): boolean {
    return this.#driver.isReady
  }

  get driverName(): string {
    return this.#driver.name
  }

  /** The driver behind this connection (for capabilities that need a duplicate or every master). */
  get driver(): DriverPort {
    return this.#driver
  }

  command(args: readonly RedisArg[], options?: CallOptions): Promise<RedisReply> {
    if (commandChannel.hasSubscribers) {
      return commandChannel.tracePromise(() => this.#command(args, options), {
        command: commandName(args[0]),
      })
    }
    return this.#command(args, options)
  }

  #command(args: readonly RedisArg[], options: CallOptions | undefined): Promise<RedisReply> {
    this.stats.commands++
    if (this.#closed) return Promise.reject(this.#closedError())
    if (this.#options.durableWrites !== null && options?.durable === true)
      return this.#durableCommand(args, options)
    if (!this.#driver.isReady)
      return this.#whenOnline(args, () => this.#sendOnce(args, options, false), options)
    // Whether the command may be retried is only worked out if it fails.
    if (this.#watch !== null && this.#longInFlight === 0 && options?.timeoutMs === undefined)
      return this.#sendLean(args, options)
    return this.#sendOnce(args, options, true)
  }

  /**
   * The hot path under the default timeout: the caller holds the promise derived from the
   * driver's, and the connection's `StallWatch` enforces the deadline by replacing a stalled
   * connection, whose driver then rejects what it had in flight.
   */
  #sendLean(args: readonly RedisArg[], options: CallOptions | undefined): Promise<RedisReply> {
    const work = this.#driver.command(args, options?.buffers === true ? DRIVER_BUFFERS : undefined)
    const seq = this.#watch!.next()
    return work.then(this.#leanReplied, (err: unknown) => this.#leanFailed(seq, args, options, err))
  }

  #leanFailed(
    seq: number,
    args: readonly RedisArg[],
    options: CallOptions | undefined,
    err: unknown,
  ): Promise<RedisReply> {
    const watch = this.#watch!
    watch.settled++
    if (this.#closed) throw this.#fail(err, args)
    if (seq < watch.expiredBelow) {
      // As for a timed-out first attempt below: its retry budget (one timeout) is spent.
      this.stats.timeouts++
      this.stats.failures++
      throw this.#timeoutError(args, this.#options.commandTimeoutMs)
    }
    // Queued behind a command that passed its deadline: it may have run, so not UNAVAILABLE
    // (which callers read as "not sent"); an idempotent one is sent again on the new connection.
    const stalled = seq < watch.resetBelow
    const error = this.#failSent(err, args, stalled)
    if (this.#retriable(err) && this.#options.retry.attempts > 0 && this.#isIdempotent(args, options)) {
      const retry = (timeoutMs: number): Promise<RedisReply> =>
        this.#sendOnce(args, timeoutMs > 0 ? { ...options, timeoutMs } : options, false)
      return this.#retry(error, retry, options, performance.now() - (stalled ? watch.ageMs(seq) : 0))
    }
    throw error
  }

  /**
   * A connection error on a call sent before the stall watch replaced the connection: it was in
   * the socket behind the stalled command and may have run.
   */
  #lostToStall(err: unknown, resetsAtSend: number): boolean {
    return resetsAtSend !== this.#resets && isConnectionError(err)
  }

  /** The error of a call the driver had accepted: `stalled` when it was lost to a stall reset. */
  #failSent(err: unknown, args: readonly RedisArg[], stalled: boolean): ValkitError {
    return stalled ? this.#stalledError(args, err) : this.#fail(err, args)
  }

  #stalledError(args: readonly RedisArg[], cause: unknown): ValkitError {
    this.stats.failures++
    const name = commandName(args[0])
    return new ValkitError(
      'VALKIT_TIMEOUT',
      `${name} got no reply: a command sent before it passed its deadline (commandTimeout ${this.#options.commandTimeoutMs} ms), so the connection was replaced. It may have been applied.`,
      { cause, details: { command: name, timeoutMs: this.#options.commandTimeoutMs, stalled: true } },
    )
  }

  /** A command on the connection passed its deadline: replace the connection. */
  #stalled(): void {
    this.stats.stalls++
    this.#resets++
    this.#driver.resetCommandConnection!()
  }

  #durableCommand(args: readonly RedisArg[], options: CallOptions | undefined): Promise<RedisReply> {
    const send = (): Promise<RedisReply> => this.#sendDurable(args, options)
    if (!this.#driver.isReady) return this.#whenOnline(args, send, options)
    const first = send()
    if (this.#options.retry.attempts === 0 || !this.#isIdempotent(args, options)) return first
    return first.catch((err: unknown) => this.#retry(err, send, options, performance.now()))
  }

  /** A first attempt that failed: retries are on and the command is idempotent. */
  #mayRetry(call: PendingCall): boolean {
    return this.#options.retry.attempts > 0 && this.#isIdempotent(call.args, call.options)
  }

  #isIdempotent(args: readonly RedisArg[], options: CallOptions | undefined): boolean {
    return options?.idempotent ?? isIdempotentCommand(args)
  }

  /**
   * One attempt under one deadline: the hot path. One `PendingCall` per command is both the
   * deadline entry and the holder of the caller's settle functions; when `retry` is set (a
   * first attempt) and the command is idempotent, a retriable failure or a timeout continues
   * in `#retry` instead of rejecting.
   */
  #sendOnce(
    args: readonly RedisArg[],
    options: CallOptions | undefined,
    retry: boolean,
  ): Promise<RedisReply> {
    const timeoutMs = options?.timeoutMs ?? this.#options.commandTimeoutMs
    const key = options?.key ?? (args.length > 1 ? args[1] : undefined)
    const buffers = options?.buffers === true
    // Options for the driver only when it needs them; one shared object for buffers alone.
    const work = this.#driver.command(
      args,
      this.#routesByKey && key !== undefined ? { key, buffers } : buffers ? DRIVER_BUFFERS : undefined,
    )
    const call = new PendingCall(this, args, options, timeoutMs, key, retry)
    call.resets = this.#resets
    if (this.#watch !== null && (timeoutMs <= 0 || timeoutMs > this.#options.commandTimeoutMs)) {
      call.long = true
      this.#longInFlight++
    }
    if (timeoutMs > 0) {
      const queue =
        timeoutMs === this.#options.commandTimeoutMs ? this.#defaultQueue : this.#deadlines.queue(timeoutMs)
      call.queue = queue
      queue.add(call)
    }
    work.then(
      (reply) => this.#replied(call, reply),
      (err: unknown) => this.#errored(call, err),
    )
    return call.promise
  }

  #replied(call: PendingCall, reply: RedisReply): void {
    if (call.done) return
    call.done = true
    call.queue?.settled()
    if (call.long) this.#longInFlight--
    call.resolve(reply)
  }

  #errored(call: PendingCall, err: unknown): void {
    if (call.done) return
    call.done = true
    call.queue?.settled()
    if (call.long) this.#longInFlight--
    const stalled = this.#lostToStall(err, call.resets)
    const error = this.#failSent(err, call.args, stalled)
    // Behind a stall it waited a while already: its budget counts from about when it was sent.
    const queue = call.queue
    const ageMs = stalled && queue !== null ? (queue.generation - call.deadline) * queue.tickMs : 0
    if (call.retry && this.#retriable(err) && this.#mayRetry(call))
      call.resolve(this.#retryCall(call, error, ageMs))
    else call.reject(error)
  }

  /** Called by `Deadlines` (through the call) when a command's deadline passed first. @internal */
  expired(call: PendingCall): void {
    this.stats.timeouts++
    this.stats.failures++
    if (call.long) this.#longInFlight--
    this.#driver.commandTimedOut?.(call.key)
    const error = this.#timeoutError(call.args, call.timeoutMs)
    if (call.retry && this.#mayRetry(call)) call.resolve(this.#retryCall(call, error, call.timeoutMs))
    else call.reject(error)
  }

  #timeoutError(args: readonly RedisArg[], timeoutMs: number): ValkitError {
    const name = commandName(args[0])
    return new ValkitError(
      'VALKIT_TIMEOUT',
      `${name} got no reply within ${timeoutMs} ms (commandTimeout).`,
      {
        details: { command: name, timeoutMs },
      },
    )
  }

  /** `elapsedMs`: how long the first attempt took (its timeout when it expired; ~0 for a quick failure). */
  #retryCall(call: PendingCall, err: unknown, elapsedMs: number): Promise<RedisReply> {
    const { args, options } = call
    return this.#retry(
      err,
      (timeoutMs) => this.#sendOnce(args, timeoutMs > 0 ? { ...options, timeoutMs } : options, false),
      options,
      performance.now() - elapsedMs,
    )
  }

  #fail(err: unknown, args: readonly RedisArg[]): ValkitError {
    this.stats.failures++
    if (this.#closed) {
      return new ValkitError(
        'VALKIT_CLOSED',
        `${commandName(args[0])}: the valkit instance was closed before the reply.`,
        {
          cause: err,
          details: { command: commandName(args[0]) },
        },
      )
    }
    const error = classifyCommandError(err, commandName(args[0]))
    if (error.code === 'VALKIT_UNAVAILABLE' && this.#driver.lastError) {
      return new ValkitError(
        'VALKIT_UNAVAILABLE',
        `${error.message} Last connection error: ${this.#driver.lastError.message}`,
        { cause: err, ...(error.details ? { details: error.details } : {}) },
      )
    }
    return error
  }

  /** The write, then WAIT in the same round trip; fails when too few replicas confirmed it. */
  async #sendDurable(args: readonly RedisArg[], options: CallOptions | undefined): Promise<RedisReply> {
    const durable = this.#options.durableWrites!
    const key = options?.key ?? args[1]
    const [reply, acks] = await this.pipeline([args, ['WAIT', durable.replicas, durable.timeoutMs]], {
      ...options,
      ...(key !== undefined ? { key } : {}),
      timeoutMs: (options?.timeoutMs ?? this.#options.commandTimeoutMs) + durable.timeoutMs,
    })
    if (reply instanceof Error) throw reply
    if (acks instanceof Error) throw acks
    if (typeof acks !== 'number' || acks < durable.replicas) {
      throw new ValkitError(
        'VALKIT_NOT_DURABLE',
        `${commandName(args[0])} was applied on the master but confirmed by ${typeof acks === 'number' ? acks : 0} of ${durable.replicas} replicas within ${durable.timeoutMs} ms; treat it as possibly lost on failover.`,
        { details: { acks, replicas: durable.replicas } },
      )
    }
    return reply ?? null
  }

  /**
   * Retries an idempotent call whose first attempt failed. The whole call, retries included,
   * stays within one command timeout: a caller never waits longer because valkit retried.
   */
  async #retry(
    err: unknown,
    send: (timeoutMs: number) => Promise<RedisReply>,
    options: CallOptions | undefined,
    startedAt: number,
  ): Promise<RedisReply> {
    const budgetMs = options?.timeoutMs ?? this.#options.commandTimeoutMs
    let lastError = err
    const epoch = this.#epoch
    for (let attempt = 1; attempt <= this.#options.retry.attempts; attempt++) {
      if (!this.#retriable(lastError) || this.#closed) break
      const delay = backoffDelay(this.#retryBackoff, attempt)
      if (budgetMs > 0 && performance.now() - startedAt + delay > budgetMs) break
      await sleep(delay)
      // A retry belongs to a call made while connected: wait briefly for the reconnect. A reset
      // with the server still there reconnects within a few backoff steps; a server that is
      // gone should not hold every caller for its whole timeout (fail fast is the default).
      if (!this.#driver.isReady) {
        const left =
          budgetMs > 0 ? budgetMs - (performance.now() - startedAt) : this.#options.commandTimeoutMs
        if (left <= 0 || !(await this.#untilReady(Math.min(left, this.#options.reconnectWaitMs)))) break
      }
      // Sending a timed-out command again down the same stalled socket only multiplies the wait.
      if (isValkitError(lastError, 'VALKIT_TIMEOUT') && !this.#routesByKey && this.#epoch === epoch) break
      const left = budgetMs > 0 ? budgetMs - (performance.now() - startedAt) : 0
      if (budgetMs > 0 && left < 1) break
      // Rounded down to 50 ms (never past what is left) so that retries share a few deadline queues.
      this.stats.retries++
      try {
        return await send(budgetMs > 0 ? (left >= 50 ? Math.floor(left / 50) * 50 : Math.ceil(left)) : 0)
      } catch (next) {
        lastError = next
      }
    }
    throw lastError
  }

  /** Resolves true when the driver is ready, false after `ms` or on close. */
  #untilReady(ms: number): Promise<boolean> {
    if (this.#driver.isReady) return Promise.resolve(true)
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        off()
        resolve(false)
      }, ms)
      const off = this.#driver.onEvent((event) => {
        if (event.type !== 'ready') return
        clearTimeout(timer)
        off()
        resolve(true)
      })
    })
  }

  #retriable(err: unknown): boolean {
    if (err instanceof ValkitError) {
      if (
        err.code === 'VALKIT_TIMEOUT' ||
        err.code === 'VALKIT_UNAVAILABLE' ||
        err.code === 'VALKIT_READONLY'
      )
        return true
      return err.cause !== undefined && isTransientReply(err.cause)
    }
    return isConnectionError(err) || isTransientReply(err)
  }

  /** Not connected: fail fast, or wait in the bounded offline queue when it is on. */
  #whenOnline(
    args: readonly RedisArg[],
    send: () => Promise<RedisReply>,
    options: CallOptions | undefined,
  ): Promise<RedisReply> {
    const queue = this.#options.offlineQueue
    if (!queue.enabled || this.#offline.full) {
      this.stats.rejectedOffline++
      this.stats.failures++
      return Promise.reject(this.#unavailable(args, queue.enabled ? 'the offline queue is full' : undefined))
    }
    this.stats.queuedOffline++
    const waitMs = options?.timeoutMs ?? queue.maxWaitMs
    return this.#offline.enqueue(send, waitMs, () => {
      this.stats.failures++
      return this.#unavailable(args, `still offline after ${waitMs} ms in the offline queue`)
    })
  }

  #unavailable(args: readonly RedisArg[], why?: string): ValkitError {
    const last = this.#driver.lastError
    const where = this.#driver.endpoint ?? 'the server'
    const reason = why ?? `not connected to ${where}${last ? ` (${last.message})` : ''}`
    return new ValkitError(
      'VALKIT_UNAVAILABLE',
      `${commandName(args[0])} not sent: ${reason}. valkit fails fast while disconnected; enable \`offlineQueue\` to wait instead.`,
      { ...(last ? { cause: last } : {}), details: { command: commandName(args[0]) } },
    )
  }

  #closedError(): ValkitError {
    return new ValkitError('VALKIT_CLOSED', 'This valkit instance is closed; create a new one.')
  }

  script(
    script: ScriptRef,
    keys: readonly RedisArg[],
    args: readonly RedisArg[],
    options?: CallOptions,
  ): Promise<RedisReply> {
    const buffers = options?.buffers ? SCRIPT_BUFFERS : undefined
    if (
      options?.timeoutMs === undefined &&
      options?.idempotent === undefined &&
      options?.durable === undefined
    ) {
      return runScript(this, script, keys, args, buffers)
    }
    // The call's deadline, retry and durability options go with each command the script sends.
    const { timeoutMs, idempotent, durable } = options
    const target = {
      command: (command: readonly RedisArg[], commandOptions?: { key?: RedisArg; buffers?: boolean }) =>
        this.command(command, { ...commandOptions, timeoutMs, idempotent, durable }),
    }
    return runScript(target, script, keys, args, buffers)
  }

  pipeline(
    commands: readonly (readonly RedisArg[])[],
    options?: CallOptions,
  ): Promise<(RedisReply | Error)[]> {
    if (this.#closed) return Promise.reject(this.#closedError())
    this.stats.commands += commands.length
    if (!this.#driver.isReady) {
      this.stats.rejectedOffline++
      return Promise.reject(this.#unavailable(commands[0] ?? ['PIPELINE']))
    }
    const timeoutMs = options?.timeoutMs ?? this.#options.commandTimeoutMs
    const key = options?.key ?? commands[0]?.[1]
    const resets = this.#resets
    const failed = (err: unknown, args: readonly RedisArg[]): ValkitError =>
      this.#failSent(err, args, this.#lostToStall(err, resets))
    const work = this.#driver
      .pipeline(commands, { ...(key !== undefined ? { key } : {}), buffers: options?.buffers === true })
      .then((replies) => replies.map((r, i) => (r instanceof Error ? failed(r, commands[i]!) : r)))
    if (this.#watch === null || (timeoutMs > 0 && timeoutMs <= this.#options.commandTimeoutMs))
      return this.#pipelineDeadline(work, commands, timeoutMs, failed)
    // A longer deadline than the default, or none: see #longInFlight.
    this.#longInFlight++
    const done = (): void => {
      this.#longInFlight--
    }
    const guarded = this.#pipelineDeadline(work, commands, timeoutMs, failed)
    guarded.then(done, done)
    return guarded
  }

  #pipelineDeadline(
    work: Promise<(RedisReply | Error)[]>,
    commands: readonly (readonly RedisArg[])[],
    timeoutMs: number,
    failed: (err: unknown, args: readonly RedisArg[]) => ValkitError,
  ): Promise<(RedisReply | Error)[]> {
    if (timeoutMs <= 0) return work
    return new Promise((resolve, reject) => {
      const finish = this.#deadlines.track(timeoutMs, () => {
        this.stats.timeouts++
        reject(
          new ValkitError(
            'VALKIT_TIMEOUT',
            `A pipeline of ${commands.length} commands got no reply within ${timeoutMs} ms.`,
          ),
        )
      })
      work.then(
        (r) => {
          finish()
          resolve(r)
        },
        (err: unknown) => {
          finish()
          reject(failed(err, commands[0] ?? ['PIPELINE']))
        },
      )
    })
  }

  subscribe(channel: string, listener: MessageListener): Promise<void> {
    return this.#driver.subscribe(channel, listener)
  }

  unsubscribe(channel: string, listener?: MessageListener): Promise<void> {
    return this.#driver.unsubscribe(channel, listener)
  }

  /** Rejects queued calls and stops timers; the driver is closed by the owner. */
  close(): void {
    this.#closed = true
    this.#offline.rejectAll(this.#closedError())
    this.#deadlines.close()
    this.#watch?.close()
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
