// Micro-benchmark of the in-process memory store: prints operations per second.
//   node --import tsx bench/memory-store.ts
import { createMemoryStore } from '../src/core/memory/index.js'
import type { EvictionPolicyName } from '../src/core/memory/index.js'

const KEYS = 100_000
const OPS = 5_000_000

function measure(label: string, ops: number, run: () => void): void {
  run() // warm-up
  const best: number[] = []
  for (let round = 0; round < 3; round++) {
    const start = process.hrtime.bigint()
    run()
    const seconds = Number(process.hrtime.bigint() - start) / 1e9
    best.push(ops / seconds)
  }
  const median = best.sort((a, b) => a - b)[1] as number
  console.log(`${label.padEnd(44)} ${(median / 1e6).toFixed(2).padStart(6)} M ops/s`)
}

const keys = Array.from({ length: KEYS }, (_, i) => `key:${i}`)

for (const policy of ['lru', 'lfu'] as EvictionPolicyName[]) {
  const store = createMemoryStore<string>({ policy, maxEntries: KEYS, sweepIntervalMs: 0 })
  for (const key of keys) store.set(key, 'value')
  let sink = 0
  measure(`${policy}: get hit (100k keys)`, OPS, () => {
    for (let i = 0; i < OPS; i++) if (store.get(keys[i % KEYS]!) !== undefined) sink++
  })
  measure(`${policy}: get miss`, OPS, () => {
    for (let i = 0; i < OPS; i++) if (store.get('absent') === undefined) sink++
  })
  measure(`${policy}: set overwrite (sizeBytes given)`, OPS / 5, () => {
    for (let i = 0; i < OPS / 5; i++) store.set(keys[i % KEYS]!, 'value', { sizeBytes: 10 })
  })
  const small = createMemoryStore<string>({ policy, maxEntries: KEYS / 2, sweepIntervalMs: 0 })
  measure(`${policy}: set with eviction (2x keys)`, OPS / 5, () => {
    for (let i = 0; i < OPS / 5; i++) small.set(keys[i % KEYS]!, 'value')
  })
  const ttl = createMemoryStore<string>({ policy, maxEntries: KEYS, sweepIntervalMs: 0 })
  for (const key of keys) ttl.set(key, 'value', { ttlMs: 3_600_000 })
  measure(`${policy}: get hit, entries with TTL`, OPS, () => {
    for (let i = 0; i < OPS; i++) if (ttl.get(keys[i % KEYS]!) !== undefined) sink++
  })
  measure(`${policy}: incrBy with TTL`, OPS / 5, () => {
    for (let i = 0; i < OPS / 5; i++) ttl.incrBy(`c:${i % 1000}`, 1, 60_000)
  })
  if (sink === -1) console.log(sink)
}
