/**
 * `--cluster`: valkit's queue on a 3-master Cluster (no replicas) started for it, one partition
 * (one hash tag: one master does all the work) against three (one per master, if the slots fall
 * so), one worker at concurrency 100 in this process, jobs pre-added. Server CPU is summed over
 * the masters.
 */
import { slotOf } from '../../src/core/index.js'
import { partitionTag } from '../../src/queue/queue-stores.js'
import { startCluster, type ClusterHandle } from '../../src/testing/index.js'
import type { BenchContext } from '../lib/types.js'
import type { QueueLibrary } from './libraries.js'
import { valkitQueue } from './libraries.js'
import { measureProcess, type JobsMeasurement, type Target } from './measure.js'

/** The Cluster's rounds per partition count, and where the partitions' slots landed. */
export interface ClusterOutcome {
  readonly subjects: readonly QueueLibrary[]
  /** Per subject name: each round's measurement (holes where it failed). */
  readonly rounds: ReadonlyMap<string, readonly (JobsMeasurement | undefined)[]>
  readonly failures: ReadonlyMap<string, string>
  /** Per subject name: how many masters the partitions' slots landed on, each round. */
  readonly mastersUsed: ReadonlyMap<string, readonly number[]>
  readonly engine: string
}

const CONCURRENCY = 100
export const PARTITIONS = [1, 3] as const
export const partitionsName = (p: number): string =>
  `valkit, partitions ${p}, batch ${Math.ceil(CONCURRENCY / p)} (Cluster)`

/** How many masters serve the slots of a queue's partitions (their hash tags, as the queue picks them). */
async function mastersOf(cluster: ClusterHandle, queue: string, partitions: number): Promise<number> {
  const masters = await cluster.masters()
  const used = new Set<number>()
  for (let i = 0; i < partitions; i++) {
    const slot = slotOf(`{${partitionTag(queue, partitions, i)}}`)
    used.add(masters.findIndex((m) => m.slots.some(([from, to]) => slot >= from && slot <= to)))
  }
  return used.size
}

/** Runs the Cluster rounds (subjects rotated each round); the Cluster is stopped after. */
export async function runCluster(ctx: BenchContext, jobs: number): Promise<ClusterOutcome> {
  ctx.log(`  cluster: starting 3 masters (${ctx.options.engine})`)
  const cluster = await startCluster({ engine: ctx.options.engine, masters: 3, replicasPerMaster: 0 })
  try {
    await cluster.waitForHealthy()
    const nodes = cluster.seeds.map((s) => `${s.host}:${s.port}`)
    const masters = cluster.nodes
    const target: Target = {
      async cpuSeconds() {
        let total = 0
        for (const node of masters) {
          const info = await node.info('cpu')
          total += Number(info.used_cpu_user ?? 0) + Number(info.used_cpu_sys ?? 0)
        }
        return total
      },
      async flush() {
        for (const node of masters) await node.command('FLUSHALL', 'SYNC')
      },
    }
    // batch = concurrency ÷ partitions: with the default batch (= the concurrency) the first
    // partition's fetch takes every slot and the other partitions are never fetched (see the README).
    const subjects = PARTITIONS.map((p) =>
      valkitQueue(partitionsName(p), { cluster: { nodes } }, { partitions: p }, Math.ceil(CONCURRENCY / p)),
    )
    const rounds = new Map<string, (JobsMeasurement | undefined)[]>()
    const failures = new Map<string, string>()
    const mastersUsed = new Map<string, number[]>()
    // Unrecorded warm-up: scripts loaded on every master, JIT.
    for (const s of subjects)
      await measureProcess(s, target, {
        jobs: Math.min(jobs, 2000),
        concurrency: CONCURRENCY,
        keep: 'remove',
      }).catch(() => undefined)
    for (let round = 0; round < ctx.options.rounds; round++) {
      for (let i = 0; i < subjects.length; i++) {
        const subject = subjects[(i + round) % subjects.length]!
        const partitions = PARTITIONS[(i + round) % subjects.length]!
        if (failures.has(subject.name)) continue
        try {
          const m = await measureProcess(subject, target, { jobs, concurrency: CONCURRENCY, keep: 'remove' })
          const list = rounds.get(subject.name) ?? []
          list[round] = m
          rounds.set(subject.name, list)
          const used = await mastersOf(cluster, m.queue, partitions)
          mastersUsed.set(subject.name, [...(mastersUsed.get(subject.name) ?? []), used])
          ctx.log(
            `  round ${round + 1}/${ctx.options.rounds}  cluster c=100  ${subject.name}: ${Math.round(m.opsPerSec)} jobs/s (partitions on ${used} master${used === 1 ? '' : 's'})`,
          )
        } catch (err) {
          failures.set(subject.name, err instanceof Error ? err.message : String(err))
          ctx.log(`  cluster  ${subject.name}: FAILED ${failures.get(subject.name)}`)
        }
      }
    }
    return { subjects, rounds, failures, mastersUsed, engine: cluster.engine }
  } finally {
    await cluster.stop()
  }
}
