import { invalidOption, parseDuration, type Duration } from '../core/index.js'

/** Confirmation of grants and renewals by replicas (`WAIT`), for locks that must survive a failover. */
export interface CoordDurableOptions {
  /**
   * Replicas that must confirm a grant or a renewal. A grant they do not confirm in time is
   * given back and the call fails with `VALKIT_NOT_DURABLE`; a renewal they do not confirm does
   * not move the lease's local expiry.
   * @defaultValue 1
   */
  readonly replicas?: number
  /**
   * How long `WAIT` waits for them.
   * @defaultValue '100ms'
   */
  readonly timeout?: Duration
}

/** Deadlock detection between agents (see `AcquireOptions.agent`). */
export interface CoordDeadlockOptions {
  /**
   * How often this instance searches the wait-for graph again for cycles through its agents'
   * waits (the search also runs at once when a wait starts) and for locks held too long.
   * It runs only while this instance has agent waits or holds.
   * @defaultValue '1s'
   */
  readonly sweepInterval?: Duration
  /**
   * Locks taken by an agent and held longer than this are reported (`coord.onStuckLock`, a
   * warning, `coord_locks_recovered_total`) and taken back: released on the server, so the
   * next waiter gets them (with a larger fencing token). `0` turns it off.
   * @defaultValue 0
   */
  readonly maxHold?: Duration
}

/**
 * Options of `createCoord`, the defaults of every lock, semaphore and election made on it.
 *
 * @example
 * ```ts
 * const coord = createCoord(valkit, { ttl: '30s', wait: '5s', fair: true, durable: { replicas: 1 } })
 * ```
 */
export interface CoordOptions {
  /**
   * How long a grant lives on the server unless it is extended (milliseconds or `'10s'`): a
   * holder that crashes frees its lock after this time.
   * @defaultValue '10s'
   */
  readonly ttl?: Duration
  /**
   * How long `acquire` waits for a busy lock before it answers `{ acquired: false, reason: 'timeout' }`;
   * `0` tries once (`reason: 'busy'`).
   * @defaultValue '10s'
   */
  readonly wait?: Duration
  /**
   * First in, first out: waiters queue on the server in arrival order and a release hands the
   * lock to the head of the queue, so nobody overtakes and everyone is served. `false`: a
   * release wakes one waiter per instance and the fastest caller wins (no queue on the server).
   * @defaultValue false
   */
  readonly fair?: boolean
  /**
   * The clock-drift allowance subtracted from every lease's local expiry: `driftFactor × ttl +
   * driftMs`. The holder considers the lease gone (its `signal` aborts, `held` turns false,
   * a leader is demoted) this much before the server can grant it to someone else.
   * @defaultValue 0.01
   */
  readonly driftFactor?: number
  /**
   * The fixed part of the drift allowance, in milliseconds.
   * @defaultValue 2
   */
  readonly driftMs?: number
  /**
   * How long a resource's fencing counter is kept after its last grant. Tokens are
   * `max(last + 1, server time in µs)`, so a counter that expired (or was lost in a restart or
   * failover) still yields larger tokens unless the server clock went back by more than this.
   * @defaultValue '24h'
   */
  readonly fenceRetention?: Duration
  /**
   * While Redis/Valkey is unreachable: `'fail'` refuses every grant with `VALKIT_UNAVAILABLE`
   * (a lock that cannot be proven is not granted); `'local'` grants in-process leases
   * (`lease.local === true`) that exclude only callers in this process — opt in only where that is enough.
   * @defaultValue 'fail'
   */
  readonly whenUnavailable?: 'fail' | 'local'
  /**
   * Have grants and renewals confirmed by replicas (`WAIT`), or `false`.
   * @defaultValue false
   */
  readonly durable?: false | CoordDurableOptions
  /**
   * Deadlock detection for acquires that name an `agent`, or `false`.
   * @defaultValue `{ sweepInterval: '1s', maxHold: 0 }`
   */
  readonly deadlock?: false | CoordDeadlockOptions
}

/** {@link CoordOptions} after validation, in milliseconds. */
export interface ResolvedCoordOptions {
  readonly ttlMs: number
  readonly waitMs: number
  readonly fair: boolean
  readonly driftFactor: number
  readonly driftMs: number
  readonly fenceRetentionMs: number
  readonly whenUnavailable: 'fail' | 'local'
  readonly durable: false | { readonly replicas: number; readonly timeoutMs: number }
  readonly deadlock: false | { readonly sweepIntervalMs: number; readonly maxHoldMs: number }
}

