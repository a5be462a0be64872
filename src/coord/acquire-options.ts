import { ValkitError, invalidOption } from '../core/index.js'
import { durationOption, type ResolvedCoordOptions } from './coord-options.js'
import type { AcquireOptions, LeaseKind } from './lease-types.js'
import type { SlotMode, SlotRef } from './slot-backend.js'
import type { WaitSpec } from './waiting.js'

/** Per-call options after validation. @internal */
export interface ResolvedAcquire {
  readonly ttlMs: number
  readonly waitMs: number
  readonly fair: boolean
  readonly watchdog: boolean
  readonly maxHoldMs: number
  readonly signal: AbortSignal | undefined
  readonly agent: string | undefined
}

const AGENT = /^[^\s{}]{1,200}$/

/**
 * Resolves an acquire's options against the coord's defaults. Without options it returns one
 * cached object per (defaults, watchdog) pair, so the hot path allocates nothing here.
 *
 * @internal
 */
export function resolveAcquire(
  options: AcquireOptions | undefined,
  defaults: ResolvedCoordOptions,
  watchdogDefault: boolean,
): ResolvedAcquire {
  if (options === undefined) return cachedDefaults(defaults, watchdogDefault)
  if (typeof options !== 'object' || options === null) {
    throw new ValkitError('VALKIT_INVALID_ARGUMENT', 'Acquire options must be an object.', {
      details: { argument: 'options' },
    })
  }
  const fair = options.fair ?? defaults.fair
  if (typeof fair !== 'boolean') throw invalidOption('fair', `got ${typeof fair}`, 'a boolean')
  const watchdog = options.watchdog ?? watchdogDefault
  if (typeof watchdog !== 'boolean') throw invalidOption('watchdog', `got ${typeof watchdog}`, 'a boolean')
  const agent = options.agent
  if (agent !== undefined && (typeof agent !== 'string' || !AGENT.test(agent))) {
    throw invalidOption('agent', `got ${JSON.stringify(agent)}`, '1-200 characters without spaces or braces')
  }
  const signal = options.signal
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw invalidOption('signal', `got ${typeof signal}`, 'an AbortSignal')
  }
  return {
    ttlMs: durationOption(options.ttl, 'ttl', defaults.ttlMs),
    waitMs: durationOption(options.wait, 'wait', defaults.waitMs, 0),
    fair,
    watchdog,
    maxHoldMs: durationOption(options.maxHold, 'maxHold', 0, 0),
    signal,
    agent,
  }
}

const cache = new WeakMap<ResolvedCoordOptions, [ResolvedAcquire, ResolvedAcquire]>()

function cachedDefaults(defaults: ResolvedCoordOptions, watchdog: boolean): ResolvedAcquire {
  let pair = cache.get(defaults)
  if (pair === undefined) {
    const base = {
      ttlMs: defaults.ttlMs,
      waitMs: defaults.waitMs,
      fair: defaults.fair,
      maxHoldMs: 0,
      signal: undefined,
      agent: undefined,
    }
    pair = [Object.freeze({ ...base, watchdog: false }), Object.freeze({ ...base, watchdog: true })]
    cache.set(defaults, pair)
  }
  return pair[watchdog ? 1 : 0]
}

/** The engine's view of one acquire. @internal */
export function waitSpec(
  ref: SlotRef,
  kind: LeaseKind,
  mode: SlotMode,
  limit: number,
  a: ResolvedAcquire,
): WaitSpec {
  return {
    ref,
    kind,
    mode,
    limit,
    ttlMs: a.ttlMs,
    waitMs: a.waitMs,
    fair: a.fair,
    watchdog: a.watchdog,
    maxHoldMs: a.maxHoldMs,
    signal: a.signal,
    agent: a.agent,
  }
}
