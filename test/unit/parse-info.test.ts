import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { mergeServerInfo, parseInfo, toServerInfo } from '../../src/core/health/parse-info.js'

// Captured from servers started by the launcher (redis-server 7.0.15, valkey-server 8.0.1):
// a master with maxmemory 64mb / allkeys-lfu, two keys (one with a TTL), one hit and one miss,
// and one replica attached; the replica's own INFO next to it. CRLF line ends as on the wire.
const fixture = (name: string): string =>
  readFileSync(new URL(`../fixtures/info/${name}.txt`, import.meta.url), 'utf8')

void describe('parseInfo', () => {
  void it('reads field:value lines, skips section headers and blank lines, strips CR', () => {
    const fields = parseInfo('# Server\r\nredis_version:7.0.15\r\n\r\n# Memory\r\nused_memory:1024\r\n')
    assert.equal(fields.get('redis_version'), '7.0.15')
    assert.equal(fields.get('used_memory'), '1024')
    assert.equal(fields.size, 2)
  })

  void it('keeps colons inside values (executable paths, rdb file names)', () => {
    const fields = parseInfo('executable:/usr/bin/redis-server\r\nmaster_replid:abc:def\r\n')
    assert.equal(fields.get('executable'), '/usr/bin/redis-server')
    assert.equal(fields.get('master_replid'), 'abc:def')
  })

  void it('ignores lines without a name before the colon', () => {
    assert.equal(parseInfo(':x\r\nnocolon\r\n').size, 0)
  })

  void it('parses every line of a real INFO', () => {
    for (const name of ['redis-master', 'valkey-master', 'redis-replica', 'valkey-replica']) {
      const text = fixture(name)
      const expected = text.split('\r\n').filter((l) => l !== '' && !l.startsWith('#')).length
      const fields = parseInfo(text)
      assert.equal(fields.size, expected, name)
      for (const value of fields.values()) assert.ok(!value.endsWith('\r'), `${name}: CR left in a value`)
    }
  })
})

