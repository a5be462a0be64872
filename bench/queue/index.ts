/**
 * `queue`: valkit's job queue side by side with BullMQ 6.7 and bee-queue 2 against one server —
 * adds one by one and in bulk, processing at concurrency 1/16/100, Redis and Node CPU per job,
 * commands per job lifecycle, an idle queue's add→start latency and round trips, Redis memory
 * per kept job; with `--cluster`, partitions 1 vs 3 on a 3-master Cluster.
 */
import { cpus } from 'node:os'
import { median } from '../lib/closed-loop.js'
import type { Benchmark, BenchContext, BenchReport, BenchRow } from '../lib/types.js'
import { PARTITIONS, partitionsName, runCluster, type ClusterOutcome } from './cluster.js'
import { queueFlags } from './flags.js'
import { beeQueue, bullmq, valkitQueue, type KeepPolicy, type QueueLibrary } from './libraries.js'
import {
  measureAdd,
  measureCommands,
  measureIdle,
  measureMemory,
  measureProcess,
  type IdleMeasurement,
  type JobsMeasurement,
  type LifecycleCommands,
  type MemoryMeasurement,
  type Target,
} from './measure.js'
import { openServerProbe, type ServerProbe } from './probes.js'
import { div, renderSummary, verdict, type SummaryLine } from './summary.js'
import {
  BULK_BATCH,
  COMMAND_JOBS,
  CONCURRENCIES,
  DEFAULT_JOBS,
  IDLE_GAP_MS,
  IDLE_JOBS,
  IDLE_QUIET_MS,
  KEPT_JOBS,
  QUICK_IDLE_JOBS,
  QUICK_IDLE_QUIET_MS,
  QUICK_JOBS,
  QUICK_KEPT_JOBS,
  SERIAL_SHARE,
  TARGETS,
} from './workload.js'

/** Sizes of this run, from the flags. */
interface Sizes {
  readonly jobs: number
  readonly serialJobs: number
  readonly commandJobs: number
  readonly idleJobs: number
  readonly idleQuietMs: number
  readonly keptJobs: number
}

function sizesOf(flags: ReturnType<typeof queueFlags>): Sizes {
  const jobs = flags.jobs ?? (flags.quick ? QUICK_JOBS : DEFAULT_JOBS)
  return {
    jobs,
    serialJobs: Math.max(1, Math.round(jobs * SERIAL_SHARE)),
    commandJobs: Math.min(COMMAND_JOBS, jobs),
    idleJobs: flags.quick ? QUICK_IDLE_JOBS : IDLE_JOBS,
    idleQuietMs: flags.quick ? QUICK_IDLE_QUIET_MS : IDLE_QUIET_MS,
    keptJobs: flags.quick ? QUICK_KEPT_JOBS : KEPT_JOBS,
  }
}

/** A library in a throughput scenario (valkit appears twice at c=100: removing jobs and with its default keep). */
interface Subject {
  readonly name: string
  readonly library: QueueLibrary
  readonly keep: KeepPolicy
}

interface Scenario {
  readonly key: string
  readonly label: string
  readonly subjects: readonly Subject[]
  run(subject: Subject): Promise<JobsMeasurement>
}

const KEYS = { add: 'add', bulk: 'bulk', c: (n: number) => `c${n}` } as const

/** Rounds as the outer loop, subjects rotated each round; a failing pair is reported and skipped after. */
async function runRounds(
  ctx: BenchContext,
  scenarios: readonly Scenario[],
): Promise<{ rounds: Map<string, (JobsMeasurement | undefined)[]>; failures: Map<string, string> }> {
  const rounds = new Map<string, (JobsMeasurement | undefined)[]>()
  const failures = new Map<string, string>()
  for (let round = 0; round < ctx.options.rounds; round++) {
    for (const scenario of scenarios) {
      const order = scenario.subjects.map(
        (_, i) => scenario.subjects[(i + round) % scenario.subjects.length]!,
      )
      for (const subject of order) {
        const k = `${scenario.key}\u0000${subject.name}`
        if (failures.has(k)) continue
        try {
          const m = await scenario.run(subject)
          const list = rounds.get(k) ?? []
          list[round] = m
          rounds.set(k, list)
          ctx.log(
            `  round ${round + 1}/${ctx.options.rounds}  ${scenario.label}  ${subject.name}: ${Math.round(m.opsPerSec)} jobs/s${m.problems.length > 0 ? ` (${m.problems.join('; ')})` : ''}`,
          )
        } catch (err) {
          failures.set(k, err instanceof Error ? err.message : String(err))
          ctx.log(`  ${scenario.label}  ${subject.name}: FAILED ${failures.get(k)}`)
        }
      }
    }
  }
  return { rounds, failures }
}

