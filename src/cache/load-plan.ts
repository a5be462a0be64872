import { parseDuration, type Duration } from '../core/index.js'
import { checkTags, invalidArgument } from './cache-arguments.js'
import { parseTtl, resolveLoaderTimeout, type ResolvedCacheOptions } from './cache-options.js'
import type { CacheSchema, GetOrSetOptions } from './cache-types.js'

/**
 * How one `getOrSet` call loads and stores: its options resolved against the cache's. A call
 * without options uses the cache's default plan, made once.
 *
 * @internal
 */
export interface LoadPlan {
  /** Milliseconds, or a function of the loaded value. */
  readonly ttl: number | ((value: unknown) => Duration)
  /** Tags, `null` for none, or a function of the loaded value. */
  readonly tags: string[] | null | ((value: unknown) => readonly string[])
  readonly staleWhileRevalidateMs: number
  readonly graceMs: number
  /** How long a stored value is kept past its TTL: the larger of the two windows. */
  readonly keepMs: number
  readonly softTimeoutMs: number
  readonly hardTimeoutMs: number
  /** Take the cross-process lease (the cache has one and the call did not turn it off). */
  readonly lease: boolean
  readonly schema: CacheSchema<unknown> | undefined
}

/** The plan of calls without options. @internal */
export function defaultPlan(options: ResolvedCacheOptions): LoadPlan {
  return Object.freeze({
    ttl: options.ttlMs,
    tags: null,
    staleWhileRevalidateMs: options.staleWhileRevalidateMs,
    graceMs: options.graceMs,
    keepMs: Math.max(options.staleWhileRevalidateMs, options.graceMs),
    softTimeoutMs: options.softTimeoutMs,
    hardTimeoutMs: options.hardTimeoutMs,
    lease: options.lease !== false,
    schema: undefined,
  })
}

/**
 * Resolves one call's options.
 * @throws ValkitError `VALKIT_INVALID_OPTION` / `VALKIT_INVALID_ARGUMENT` naming the option.
 * @internal
 */
export function resolvePlan<T>(
  base: LoadPlan,
  options: GetOrSetOptions<T>,
  cacheHasLease: boolean,
): LoadPlan {
  if (typeof options !== 'object' || options === null) {
    throw invalidArgument('getOrSet() options must be an object.')
  }
  const { ttl, tags } = options
  const swr =
    options.staleWhileRevalidate === undefined
      ? base.staleWhileRevalidateMs
      : parseDuration(options.staleWhileRevalidate, 'getOrSet() staleWhileRevalidate')
  const grace = options.grace === undefined ? base.graceMs : parseDuration(options.grace, 'getOrSet() grace')
  const timeouts =
    options.timeout === undefined
      ? { softTimeoutMs: base.softTimeoutMs, hardTimeoutMs: base.hardTimeoutMs }
      : resolveLoaderTimeout(options.timeout, 'getOrSet() timeout')
  if (options.lease !== undefined && typeof options.lease !== 'boolean') {
    throw invalidArgument('getOrSet() lease must be a boolean.')
  }
  if (options.schema !== undefined) checkSchema(options.schema, 'getOrSet() schema')
  return {
    ttl:
      ttl === undefined
        ? base.ttl
        : typeof ttl === 'function'
          ? (ttl as (value: unknown) => Duration)
          : parseTtl(ttl, 'getOrSet() ttl'),
    tags:
      tags === undefined
        ? base.tags
        : typeof tags === 'function'
          ? (tags as (value: unknown) => readonly string[])
          : checkTags(tags, 'getOrSet() tags'),
    staleWhileRevalidateMs: swr,
    graceMs: grace,
    keepMs: Math.max(swr, grace),
    ...timeouts,
    lease: cacheHasLease && (options.lease ?? true),
    schema: options.schema,
  }
}

/** The TTL of a loaded value (the plan's, or the one its function chose). @internal */
export function planTtl(plan: LoadPlan, value: unknown): number {
  return typeof plan.ttl === 'function' ? parseTtl(plan.ttl(value), 'getOrSet() ttl(value)') : plan.ttl
}

/** The tags of a loaded value. @internal */
export function planTags(plan: LoadPlan, value: unknown): string[] | null {
  return typeof plan.tags === 'function' ? checkTags(plan.tags(value), 'getOrSet() tags(value)') : plan.tags
}

/**
 * Checks that a schema is one valkit can use.
 * @throws ValkitError `VALKIT_INVALID_ARGUMENT`
 * @internal
 */
export function checkSchema(schema: unknown, what: string): void {
  const ok =
    typeof schema === 'object' &&
    schema !== null &&
    (typeof (schema as { parse?: unknown }).parse === 'function' ||
      typeof (schema as { '~standard'?: { validate?: unknown } })['~standard']?.validate === 'function')
  if (!ok) throw invalidArgument(`${what} must have a parse(value) method or be a Standard Schema.`)
}

/** What {@link validate} returns for a value that fails its schema. @internal */
export const INVALID: unique symbol = Symbol('invalid')

/**
 * The value as the schema accepts it (possibly transformed), or {@link INVALID}.
 * @throws ValkitError `VALKIT_INVALID_ARGUMENT` for an asynchronous Standard Schema.
 * @internal
 */
export function validate(schema: CacheSchema<unknown>, value: unknown): unknown {
  if ('~standard' in schema) {
    const result = schema['~standard'].validate(value)
    if (result instanceof Promise) {
      void result.catch(() => {})
      throw invalidArgument('The cache reads values synchronously: use a synchronous schema.')
    }
    return result.issues === undefined ? result.value : INVALID
  }
  try {
    return schema.parse(value)
  } catch {
    return INVALID
  }
}
