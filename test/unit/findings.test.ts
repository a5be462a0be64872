import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { computeFindings, type FindingInputs } from '../../src/core/health/findings.js'
import type { ServerInfo, TopologyReport } from '../../src/core/health-types.js'

const MiB = 1024 * 1024

/** A healthy master: 100 MiB of 1 GiB used, allkeys-lfu, good hit rate, no replicas. */
const healthyServer: ServerInfo = {
  engine: 'redis',
  version: '7.0.15',
  mode: 'standalone',
  role: 'master',
  uptimeSeconds: 100,
  connectedReplicas: 0,
  replicationLagBytes: null,
  usedMemoryBytes: 100 * MiB,
  maxMemoryBytes: 1024 * MiB,
  maxMemoryPolicy: 'allkeys-lfu',
  fragmentationRatio: 1.1,
  evictedKeys: 0,
  expiredKeys: 0,
  keyspaceHits: 900,
  keyspaceMisses: 100,
  hitRate: 0.9,
  connectedClients: 3,
  blockedClients: 0,
  opsPerSecond: 10,
  totalKeys: 10,
}

const standalone: TopologyReport = { kind: 'standalone', endpoint: '127.0.0.1:6379' }

type Overrides = Omit<Partial<FindingInputs>, 'server'> & { server?: Partial<ServerInfo> | null }

function inputs(over: Overrides = {}): FindingInputs {
  const { server, ...rest } = over
  return {
    state: 'ready',
    backend: 'redis',
    topology: standalone,
    latency: { samples: 10, lastMs: 1, p50Ms: 1, p90Ms: 1, p99Ms: 2, maxMs: 2 },
    server: server === null ? null : { ...healthyServer, ...server },
    evictionsPerMinute: null,
    lastError: null,
    thresholds: {
      latencyWarnMs: 50,
      memoryWarnRatio: 0.8,
      evictionsWarnPerMinute: 100,
      replicationLagWarnBytes: MiB,
    },
    ...rest,
  }
}

const ids = (input: FindingInputs) => computeFindings(input).map((f) => f.id)
const find = (input: FindingInputs, id: string) => computeFindings(input).find((f) => f.id === id)

