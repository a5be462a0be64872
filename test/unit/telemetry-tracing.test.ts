import assert from 'node:assert/strict'
import diagnosticsChannel from 'node:diagnostics_channel'
import { describe, it } from 'node:test'
import { isValkitError } from '../../src/core/errors.js'
import {
  CORE_COMMAND_CHANNEL,
  CORE_STATE_CHANNEL,
  publisher,
  traced,
} from '../../src/core/telemetry/index.js'

type Event = [string, Record<string, unknown>]

function record(name: string) {
  const events: Event[] = []
  const handlers = {
    start: (m: unknown) => events.push(['start', m as Record<string, unknown>]),
    end: (m: unknown) => events.push(['end', m as Record<string, unknown>]),
    asyncStart: (m: unknown) => events.push(['asyncStart', m as Record<string, unknown>]),
    asyncEnd: (m: unknown) => events.push(['asyncEnd', m as Record<string, unknown>]),
    error: (m: unknown) => events.push(['error', m as Record<string, unknown>]),
  }
  const channel = diagnosticsChannel.tracingChannel(name)
  channel.subscribe(handlers)
  return { events, stop: () => channel.unsubscribe(handlers) }
}

void describe('traced()', () => {
  void it('calls the operation directly when nobody listens: no events, no tracing machinery', async () => {
    const trace = traced('valkit:test:idle')
    assert.equal(trace.hasSubscribers, false)
    const context: Record<string, unknown> = { key: 'k' }
    const result = await trace(async (a: number, b: number) => a + b, context, undefined, 2, 3)
    assert.equal(result, 5)
    assert.deepEqual(context, { key: 'k' }, 'the context was not touched by tracePromise')
  })

  void it('publishes start, end, asyncStart and asyncEnd with the result when subscribed', async () => {
    const trace = traced('valkit:test:ok')
    const { events, stop } = record('valkit:test:ok')
    assert.equal(trace.hasSubscribers, true)
    const self = { factor: 10 }
    const result = await trace(
      async function (this: typeof self, n: number) {
        return n * this.factor
      },
      { key: 'k' },
      self,
      4,
    )
    stop()
    assert.equal(result, 40)
    assert.deepEqual(
      events.map(([name]) => name),
      ['start', 'end', 'asyncStart', 'asyncEnd'],
    )
    assert.deepEqual(events[3]![1], { key: 'k', result: 40 })
    assert.equal(trace.hasSubscribers, false, 'unsubscribing turns tracing off again')
  })

  void it('publishes error (and still asyncEnd) when the operation rejects, and rethrows', async () => {
    const trace = traced('valkit:test:fail')
    const { events, stop } = record('valkit:test:fail')
    const boom = new Error('boom')
    await assert.rejects(
      trace(async () => {
        throw boom
      }),
      boom,
    )
    stop()
    assert.deepEqual(
      events.map(([name]) => name),
      ['start', 'end', 'error', 'asyncStart', 'asyncEnd'],
    )
    assert.equal(events[2]![1].error, boom)
  })

  void it('only subscribing to one event (error) is enough to trace', async () => {
    const trace = traced('valkit:test:partial')
    const errors: unknown[] = []
    const onError = (m: unknown) => errors.push((m as { error: unknown }).error)
    diagnosticsChannel.subscribe('tracing:valkit:test:partial:error', onError)
    await assert.rejects(trace(() => Promise.reject(new Error('x'))))
    diagnosticsChannel.unsubscribe('tracing:valkit:test:partial:error', onError)
    assert.equal(errors.length, 1)
  })

  void it('rejects channel names outside valkit:<capability>:<op>', () => {
    for (const name of ['cache:get', 'valkit:cache', 'valkit:Cache:get', 'valkit:cache:get extra']) {
      assert.throws(
        () => traced(name),
        (e) => isValkitError(e, 'VALKIT_INVALID_ARGUMENT'),
        name,
      )
    }
    assert.equal(CORE_COMMAND_CHANNEL, 'valkit:core:command')
    assert.equal(traced(CORE_COMMAND_CHANNEL).channel.start, traced(CORE_COMMAND_CHANNEL).channel.start)
  })
})

void describe('publisher()', () => {
  void it('publishes on a plain channel only when subscribed, without building the message otherwise', () => {
    const publish = publisher(CORE_STATE_CHANNEL)
    let built = 0
    const message = () => {
      built++
      return { from: 'ready', to: 'degraded' }
    }
    publish(message)
    assert.equal(built, 0)
    const seen: unknown[] = []
    const listener = (m: unknown) => seen.push(m)
    diagnosticsChannel.subscribe(CORE_STATE_CHANNEL, listener)
    publish(message)
    diagnosticsChannel.unsubscribe(CORE_STATE_CHANNEL, listener)
    assert.equal(built, 1)
    assert.deepEqual(seen, [{ from: 'ready', to: 'degraded' }])
  })
})