/** Median over rounds of a's jobs/s ÷ b's in the same round. */
function pairedRatio(
  a: readonly (JobsMeasurement | undefined)[] | undefined,
  b: readonly (JobsMeasurement | undefined)[] | undefined,
): number | undefined {
  if (!a || !b) return undefined
  return median(a.map((m, r) => (m && b[r] ? m.opsPerSec / b[r].opsPerSec : undefined)))
}

function rowOf(
  scenario: string,
  name: string,
  list: readonly (JobsMeasurement | undefined)[] | undefined,
  anchor: readonly (JobsMeasurement | undefined)[] | undefined,
  failure: string | undefined,
): BenchRow {
  const measured = (list ?? []).filter((m): m is JobsMeasurement => m !== undefined)
  const problems = [...new Set(measured.flatMap((m) => m.problems))]
  const note = failure ?? (problems.length > 0 ? problems.join('; ') : undefined)
  return {
    scenario,
    library: name,
    opsPerSec: median(measured.map((m) => m.opsPerSec)) ?? 0,
    ratio: pairedRatio(list, anchor),
    p50Ms: median(measured.map((m) => m.p50Ms)),
    p99Ms: median(measured.map((m) => m.p99Ms)),
    clientCpuUsPerOp: median(measured.map((m) => m.clientCpuUsPerOp)),
    serverCpuUsPerOp: median(measured.map((m) => m.serverCpuUsPerOp)),
    ...(note !== undefined ? { note } : {}),
    rounds: measured,
  }
}

/** Runs `measure` once per library (valkit, BullMQ, bee-queue); a failure is kept as its message. */
async function once<T>(
  ctx: BenchContext,
  label: string,
  libraries: readonly QueueLibrary[],
  measure: (library: QueueLibrary) => Promise<T>,
  describe: (result: T) => string,
): Promise<(T | string)[]> {
  const out: (T | string)[] = []
  for (const library of libraries) {
    try {
      const result = await measure(library)
      ctx.log(`  ${label}  ${library.name}: ${describe(result)}`)
      out.push(result)
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err)
      ctx.log(`  ${label}  ${library.name}: FAILED ${message}`)
      out.push(message)
    }
  }
  return out
}

const ok = <T>(v: T | string | undefined): T | undefined => (typeof v === 'string' ? undefined : v)

const describeMemory = (r: MemoryMeasurement): string =>
  `${r.bytesPerJob.toFixed(0)} bytes/job (keys ${r.keyBytesPerJob.toFixed(0)}, streams ${r.streamBytesPerJob.toFixed(0)})${r.problems.length > 0 ? ` (${r.problems.join('; ')})` : ''}`

