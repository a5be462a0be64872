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
  'removed',
])

/** One stream entry's fields as an event; undefined for an entry valkit did not write. @internal */
export function parseEvent(streamId: string, f: Readonly<Record<string, string>>): QueueEvent | undefined {
  const type = f.e as QueueEvent['type']
  if (!EVENT_TYPES.has(type) || f.i === undefined) return undefined
  const event: { -readonly [K in keyof QueueEvent]: QueueEvent[K] } = { streamId, type, jobId: f.i }
  setField(event, 'n', f.n)
  setField(event, 'a', f.a)
  setField(event, 'p', f.p)
  setField(event, 'err', f.err)
  setField(event, 'delay', f.delay)
  setField(event, 'final', f.final)
  return event
}

type MutableEvent = { -readonly [K in keyof QueueEvent]: QueueEvent[K] }

function setField(event: MutableEvent, field: string, value: string | undefined): void {
  if (value === undefined) return
  switch (field) {
    case 'n':
      event.name = value
      break
    case 'a':
      event.attempt = Number(value)
      break
    case 'p':
      event.progress = json(value)
      break
    case 'err':
      event.error = json(value) as JobError
      break
    case 'delay':
      event.delayMs = Number(value)
      break
    case 'final':
      event.final = value === '1'
  }
}

/**
 * The events of one stream entry, written by one script call: its fields in order, where `e`
 * names the type of the events after it, `i` starts an event (the job's id), and any other
 * field belongs to the event before it. An entry of one event is the original layout
 * (`e <type> i <id> ...`). Events of an entry of several get `<entry id>:<index>` as their
 * stream id, the last one the entry's own id, so they sort in order and the last is a plain
 * stream position. Fields valkit did not write are skipped. @internal
 */
export function parseEntry(entryId: string, flat: readonly string[]): QueueEvent[] {
  const events: MutableEvent[] = []
  let type: QueueEvent['type'] | undefined
  let current: MutableEvent | undefined
  for (let k = 0; k + 1 < flat.length; k += 2) {
    const field = flat[k]!
    const value = flat[k + 1]!
    if (field === 'e') {
      type = EVENT_TYPES.has(value as QueueEvent['type']) ? (value as QueueEvent['type']) : undefined
      current = undefined
    } else if (field === 'i') {
      current = type === undefined ? undefined : { streamId: '', type, jobId: value }
      if (current !== undefined) events.push(current)
    } else if (current !== undefined) setField(current, field, value)
  }
  for (let k = 0; k < events.length; k++)
    events[k]!.streamId = k === events.length - 1 ? entryId : `${entryId}:${k}`
  return events
}

/** A stream id as given to `events({ from })`: the entry, and the index of the event within it (none: all of it). @internal */
export function splitEventId(id: string): { entry: string; index: number | undefined } {
  const colon = id.indexOf(':')
  if (colon < 0) return { entry: id, index: undefined }
  return { entry: id.slice(0, colon), index: Number(id.slice(colon + 1)) }
}
