import { describe, it } from 'node:test'
import { withValkit } from '../support/with-valkit.js'
import assert from 'node:assert/strict'
import { testEngines } from '../../src/testing/index.js'

for (const engine of testEngines()) {
  void describe(`health on ${engine}`, () => {
    void it('reports the engine, version, role, memory and policy of the real server', async () => {
      await withValkit(
        { engine, maxmemory: '64mb', maxmemoryPolicy: 'allkeys-lfu' },
        async (server, valkit) => {
          const info = await server.info('server')
          const report = await valkit.health()
          assert.equal(report.state, 'ready')
          assert.equal(report.backend, 'redis')
          assert.equal(report.driver, 'node-redis')
          assert.equal(report.topology.kind, 'standalone')
          assert.equal(report.topology.endpoint, `127.0.0.1:${server.port}`)
          const s = report.server
          assert.ok(s, 'INFO was read')
          assert.equal(s.engine, engine)
          // Valkey reports a Redis-compatible redis_version too; the report must carry Valkey's own.
          assert.equal(s.version, engine === 'valkey' ? info.valkey_version : info.redis_version)
          assert.match(s.version, /^\d+\.\d+\.\d+$/)
          assert.equal(s.role, 'master')
          assert.equal(s.mode, 'standalone')
          assert.ok(s.usedMemoryBytes > 0)
          assert.equal(s.maxMemoryBytes, 64 * 1024 * 1024)
          assert.equal(s.maxMemoryPolicy, 'allkeys-lfu')
          assert.ok(s.connectedClients >= 1)
          assert.ok(!report.findings.some((f) => f.severity === 'critical'), JSON.stringify(report.findings))
          assert.ok(report.history.length >= 1)
        },
      )
    })

    void it('maxmemory 1mb with noeviction: policy.noeviction with a recommendation', async () => {
      await withValkit(
        { engine, maxmemory: '1mb', maxmemoryPolicy: 'noeviction' },
        async (_server, valkit) => {
          const report = await valkit.health()
          assert.equal(report.server?.maxMemoryBytes, 1024 * 1024)
          assert.equal(report.server?.maxMemoryPolicy, 'noeviction')
          const finding = report.findings.find((f) => f.id === 'policy.noeviction')
          assert.ok(finding, JSON.stringify(report.findings))
          assert.match(finding.recommendation ?? '', /allkeys-lfu|volatile-lfu/)
          // ~1 MiB is what an empty server already uses: the memory rule fires as well.
          const memory = report.findings.find((f) => f.id === 'memory.high')
          assert.ok(memory, 'used memory close to a 1 MiB limit is reported')
          assert.match(memory.recommendation ?? '', /noeviction|writes will fail/)
        },
      )
    })

    void it('no maxmemory: memory.no-limit warning', async () => {
      await withValkit({ engine }, async (_server, valkit) => {
        const report = await valkit.health()
        assert.equal(report.server?.maxMemoryBytes, 0)
        assert.ok(report.findings.some((f) => f.id === 'memory.no-limit' && f.severity === 'warning'))
      })
    })

    void it('a dead server: degraded, no INFO, finding server.unreachable critical naming the error', async () => {
      await withValkit({ engine }, async (server, valkit) => {
        await server.kill()
        await valkit.supervisor.waitFor('degraded', 5000)
        const report = await valkit.health()
        assert.equal(report.state, 'degraded')
        assert.equal(report.backend, 'memory')
        assert.equal(report.server, null)
        const finding = report.findings.find((f) => f.id === 'server.unreachable')
        assert.ok(finding, JSON.stringify(report.findings))
        assert.equal(finding.severity, 'critical')
        assert.match(finding.message, /not reachable: \S/, 'the last connection error is named')
        assert.ok(finding.recommendation)
        assert.equal(report.history.at(-1)?.to, 'degraded')
      })
    })

    void it('a frozen server: health() answers within its probe timeout instead of hanging', async () => {
      await withValkit(
        { engine },
        async (server, valkit) => {
          await server.pause()
          try {
            const started = Date.now()
            const report = await valkit.health()
            assert.ok(Date.now() - started < 3000, `health() took ${Date.now() - started} ms`)
            assert.equal(report.server, null)
          } finally {
            await server.resume()
          }
        },
        { commandTimeout: '300ms' },
      )
    })
  })
}