async function run(ctx: BenchContext): Promise<BenchReport> {
  const flags = queueFlags()
  const sizes = sizesOf(flags)
  const { url, host, port } = ctx.server
  const producers = ctx.options.inflight
  const valkit = valkitQueue('valkit', { url })
  const bull = bullmq(url)
  const bee = beeQueue(url)
  const libraries = [valkit, bull, bee]
  const probe: ServerProbe = await openServerProbe(url)
  const target: Target = { cpuSeconds: () => probe.cpuSeconds(), flush: () => probe.flush() }
  try {
    await probe.flush()
    const plain = (library: QueueLibrary): Subject => ({ name: library.name, library, keep: 'remove' })
    const valkitDefault: Subject = {
      name: 'valkit, default keep (last 1,000)',
      library: valkit,
      keep: 'default',
    }
    const scenarios: Scenario[] = [
      {
        key: KEYS.add,
        label: `1. add ×1, ${producers} producers`,
        subjects: libraries.map(plain),
        run: (s) => measureAdd(s.library, target, { jobs: sizes.jobs, producers, bulk: false }),
      },
      {
        key: KEYS.bulk,
        label: `2. addBulk ×${BULK_BATCH}`,
        subjects: libraries.map(plain),
        run: (s) => measureAdd(s.library, target, { jobs: sizes.jobs, producers, bulk: true }),
      },
      ...CONCURRENCIES.map((c): Scenario => ({
        key: KEYS.c(c),
        label: `3. process c=${c}`,
        subjects: c === 100 ? [...libraries.map(plain), valkitDefault] : libraries.map(plain),
        run: (s) =>
          measureProcess(s.library, target, {
            jobs: c === 1 ? sizes.serialJobs : sizes.jobs,
            concurrency: c,
            keep: s.keep,
          }),
      })),
    ]

    // One unrecorded pass first: JIT, scripts loaded, connections' code paths warm.
    ctx.log('  warm-up: 2,000 jobs added and processed per library')
    for (const library of libraries) {
      await measureAdd(library, target, { jobs: 2000, producers, bulk: false }).catch(() => undefined)
      await measureProcess(library, target, { jobs: 2000, concurrency: 100, keep: 'remove' }).catch(
        () => undefined,
      )
    }
    const { rounds, failures } = await runRounds(ctx, scenarios)
    const listOf = (key: string, name: string) => rounds.get(`${key}\u0000${name}`)
    const rows: BenchRow[] = []
    for (const scenario of scenarios) {
      const anchor = listOf(scenario.key, bull.name)
      for (const s of scenario.subjects) {
        rows.push(
          rowOf(
            scenario.label,
            s.name,
            listOf(scenario.key, s.name),
            anchor,
            failures.get(`${scenario.key}\u0000${s.name}`),
          ),
        )
      }
    }

    const commands = await once(
      ctx,
      `5. commands, ${sizes.commandJobs.toLocaleString('en-US')} jobs`,
      libraries,
      (library) => measureCommands(library, probe, { host, port }, { jobs: sizes.commandJobs, producers }),
      (r: LifecycleCommands) =>
        `${r.total.calls.toFixed(1)} calls/job, ${r.total.commands.toFixed(2)} client commands/job${r.problems.length > 0 ? ` (${r.problems.join('; ')})` : ''}`,
    )
    const idle = await once(
      ctx,
      `6. idle, ${sizes.idleJobs} jobs`,
      libraries,
      (library) =>
        measureIdle(
          library,
          probe,
          { host, port },
          { jobs: sizes.idleJobs, gapMs: IDLE_GAP_MS, quietMs: sizes.idleQuietMs },
        ),
      (r: IdleMeasurement) =>
        `p50 ${r.p50Ms?.toFixed(2)} ms, p99 ${r.p99Ms?.toFixed(2)} ms, ${r.cost.roundTrips.toFixed(2)} round trips/job (${r.netRoundTrips.toFixed(2)} net of ${r.background.roundTripsPerSecond.toFixed(2)}/s idle background, ${r.roundTripsPerJob.toFixed(2)} without clock-driven commands)${r.problems.length > 0 ? ` (${r.problems.join('; ')})` : ''}`,
    )
    const memory = await once(
      ctx,
      `7. memory, ${sizes.keptJobs.toLocaleString('en-US')} kept jobs`,
      libraries,
      (library) => measureMemory(library, probe, { jobs: sizes.keptJobs }),
      describeMemory,
    )
    // valkit told to keep all on the worker only: the option is not stored with each job.
    const [valkitWorkerKeep] = await once(
      ctx,
      `7. memory, ${sizes.keptJobs.toLocaleString('en-US')} kept jobs, keep-all on the worker only`,
      [valkit],
      (library) => measureMemory(library, probe, { jobs: sizes.keptJobs, keep: 'keep-all-worker' }),
      describeMemory,
    )
    for (const [i, library] of libraries.entries()) {
      const m = ok(idle[i])
      rows.push({
        scenario: '6. idle add→start',
        library: library.name,
        opsPerSec: 0,
        ratio: undefined,
        p50Ms: m?.p50Ms,
        p99Ms: m?.p99Ms,
        clientCpuUsPerOp: undefined,
        serverCpuUsPerOp: undefined,
        ...(typeof idle[i] === 'string'
          ? { note: idle[i] }
          : m && m.problems.length > 0
            ? { note: m.problems.join('; ') }
            : {}),
        rounds: [],
      })
    }

    let cluster: ClusterOutcome | string | undefined
    if (flags.cluster) {
      try {
        cluster = await runCluster(ctx, sizes.jobs)
      } catch (err) {
        cluster = err instanceof Error ? err.message : String(err)
        ctx.log(`  cluster: FAILED ${cluster}`)
      }
      const c = ok(cluster)
      if (c) {
        const anchor = c.rounds.get(partitionsName(1))
        for (const p of PARTITIONS) {
          const name = partitionsName(p)
          rows.push(
            rowOf('8. Cluster, process c=100', name, c.rounds.get(name), anchor, c.failures.get(name)),
          )
        }
      }
    }

    const summary = summaryLines(
      rows,
      rounds,
      { valkit, bull, bee },
      commands,
      idle,
      memory,
      valkitWorkerKeep,
    )
    const header = [
      `${ctx.server.engine} ${ctx.server.version}; ${cpus().length} cores, Node ${process.version}; ${sizes.jobs.toLocaleString('en-US')} jobs per add/process measurement (c=1: ${sizes.serialJobs.toLocaleString('en-US')}), ${ctx.options.rounds} rounds, medians; ratios paired per round`,
      `↑ higher is better, ↓ lower is better; every library removes completed jobs except in 7 (keep all) and the default-keep line`,
    ]
    process.stdout.write(`\n${renderSummary('queue: side by side', header, summary)}\n`)
    if (cluster !== undefined) process.stdout.write(`${clusterText(cluster, rows)}\n`)

    return {
      title: `queue: add, addBulk, process (c=1/16/100), idle latency${flags.cluster ? ', Cluster partitions' : ''}`,
      anchor: bull.name,
      rows,
      notes: [
        `--duration, --warmup do not apply: every measurement is a number of jobs (${sizes.jobs.toLocaleString('en-US')}; c=1: ${sizes.serialJobs.toLocaleString('en-US')}); ops/s = jobs/s; ${producers} producers = --inflight`,
        `1: ${producers} async loops share one producer and add one job each at a time; 2: sequential addBulk of ${BULK_BATCH} (bee-queue: saveAll); p50/p99 = per call`,
        '3: jobs pre-added in bulk, then one worker (own connections) at that concurrency with a no-op async processor; clock from worker start to the last completion event; client µs/op = this process (worker only), server µs/op = INFO cpu',
        `5: ${sizes.commandJobs.toLocaleString('en-US')} jobs added one by one, then processed at c=100; calls = INFO commandstats delta (scripts' own commands included, the probe's INFO/ECHO left out); client commands and round trips = MONITOR lines not from the probe or lua (a MULTI…EXEC block = 1 round trip)`,
        `6: one producer, a worker (concurrency 1) waiting on an empty queue; ${sizes.idleJobs} jobs one at a time, ${IDLE_GAP_MS} ms after each completes; p50/p99 = add() called → processor started; "net" = round trips less the rate counted over ${sizes.idleQuietMs / 1000} s without jobs × the sequence's duration; "clock-driven commands left out" = round trips less the library's commands sent by the clock, not per job (valkit: health-check PING and INFO, the scheduler's ZRANGE every 5 s; none for the others)`,
        `7: ${sizes.keptJobs.toLocaleString('en-US')} jobs added in bulk and completed with every completed job kept (valkit and BullMQ removeOnComplete: false, bee-queue removeOnSuccess: false), default events; used_memory after (all clients closed) − before (empty server), per job; event stream = Σ MEMORY USAGE of stream keys`,
        'BullMQ: Queue + Worker from { host, port } (ioredis); bee-queue: producer isWorker/getEvents/storeJobs false, worker getEvents false (sends events, its default); valkit: createQueue + createWorker on their own createValkit({ url })',
        ...summary.filter((l) => l.target !== undefined).map((l) => `${l.metric}: ${l.target}`),
      ],
      // Kept in the JSON file with the rows.
      ...{
        sizes,
        summary,
        commands,
        idle: idle.map((m) => (typeof m === 'string' ? m : { ...m, latenciesMs: undefined })),
        memory,
        valkitWorkerKeep,
        cluster,
      },
    }
  } finally {
    await probe.close()
  }
}

