import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createMetricsRegistry, isValkitError } from '../../src/index.js'

test('a counter with `read` reports the field it reads, as a counter, at every scrape', () => {
  const registry = createMetricsRegistry()
  const stats = { commands: 0 }
  registry.counter({ name: 'commands_total', help: 'Commands sent.', read: () => stats.commands })
  stats.commands = 41
  assert.match(registry.toPrometheus(), /# TYPE valkit_commands_total counter\nvalkit_commands_total 41\n/)
  stats.commands++
  const snapshot = registry
    .snapshot()
    .find((m) => m.name === 'valkit_commands_total' || m.name === 'commands_total')
  const sample = snapshot?.samples[0]
  assert.ok(sample !== undefined && 'value' in sample)
  assert.equal(sample.value, 42)
})

test('`read` is refused for a labelled counter', () => {
  const registry = createMetricsRegistry()
  assert.throws(
    () => registry.counter({ name: 'x_total', help: 'x', labelNames: ['op'], read: () => 1 }),
    (err) => isValkitError(err, 'VALKIT_INVALID_ARGUMENT'),
  )
})
