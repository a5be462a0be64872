/**
 * The core's counters: stats() and /metrics (Prometheus text) show the same numbers, and they
 * move with what users see (commands, failures while the server is away, state changes).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createValkit, isValkitError } from '../../src/index.js'
import { randomPrefix, startServer, testEngines } from '../../src/testing/index.js'

function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  assert.ok(line, `${name} is exported`)
  return Number(line.split(' ')[1])
}

for (const engine of testEngines()) {
  void describe(`core metrics (${engine})`, () => {
    void it('stats() and the Prometheus text agree, and follow commands, failures and states', async () => {
      const server = await startServer({ engine })
      const valkit = createValkit({ url: server.url, env: {}, logger: false })
      try {
        await valkit.supervisor.waitFor('ready', 10_000)
        const key = `${randomPrefix('metrics')}:k`
        for (let i = 0; i < 5; i++) await valkit.connection.command(['INCR', key])
        await server.kill('SIGKILL')
        await valkit.supervisor.waitFor('degraded', 5000)
        await assert.rejects(valkit.connection.command(['GET', key]), (err) =>
          isValkitError(err, 'VALKIT_UNAVAILABLE'),
        )

        const stats = valkit.stats()
        const text = valkit.metrics.toPrometheus()
        assert.equal(stats.state, 'degraded')
        assert.equal(stats.backend, 'memory')
        assert.ok(stats.commands >= 6, `commands counted (${stats.commands})`)
        assert.ok(stats.rejectedOffline >= 1, 'the refused command is counted')
        assert.equal(metric(text, 'valkit_commands_total'), stats.commands)
        assert.equal(metric(text, 'valkit_commands_rejected_offline_total'), stats.rejectedOffline)
        assert.equal(metric(text, 'valkit_state_transitions_total'), stats.stateTransitions)
        assert.equal(metric(text, 'valkit_connection_state{state="degraded"}'), 1)
        assert.equal(metric(text, 'valkit_backend_redis'), 0)
        assert.match(text, /# TYPE valkit_commands_total counter/)

        await server.restart()
        await valkit.supervisor.waitFor('ready', 5000)
        assert.equal(metric(valkit.metrics.toPrometheus(), 'valkit_backend_redis'), 1)
      } finally {
        await valkit.close()
        await server.stop()
      }
    })
  })
}