type Libraries = { readonly valkit: QueueLibrary; readonly bull: QueueLibrary; readonly bee: QueueLibrary }

function summaryLines(
  rows: readonly BenchRow[],
  rounds: ReadonlyMap<string, readonly (JobsMeasurement | undefined)[]>,
  libs: Libraries,
  commandsOut: readonly (LifecycleCommands | string)[],
  idleOut: readonly (IdleMeasurement | string)[],
  memoryOut: readonly (MemoryMeasurement | string)[],
  valkitWorkerKeep: MemoryMeasurement | string | undefined,
): SummaryLine[] {
  const row = (scenarioPrefix: string, name: string) =>
    rows.find((r) => r.scenario.startsWith(scenarioPrefix) && r.library === name)
  const listOf = (key: string, name: string) => rounds.get(`${key}\u0000${name}`)
  const throughput = (
    key: string,
    prefix: string,
    metric: string,
    target?: (vsBull?: number, vsBee?: number) => string,
  ): SummaryLine => {
    const vsBullmq = pairedRatio(listOf(key, libs.valkit.name), listOf(key, libs.bull.name))
    const vsBee = pairedRatio(listOf(key, libs.valkit.name), listOf(key, libs.bee.name))
    const v = (name: string) => row(prefix, name)?.opsPerSec || undefined
    return {
      metric,
      better: 'higher',
      valkit: v(libs.valkit.name),
      bullmq: v(libs.bull.name),
      bee: v(libs.bee.name),
      vsBullmq,
      vsBee,
      digits: 0,
      ...(target ? { target: target(vsBullmq, vsBee) } : {}),
    }
  }
  const cost = (
    metric: string,
    pick: (r: BenchRow | undefined) => number | undefined,
    prefix: string,
    digits: number,
    target?: (v: number | undefined) => string,
  ): SummaryLine => {
    const valkit = pick(row(prefix, libs.valkit.name))
    return {
      metric,
      better: 'lower',
      valkit,
      bullmq: pick(row(prefix, libs.bull.name)),
      bee: pick(row(prefix, libs.bee.name)),
      digits,
      ...(target ? { target: target(valkit) } : {}),
    }
  }
  const single = <T>(
    out: readonly (T | string)[],
    metric: string,
    pick: (m: T) => number | undefined,
    digits: number,
    target?: (valkit: number | undefined, bullmq: number | undefined) => string,
  ): SummaryLine => {
    const [valkit, bullmq, bee] = out.map((m) => {
      const v = ok(m)
      return v === undefined ? undefined : pick(v)
    })
    return {
      metric,
      better: 'lower',
      valkit,
      bullmq,
      bee,
      digits,
      ...(target ? { target: target(valkit, bullmq) } : {}),
    }
  }
  const addTarget = (r?: number) =>
    verdict(`target ≥ ${TARGETS.addVsBullmq}× BullMQ`, r === undefined ? undefined : r >= TARGETS.addVsBullmq)
  const lines: SummaryLine[] = [
    throughput(KEYS.add, '1.', '1. add ×1, jobs/s', addTarget),
    throughput(KEYS.bulk, '2.', `2. addBulk ×${BULK_BATCH}, jobs/s`, addTarget),
    throughput(KEYS.c(1), '3. process c=1', '3. process c=1, jobs/s'),
    throughput(KEYS.c(16), '3. process c=16', '3. process c=16, jobs/s'),
    throughput(KEYS.c(100), '3. process c=100', '3. process c=100, jobs/s', (vsBull, vsBee) =>
      verdict(
        `target ≥ ${TARGETS.processVsBullmq}× BullMQ and > bee-queue`,
        vsBull === undefined || vsBee === undefined
          ? undefined
          : vsBull >= TARGETS.processVsBullmq && vsBee > 1,
      ),
    ),
    cost(
      '4. Redis CPU µs/job, c=100',
      (r) => r?.serverCpuUsPerOp,
      '3. process c=100',
      1,
      (v) =>
        verdict(
          `target ≤ ${TARGETS.redisCpuUsPerJob} µs`,
          v === undefined ? undefined : v <= TARGETS.redisCpuUsPerJob,
        ),
    ),
    cost('4. Node CPU µs/job, c=100', (r) => r?.clientCpuUsPerOp, '3. process c=100', 1),
    single(commandsOut, '5. Redis calls/job (add+process)', (m) => m.total.calls, 1),
    single(commandsOut, '5. of which script calls/job', (m) => m.total.scripts, 2),
    single(commandsOut, '5. client commands/job', (m) => m.total.commands, 2),
    single(commandsOut, '5. round trips/job', (m) => m.total.roundTrips, 2),
    single(
      idleOut,
      '6. idle add→start p50, ms',
      (m) => m.p50Ms,
      2,
      (v, b) => verdict('target < BullMQ', v === undefined || b === undefined ? undefined : v < b),
    ),
    single(
      idleOut,
      '6. idle add→start p99, ms',
      (m) => m.p99Ms,
      2,
      (v, b) => verdict('target < BullMQ', v === undefined || b === undefined ? undefined : v < b),
    ),
    single(idleOut, '6. idle round trips/job', (m) => m.cost.roundTrips, 2),
    single(idleOut, '6. idle round trips/job, net of idle background', (m) => m.netRoundTrips, 2),
    single(
      idleOut,
      '6. idle round trips/job, clock-driven commands left out',
      (m) => m.roundTripsPerJob,
      2,
      (v) =>
        verdict(
          `target ≤ ${TARGETS.idleCommandsPerJob}`,
          v === undefined ? undefined : v <= TARGETS.idleCommandsPerJob,
        ),
    ),
    single(
      memoryOut,
      '7. bytes per kept job',
      (m) => m.bytesPerJob,
      0,
      (v) =>
        verdict(
          `target ≤ ${TARGETS.bytesPerKeptJob}`,
          v === undefined ? undefined : v <= TARGETS.bytesPerKeptJob,
        ),
    ),
    single(memoryOut, '7. of which event stream', (m) => m.streamBytesPerJob, 0),
    {
      metric: '7. bytes per kept job, valkit keep-all on worker only',
      better: 'lower',
      valkit: ok(valkitWorkerKeep)?.bytesPerJob,
      bullmq: undefined,
      bee: undefined,
      vsBullmq: div(ok(valkitWorkerKeep)?.bytesPerJob, ok(memoryOut[1])?.bytesPerJob),
      vsBee: div(ok(valkitWorkerKeep)?.bytesPerJob, ok(memoryOut[2])?.bytesPerJob),
      digits: 0,
      target: verdict(
        `target ≤ ${TARGETS.bytesPerKeptJob}`,
        ok(valkitWorkerKeep) === undefined
          ? undefined
          : ok(valkitWorkerKeep)!.bytesPerJob <= TARGETS.bytesPerKeptJob,
      ),
    },
  ]
  return lines
}