void describe('toServerInfo on real INFO text', () => {
  void it('Redis 7.0 master: engine, version, role, memory, policy, keys, replicas', () => {
    const info = toServerInfo(parseInfo(fixture('redis-master')))
    assert.equal(info.engine, 'redis')
    assert.equal(info.version, '7.0.15')
    assert.equal(info.mode, 'standalone')
    assert.equal(info.role, 'master')
    assert.equal(info.maxMemoryBytes, 64 * 1024 * 1024)
    assert.equal(info.maxMemoryPolicy, 'allkeys-lfu')
    assert.ok(info.usedMemoryBytes > 0)
    assert.ok(info.fragmentationRatio > 0)
    assert.equal(info.totalKeys, 2)
    assert.equal(info.keyspaceHits, 1)
    assert.equal(info.keyspaceMisses, 1)
    assert.equal(info.hitRate, 0.5)
    assert.equal(info.connectedReplicas, 1)
    // slave0 offset=107, master_repl_offset:144 in the captured text.
    assert.equal(info.replicationLagBytes, 37)
    assert.ok(info.connectedClients >= 1)
  })

  void it('Valkey 8 master: engine valkey and the Valkey version, not the compatible redis_version', () => {
    const fields = parseInfo(fixture('valkey-master'))
    assert.equal(
      fields.get('redis_version'),
      '7.2.4',
      'fixture sanity: valkey reports a compat redis_version',
    )
    const info = toServerInfo(fields)
    assert.equal(info.engine, 'valkey')
    assert.equal(info.version, '8.0.1')
    assert.equal(info.mode, 'standalone')
    assert.equal(info.role, 'master')
    assert.equal(info.maxMemoryBytes, 64 * 1024 * 1024)
    assert.equal(info.maxMemoryPolicy, 'allkeys-lfu')
    assert.equal(info.totalKeys, 2)
    assert.equal(info.connectedReplicas, 1)
    assert.equal(info.replicationLagBytes, 37)
  })

  void it('replicas report role replica and no memory limit', () => {
    for (const [name, engine] of [
      ['redis-replica', 'redis'],
      ['valkey-replica', 'valkey'],
    ] as const) {
      const info = toServerInfo(parseInfo(fixture(name)))
      assert.equal(info.engine, engine, name)
      assert.equal(info.role, 'replica', name)
      assert.equal(info.maxMemoryBytes, 0, name)
      assert.equal(info.maxMemoryPolicy, 'noeviction', name)
      assert.equal(info.connectedReplicas, 0, name)
      assert.equal(info.replicationLagBytes, null, `${name}: a replica cannot see its own lag`)
      assert.equal(info.totalKeys, 2, name)
      assert.equal(info.hitRate, null, `${name}: no reads yet`)
    }
  })

  void it('recognises cluster and sentinel modes and sums keys over databases', () => {
    const cluster = toServerInfo(parseInfo('redis_version:7.0.15\nredis_mode:cluster\nrole:master\n'))
    assert.equal(cluster.mode, 'cluster')
    const sentinel = toServerInfo(
      parseInfo('server_name:valkey\nvalkey_version:8.0.1\nserver_mode:sentinel\n'),
    )
    assert.equal(sentinel.mode, 'sentinel')
    assert.equal(sentinel.engine, 'valkey')
    const dbs = toServerInfo(parseInfo('db0:keys=3,expires=1,avg_ttl=0\ndb5:keys=4,expires=0,avg_ttl=0\n'))
    assert.equal(dbs.totalKeys, 7)
  })

  void it("a replica reports no lag in bytes: both offsets in its INFO are its own (the master's INFO shows the lag)", () => {
    const info = toServerInfo(
      parseInfo('redis_version:7.0.15\nrole:slave\nmaster_repl_offset:5000\nslave_repl_offset:5000\n'),
    )
    assert.equal(info.role, 'replica')
    assert.equal(info.replicationLagBytes, null)
  })

  void it('a master reports the worst lag among its replicas', () => {
    const info = toServerInfo(
      parseInfo(
        'role:master\nmaster_repl_offset:1000\n' +
          'slave0:ip=127.0.0.1,port=1,state=online,offset=990,lag=0\n' +
          'slave1:ip=127.0.0.1,port=2,state=online,offset=400,lag=1\n',
      ),
    )
    assert.equal(info.replicationLagBytes, 600)
  })

  void it('unknown or missing fields become safe defaults, never NaN', () => {
    const info = toServerInfo(parseInfo('used_memory:abc\n'))
    assert.equal(info.engine, 'unknown')
    assert.equal(info.version, 'unknown')
    assert.equal(info.role, 'unknown')
    assert.equal(info.maxMemoryPolicy, 'unknown')
    assert.equal(info.replicationLagBytes, null)
    for (const [field, value] of Object.entries(info)) {
      if (typeof value === 'number') assert.ok(Number.isFinite(value), `${field} is ${value}`)
    }
  })
})

void describe('mergeServerInfo', () => {
  const redis = toServerInfo(parseInfo(fixture('redis-master')))

  void it('returns null for no nodes and the node itself for one', () => {
    assert.equal(mergeServerInfo([]), null)
    assert.equal(mergeServerInfo([redis]), redis)
  })

  void it('sums the masters of a Cluster and keeps the worst ratios', () => {
    const other = {
      ...redis,
      usedMemoryBytes: 10,
      totalKeys: 5,
      keyspaceHits: 9,
      keyspaceMisses: 1,
      fragmentationRatio: 99,
    }
    const merged = mergeServerInfo([redis, other])!
    assert.equal(merged.usedMemoryBytes, redis.usedMemoryBytes + 10)
    assert.equal(merged.maxMemoryBytes, redis.maxMemoryBytes * 2)
    assert.equal(merged.totalKeys, redis.totalKeys + 5)
    assert.equal(merged.fragmentationRatio, 99)
    assert.equal(merged.hitRate, (1 + 9) / (2 + 10))
  })

  void it('one node without a memory limit makes the whole unlimited', () => {
    const merged = mergeServerInfo([redis, { ...redis, maxMemoryBytes: 0 }])!
    assert.equal(merged.maxMemoryBytes, 0)
  })
})