/**
 * Defaults of {@link CoordOptions}, resolved.
 *
 * @example
 * ```ts
 * COORD_DEFAULTS.ttlMs // 10000
 * ```
 */
export const COORD_DEFAULTS: ResolvedCoordOptions = Object.freeze({
  ttlMs: 10_000,
  waitMs: 10_000,
  fair: false,
  driftFactor: 0.01,
  driftMs: 2,
  fenceRetentionMs: 24 * 3600_000,
  whenUnavailable: 'fail',
  durable: false,
  deadlock: Object.freeze({ sweepIntervalMs: 1000, maxHoldMs: 0 }),
})

/**
 * A duration of at least `min` ms (and at most what timers support, ~24.8 days), or the
 * fallback when undefined.
 *
 * @internal
 */
export function durationOption(value: unknown, path: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback
  const ms = parseDuration(value, path)
  if (!(ms >= min)) throw invalidOption(path, `got ${ms} ms`, `a duration of at least ${min} ms`)
  return ms
}

function booleanOption(value: unknown, path: string, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw invalidOption(path, `got ${typeof value}`, 'a boolean')
  return value
}

function numberOption(value: unknown, path: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !(value >= min && value <= max)) {
    throw invalidOption(
      path,
      `got ${typeof value === 'number' ? value : typeof value}`,
      `a number from ${min} to ${max}`,
    )
  }
  return value
}

/**
 * Validates coordination options and applies defaults.
 *
 * @example
 * ```ts
 * resolveCoordOptions({ ttl: '30s', fair: true }).ttlMs // 30000
 * ```
 * @throws ValkitError `VALKIT_INVALID_OPTION` naming the option's path (`coord.ttl`).
 */
export function resolveCoordOptions(options: CoordOptions = {}, path = 'coord'): ResolvedCoordOptions {
  if (typeof options !== 'object' || options === null) {
    throw invalidOption(path, `got ${options === null ? 'null' : typeof options}`, 'an object')
  }
  const d = COORD_DEFAULTS
  const whenUnavailable = options.whenUnavailable ?? d.whenUnavailable
  if (whenUnavailable !== 'fail' && whenUnavailable !== 'local') {
    throw invalidOption(
      `${path}.whenUnavailable`,
      `got ${JSON.stringify(whenUnavailable)}`,
      "'fail' or 'local'",
    )
  }
  let durable: ResolvedCoordOptions['durable'] = false
  if (options.durable !== undefined && options.durable !== false) {
    if (typeof options.durable !== 'object' || options.durable === null) {
      throw invalidOption(`${path}.durable`, `got ${String(options.durable)}`, 'false or an object')
    }
    const replicas = options.durable.replicas ?? 1
    if (!Number.isSafeInteger(replicas) || replicas < 1 || replicas > 16) {
      throw invalidOption(`${path}.durable.replicas`, `got ${String(replicas)}`, 'an integer from 1 to 16')
    }
    durable = Object.freeze({
      replicas,
      timeoutMs: durationOption(options.durable.timeout, `${path}.durable.timeout`, 100),
    })
  }
  let deadlock: ResolvedCoordOptions['deadlock'] = d.deadlock
  if (options.deadlock === false) deadlock = false
  else if (options.deadlock !== undefined) {
    if (typeof options.deadlock !== 'object' || options.deadlock === null) {
      throw invalidOption(`${path}.deadlock`, `got ${String(options.deadlock)}`, 'false or an object')
    }
    deadlock = Object.freeze({
      sweepIntervalMs: durationOption(
        options.deadlock.sweepInterval,
        `${path}.deadlock.sweepInterval`,
        1000,
        10,
      ),
      maxHoldMs: durationOption(options.deadlock.maxHold, `${path}.deadlock.maxHold`, 0, 0),
    })
  }
  return Object.freeze({
    ttlMs: durationOption(options.ttl, `${path}.ttl`, d.ttlMs),
    waitMs: durationOption(options.wait, `${path}.wait`, d.waitMs, 0),
    fair: booleanOption(options.fair, `${path}.fair`, d.fair),
    driftFactor: numberOption(options.driftFactor, `${path}.driftFactor`, d.driftFactor, 0, 0.5),
    driftMs: numberOption(options.driftMs, `${path}.driftMs`, d.driftMs, 0, 60_000),
    fenceRetentionMs: durationOption(
      options.fenceRetention,
      `${path}.fenceRetention`,
      d.fenceRetentionMs,
      60_000,
    ),
    whenUnavailable,
    durable,
    deadlock,
  })
}