function clusterText(cluster: ClusterOutcome | string, rows: readonly BenchRow[]): string {
  if (typeof cluster === 'string') return `\n== queue --cluster: not measured (${cluster})`
  const lines = [
    `\n== queue --cluster: valkit on 3 masters (${cluster.engine}), one worker at c=100 in this process`,
  ]
  for (const p of PARTITIONS) {
    const r = rows.find((x) => x.scenario.startsWith('8.') && x.library === partitionsName(p))
    if (!r) continue
    lines.push(
      `   partitions ${p}: ${Math.round(r.opsPerSec).toLocaleString('en-US')} jobs/s (${r.ratio?.toFixed(2) ?? '-'}× partitions 1), server µs/job ${r.serverCpuUsPerOp?.toFixed(1) ?? '-'} (all masters), client µs/job ${r.clientCpuUsPerOp?.toFixed(1) ?? '-'}; masters used per round ${cluster.mastersUsed.get(r.library)?.join('/') ?? '-'}${r.note ? `; ${r.note}` : ''}`,
    )
  }
  return lines.join('\n')
}

/** The `queue` benchmark, registered in bench/registry.ts. */
const queue: Benchmark = {
  name: 'queue',
  description:
    'job queues: valkit vs BullMQ 6.7 vs bee-queue 2 (add, bulk, process c=1/16/100, CPU, commands, idle, memory)',
  run,
}

export default queue