void describe('computeFindings', () => {
  void it('a healthy server has no findings', () => {
    assert.deepEqual(ids(inputs()), [])
  })

  void it('memory topology: one info finding that says how to configure Redis, nothing else', () => {
    const findings = computeFindings(
      inputs({ topology: { kind: 'memory', endpoint: null }, backend: 'memory', server: null }),
    )
    assert.deepEqual(
      findings.map((f) => [f.id, f.severity]),
      [['backend.memory', 'info']],
    )
    assert.match(findings[0]!.recommendation ?? '', /VALKIT_REDIS_URL|url/)
  })

  void it('degraded: server.unreachable is critical and carries the last error', () => {
    const f = find(
      inputs({ state: 'degraded', server: null, lastError: 'connection refused' }),
      'server.unreachable',
    )
    assert.equal(f?.severity, 'critical')
    assert.match(f.message, /connection refused/)
    assert.ok(f.recommendation)
  })

  void it('recovering: server.recovering info, no unreachable', () => {
    const got = ids(inputs({ state: 'recovering' }))
    assert.ok(got.includes('server.recovering'))
    assert.ok(!got.includes('server.unreachable'))
  })

  void it('latency.high above the threshold only', () => {
    const lat = (p99Ms: number) => ({ samples: 10, lastMs: 1, p50Ms: 1, p90Ms: 1, p99Ms, maxMs: p99Ms })
    assert.ok(!ids(inputs({ latency: lat(50) })).includes('latency.high'))
    const f = find(inputs({ latency: lat(80) }), 'latency.high')
    assert.equal(f?.severity, 'warning')
    assert.match(f.message, /80\.0 ms/)
    // No samples yet: no latency judgement.
    const none = { samples: 0, lastMs: null, p50Ms: null, p90Ms: null, p99Ms: null, maxMs: null }
    assert.ok(!ids(inputs({ latency: none })).includes('latency.high'))
  })

  void it('latency is judged even when INFO could not be read', () => {
    const lat = { samples: 3, lastMs: 90, p50Ms: 90, p90Ms: 90, p99Ms: 90, maxMs: 90 }
    assert.deepEqual(ids(inputs({ server: null, latency: lat })), ['latency.high'])
  })

  void it('role.replica is critical on standalone/sentinel, not on a cluster', () => {
    assert.equal(find(inputs({ server: { role: 'replica' } }), 'role.replica')?.severity, 'critical')
    const cluster: TopologyReport = {
      kind: 'cluster',
      endpoint: null,
      cluster: { masters: 3, replicas: 3, slotsCovered: 16384, state: 'ok' },
    }
    assert.ok(!ids(inputs({ topology: cluster, server: { role: 'replica' } })).includes('role.replica'))
  })

  void it('memory.no-limit when maxmemory is 0', () => {
    const f = find(inputs({ server: { maxMemoryBytes: 0 } }), 'memory.no-limit')
    assert.equal(f?.severity, 'warning')
    assert.match(f.recommendation ?? '', /maxmemory/)
  })

  void it('memory.high: warning from the ratio, critical from 95 %', () => {
    const at = (used: number, policy = 'allkeys-lfu') =>
      find(
        inputs({
          server: { usedMemoryBytes: used * MiB, maxMemoryBytes: 100 * MiB, maxMemoryPolicy: policy },
        }),
        'memory.high',
      )
    assert.equal(at(79), undefined)
    assert.equal(at(80)?.severity, 'warning')
    assert.equal(at(95)?.severity, 'critical')
    assert.match(at(90)?.message ?? '', /90%/)
    assert.match(at(90, 'noeviction')?.recommendation ?? '', /writes will fail/)
  })

  void it('policy.noeviction with a recommendation naming a better policy', () => {
    const f = find(inputs({ server: { maxMemoryPolicy: 'noeviction' } }), 'policy.noeviction')
    assert.equal(f?.severity, 'info')
    assert.match(f.recommendation ?? '', /allkeys-lfu|volatile-lfu/)
  })

  void it('policy.random for the random policies only', () => {
    for (const policy of ['allkeys-random', 'volatile-random']) {
      assert.ok(ids(inputs({ server: { maxMemoryPolicy: policy } })).includes('policy.random'), policy)
    }
    for (const policy of ['allkeys-lru', 'volatile-ttl', 'allkeys-lfu']) {
      const got = ids(inputs({ server: { maxMemoryPolicy: policy } }))
      assert.ok(!got.includes('policy.random') && !got.includes('policy.noeviction'), policy)
    }
  })

  void it('evictions.high above the per-minute threshold, nothing when unknown', () => {
    assert.ok(!ids(inputs({ evictionsPerMinute: null })).includes('evictions.high'))
    assert.ok(!ids(inputs({ evictionsPerMinute: 100 })).includes('evictions.high'))
    assert.equal(find(inputs({ evictionsPerMinute: 250 }), 'evictions.high')?.severity, 'warning')
  })

  void it('replication.lag above the byte threshold', () => {
    assert.ok(!ids(inputs({ server: { replicationLagBytes: MiB } })).includes('replication.lag'))
    const f = find(inputs({ server: { replicationLagBytes: 3 * MiB } }), 'replication.lag')
    assert.equal(f?.severity, 'warning')
    assert.match(f.recommendation ?? '', /WAIT|durable/)
  })

  void it('memory.fragmentation only for a large heap with a high ratio', () => {
    assert.ok(
      !ids(inputs({ server: { fragmentationRatio: 13, usedMemoryBytes: MiB } })).includes(
        'memory.fragmentation',
      ),
    )
    assert.ok(
      ids(inputs({ server: { fragmentationRatio: 1.8, usedMemoryBytes: 200 * MiB } })).includes(
        'memory.fragmentation',
      ),
    )
    assert.ok(
      !ids(inputs({ server: { fragmentationRatio: 1.4, usedMemoryBytes: 200 * MiB } })).includes(
        'memory.fragmentation',
      ),
    )
  })

  void it('cache.hit-rate below 50 % once there are enough reads', () => {
    const rate = (hits: number, misses: number) =>
      ids(inputs({ server: { keyspaceHits: hits, keyspaceMisses: misses, hitRate: hits / (hits + misses) } }))
    assert.ok(rate(400, 700).includes('cache.hit-rate'))
    assert.ok(!rate(40, 60).includes('cache.hit-rate'), 'too few reads to judge')
    assert.ok(!rate(700, 400).includes('cache.hit-rate'))
  })

  void it('cluster.slots is critical when slots are not all served', () => {
    const cluster = (slotsCovered: number): TopologyReport => ({
      kind: 'cluster',
      endpoint: null,
      cluster: { masters: 3, replicas: 3, slotsCovered, state: slotsCovered === 16384 ? 'ok' : 'fail' },
    })
    assert.equal(find(inputs({ topology: cluster(10923) }), 'cluster.slots')?.severity, 'critical')
    assert.ok(!ids(inputs({ topology: cluster(16384) })).includes('cluster.slots'))
  })

  void it('every finding has a stable id, a severity and a message', () => {
    const worst = inputs({
      state: 'degraded',
      latency: { samples: 1, lastMs: 900, p50Ms: 900, p90Ms: 900, p99Ms: 900, maxMs: 900 },
      evictionsPerMinute: 10_000,
      server: {
        role: 'replica',
        maxMemoryPolicy: 'noeviction',
        usedMemoryBytes: 990 * MiB,
        maxMemoryBytes: 1000 * MiB,
        replicationLagBytes: 50 * MiB,
        fragmentationRatio: 3,
        keyspaceHits: 10,
        keyspaceMisses: 5000,
        hitRate: 10 / 5010,
      },
    })
    const findings = computeFindings(worst)
    assert.equal(new Set(findings.map((f) => f.id)).size, findings.length, 'ids are unique')
    for (const f of findings) {
      assert.match(f.id, /^[a-z]+\.[a-z-]+$/)
      assert.ok(['info', 'warning', 'critical'].includes(f.severity))
      assert.ok(f.message.length > 10)
    }
    assert.ok(findings.length >= 9)
  })
})
