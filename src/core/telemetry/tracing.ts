import diagnosticsChannel from 'node:diagnostics_channel'
import type { Channel, TracingChannel } from 'node:diagnostics_channel'
import { ValkitError } from '../errors.js'

const CHANNEL_NAME = /^valkit:[a-z][a-z0-9-]*:[a-zA-Z][a-zA-Z0-9_.-]*$/

/**
 * Runs a promise-returning operation, traced on a tracing channel when someone listens.
 * Same arguments as `TracingChannel.tracePromise`: the function, the context object the
 * subscribers receive (it gets `result` or `error` added), `this`, then the arguments.
 */
export interface TracedOperation {
  <T, A extends unknown[]>(
    fn: (...args: A) => Promise<T>,
    context?: Record<string, unknown>,
    thisArg?: unknown,
    ...args: A
  ): Promise<T>
  /** The underlying tracing channel (to subscribe to it directly). */
  readonly channel: TracingChannel<unknown, Record<string, unknown>>
  /** Whether anyone listens; check it first on a hot path to skip building the context. */
  readonly hasSubscribers: boolean
}

function assertChannelName(name: string): void {
  if (typeof name !== 'string' || !CHANNEL_NAME.test(name)) {
    throw new ValkitError(
      'VALKIT_INVALID_ARGUMENT',
      `Invalid channel name ${JSON.stringify(name)}: expected valkit:<capability>:<op>.`,
      { details: { argument: 'channelName' } },
    )
  }
}

/**
 * Returns a wrapper that runs an operation inside `tracingChannel(name).tracePromise` only when
 * the channel has subscribers; otherwise it calls the function directly, so the hot path pays
 * one boolean check. This is where OpenTelemetry (or any APM) attaches.
 *
 * @example
 * ```ts
 * const traceGet = traced('valkit:cache:get')
 * function get(key: string) {
 *   if (!traceGet.hasSubscribers) return load(key)
 *   return traceGet(load, { key }, undefined, key)
 * }
 * ```
 * @throws ValkitError `VALKIT_INVALID_ARGUMENT` if the name is not `valkit:<capability>:<op>`.
 */
export function traced(channelName: string): TracedOperation {
  assertChannelName(channelName)
  const channel = diagnosticsChannel.tracingChannel<unknown, Record<string, unknown>>(channelName)
  const { start, end, asyncStart, asyncEnd, error } = channel
  const listening = (): boolean =>
    start.hasSubscribers ||
    end.hasSubscribers ||
    asyncStart.hasSubscribers ||
    asyncEnd.hasSubscribers ||
    error.hasSubscribers
  const run = function <T, A extends unknown[]>(
    fn: (...args: A) => Promise<T>,
    context?: Record<string, unknown>,
    thisArg?: unknown,
    ...args: A
  ): Promise<T> {
    if (!listening()) return fn.apply(thisArg, args)
    return channel.tracePromise(fn, context ?? {}, thisArg, ...args)
  }
  Object.defineProperty(run, 'channel', { value: channel, enumerable: true })
  Object.defineProperty(run, 'hasSubscribers', { get: listening, enumerable: true })
  return run as TracedOperation
}

/**
 * Returns a function that publishes a message on a plain channel only when it has
 * subscribers (the message factory is not even called otherwise).
 *
 * @example
 * ```ts
 * const publishState = publisher(CORE_STATE_CHANNEL)
 * publishState(() => ({ from: 'ready', to: 'degraded', reason: 'ping timeout' }))
 * ```
 */
export function publisher(
  channelName: string,
): ((message: () => unknown) => void) & { readonly channel: Channel } {
  assertChannelName(channelName)
  const channel = diagnosticsChannel.channel(channelName)
  const publish = (message: () => unknown): void => {
    if (channel.hasSubscribers) channel.publish(message())
  }
  Object.defineProperty(publish, 'channel', { value: channel, enumerable: true })
  return publish as ((message: () => unknown) => void) & { readonly channel: Channel }
}
