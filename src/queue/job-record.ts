import type { JobError, JobRecord, JobState, QueueEvent } from './queue-types.js'

const STATES: Readonly<Record<string, JobState>> = {
  w: 'waiting',
  d: 'delayed',
  a: 'active',
  c: 'completed',
  x: 'dead',
}

function json(value: string | undefined): unknown {
  if (value === undefined || value === '') return undefined
  try {
    return JSON.parse(value) as unknown
  } catch {
    return value
  }
}

/** A job's stored fields (the job hash of the Redis store, the same names in memory) as a record. @internal */
export function recordOf(id: string, f: Readonly<Record<string, string>>): JobRecord {
  const errors = json(f.e)
  const record: {
    -readonly [K in keyof JobRecord]: JobRecord[K]
  } = {
    id,
    name: f.n ?? '',
    data: json(f.d) ?? null,
    state: STATES[f.s ?? ''] ?? 'waiting',
    attemptsMade: Number(f.a ?? 0),
    priority: Number(f.P ?? 0),
    createdAt: Number(f.t ?? 0),
    errors: Array.isArray(errors) ? (errors as JobError[]) : [],
    stalls: Number(f.st ?? 0),
  }
  if (f.rt !== undefined && f.s === 'd') record.runAt = Number(f.rt)
  if (f.f !== undefined) record.finishedAt = Number(f.f)
  if (f.p !== undefined) record.progress = json(f.p)
  if (f.r !== undefined) record.result = json(f.r)
  if (f.sc !== undefined) record.schedule = f.sc
  return record
}

const EVENT_TYPES = new Set<QueueEvent['type']>([
  'added',
  'delayed',
  'waiting',
  'active',
  'progress',
  'completed',
  'retried',
  'dead-lettered',
  'stalled',
])

/** One stream entry's fields as an event; undefined for an entry valkit did not write. @internal */
export function parseEvent(streamId: string, f: Readonly<Record<string, string>>): QueueEvent | undefined {
  const type = f.e as QueueEvent['type']
  if (!EVENT_TYPES.has(type) || f.i === undefined) return undefined
  const event: { -readonly [K in keyof QueueEvent]: QueueEvent[K] } = { streamId, type, jobId: f.i }
  if (f.n !== undefined) event.name = f.n
  if (f.a !== undefined) event.attempt = Number(f.a)
  if (f.p !== undefined) event.progress = json(f.p)
  if (f.err !== undefined) event.error = json(f.err) as JobError
  if (f.delay !== undefined) event.delayMs = Number(f.delay)
  if (f.final !== undefined) event.final = f.final === '1'
  return event
}
