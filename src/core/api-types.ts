/**
 * The public shape of a valkit instance and its core parts. Implemented in `core/`; consumed
 * by capabilities, `server/` and `cli/`.
 */
import type { RedisArg, RedisReply, MessageListener } from './driver/port.js'
import type { Script } from './scripts/script.js'
import type { HealthReport, LatencySummary, StateChange, SupervisorState } from './health-types.js'

/** Options of one command call. */
export interface CallOptions {
  /** The key that routes the command on a Cluster. Defaults to `args[1]` for keyed commands. */
  readonly key?: RedisArg
  /**
   * The command may be sent again after a failure without changing the result (GET, SET
   * without side effects on retry, EVALSHA of an idempotent script...). Only idempotent
   * calls are retried. Defaults to valkit's table of read-only commands.
   */
  readonly idempotent?: boolean
  /** Overrides the configured per-command deadline for this call (milliseconds). */
  readonly timeoutMs?: number
  /** Return bulk strings as Buffers. */
  readonly buffers?: boolean
  /** After the write, WAIT for this many replicas (durable write); overrides `durableWrites`. */
  readonly durable?: boolean
}

/** A Lua script as loaded by `core/scripts` (`loadScript`, `defineScript`). */
export type ScriptRef = Script

/** The command path every capability uses: deadlines, retries, offline queue, telemetry. */
export interface Connection {
  /** Sends one command; rejects with a `ValkitError` (never hangs past its deadline). */
  command(args: readonly RedisArg[], options?: CallOptions): Promise<RedisReply>
  /** Runs a script by SHA, re-sending its source on NOSCRIPT. All keys must share one hash tag. */
  script(
    script: ScriptRef,
    keys: readonly RedisArg[],
    args: readonly RedisArg[],
    options?: CallOptions,
  ): Promise<RedisReply>
  /** Sends several commands in one write; each slot holds the reply or a `ValkitError`. */
  pipeline(commands: readonly (readonly RedisArg[])[], options?: CallOptions): Promise<(RedisReply | Error)[]>
  subscribe(channel: string, listener: MessageListener): Promise<void>
  unsubscribe(channel: string, listener?: MessageListener): Promise<void>
  /** `true` when commands go to Redis/Valkey now. */
  readonly isReady: boolean
  /** Name of the driver behind the port (`node-redis`, `ioredis`) or `memory`. */
  readonly driverName: string
}

/** Watches the connection and moves between `ready`, `degraded` and `recovering`. */
export interface Supervisor {
  readonly state: SupervisorState
  /** `redis` while commands go to Redis/Valkey, `memory` while capabilities use their fallback. */
  readonly backend: 'redis' | 'memory'
  /** The last state changes, oldest first (bounded). */
  history(): readonly StateChange[]
  /** PING latency over the recent samples. */
  latency(): LatencySummary
  /** Calls `listener` on every state change. Returns a function that removes it. */
  onChange(listener: (change: StateChange) => void): () => void
  /** Resolves when the state is `state` (at once if it already is); rejects with VALKIT_TIMEOUT after `timeoutMs`. */
  waitFor(state: SupervisorState, timeoutMs?: number): Promise<void>
}

/** One valkit instance: one connection, one supervisor, one metrics registry. */
export interface ValkitCore {
  readonly connection: Connection
  readonly supervisor: Supervisor
  /** Full health report: latency, INFO, topology, findings with recommendations. */
  health(): Promise<HealthReport>
  /** Closes every connection and timer. Idempotent. */
  close(): Promise<void>
}
