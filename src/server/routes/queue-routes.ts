import type { FastifyInstance, FastifyReply } from 'fastify'
import { redactSecrets } from '../../core/config/index.js'
import { isValkitError, type ValkitErrorCode } from '../../core/errors.js'
import type { JobRecord, JobState } from '../../queue/index.js'
import type { PanelQueue } from '../queue-sources.js'
import type { SnapshotHub } from '../snapshot-hub.js'

/** What the queue routes need. */
export interface QueueRoutesContext {
  readonly hub: SnapshotHub
  /** The admin token, kept out of every message the routes send. */
  readonly token: string | undefined
}

/** The JSON body of a refused or failed queue request, shaped like a `ValkitError`. */
export interface QueueErrorBody {
  readonly error: { readonly code: string; readonly message: string }
}

const STATES: readonly JobState[] = ['waiting', 'delayed', 'active', 'completed', 'dead']
/** Most jobs one list request returns. */
export const MAX_LIST_COUNT = 200
const DEFAULT_LIST_COUNT = 50
/** Longest job id accepted (valkit's own limit is 256 characters). */
const MAX_ID_LENGTH = 256

/** The code of a refusal by its HTTP status. */
const REFUSAL_CODES = {
  400: 'VALKIT_INVALID_ARGUMENT',
  404: 'VALKIT_NOT_FOUND',
  409: 'VALKIT_CONFLICT',
} as const satisfies Record<number, ValkitErrorCode>

/** An expected refusal: sent as `{ error: { code, message } }` with its HTTP status. */
class Refusal extends Error {
  readonly code: ValkitErrorCode
  constructor(
    readonly status: keyof typeof REFUSAL_CODES,
    message: string,
  ) {
    super(message)
    this.name = 'Refusal'
    this.code = REFUSAL_CODES[status]
  }
}

/** A value from the request, quoted and cut short for a message. */
const quoted = (v: unknown): string => {
  const text = JSON.stringify(v) ?? String(v)
  return text.length > 80 ? `${text.slice(0, 77)}…"` : text
}

function integer(name: string, raw: unknown, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return fallback
  const n = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : Number.NaN
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new Refusal(400, `\`${name}\` must be an integer from ${min} to ${max}; got ${quoted(raw)}.`)
  }
  return n
}

function jobState(raw: unknown): JobState {
  if (raw === undefined || raw === '') {
    throw new Refusal(400, `\`state\` is required: one of ${STATES.join(', ')}.`)
  }
  if (typeof raw !== 'string' || !STATES.includes(raw as JobState)) {
    throw new Refusal(400, `\`state\` must be one of ${STATES.join(', ')}; got ${quoted(raw)}.`)
  }
  return raw as JobState
}

function jobId(raw: string): string {
  if (raw.length === 0 || raw.length > MAX_ID_LENGTH) {
    throw new Refusal(400, `A job id is 1 to ${MAX_ID_LENGTH} characters; got ${raw.length}.`)
  }
  return raw
}

const ACTIONS = {
  retry: { needs: 'dead', verb: 'retried', run: (q: PanelQueue, id: string) => q.retry(id) },
  promote: { needs: 'delayed', verb: 'promoted', run: (q: PanelQueue, id: string) => q.promote(id) },
  remove: { needs: null, verb: 'removed', run: (q: PanelQueue, id: string) => q.remove(id) },
} as const satisfies Record<
  string,
  { needs: JobState | null; verb: string; run: (q: PanelQueue, id: string) => Promise<number> }
>

/**
 * The queue routes of the admin API (behind the same bearer token as every `/api` route):
 *
 * - `GET /api/queues`: the `queues` section of the dashboard snapshot, built now.
 * - `GET /api/queues/:name/jobs?state=dead&start=0&count=50`: job records in one state
 *   (waiting and delayed in run order, completed and dead newest first; `count` at most 200).
 * - `GET /api/queues/:name/jobs/:id`: one job with its data, attempts, error history, progress
 *   and result.
 * - `POST /api/queues/:name/jobs/:id/retry` (a dead job back to waiting), `.../promote` (a
 *   delayed job ready now), `.../remove` (whatever its state).
 * - `POST /api/queues/:name/retry-all` (every dead job), `/pause`, `/resume`.
 *
 * Only queues given in `panels.queues` are listed and acted on; any other name is a 404.
 * Refusals are `{ error: { code, message } }`: 400 `VALKIT_INVALID_ARGUMENT` for a bad
 * parameter, 404 `VALKIT_NOT_FOUND` for an unknown queue or job, 409 `VALKIT_CONFLICT` for a job
 * not in the state the action needs, 503 when the queue cannot be reached.
 */
export function registerQueueRoutes(app: FastifyInstance, ctx: QueueRoutesContext): void {
  const sources = ctx.hub.queueSources

  const send = (reply: FastifyReply, status: number, code: string, message: string) => {
    const secrets = ctx.token === undefined ? [] : [ctx.token]
    const body: QueueErrorBody = { error: { code, message: redactSecrets(message, secrets) } }
    return reply.code(status).send(body)
  }

  /** Runs a handler; refusals and queue failures become JSON errors. */
  const handle = async (reply: FastifyReply, run: () => Promise<unknown>): Promise<unknown> => {
    try {
      return await run()
    } catch (err) {
      if (err instanceof Refusal) return send(reply, err.status, err.code, err.message)
      if (isValkitError(err, 'VALKIT_INVALID_ARGUMENT')) return send(reply, 400, err.code, err.message)
      const code = isValkitError(err) ? err.code : 'VALKIT_UNAVAILABLE'
      const message = err instanceof Error ? err.message : String(err)
      return send(reply, 503, code, `The queue could not be reached: ${message}`)
    }
  }

  const queueOf = async (name: string): Promise<PanelQueue> => {
    const queue = sources.get(name)
    if (queue !== undefined) return queue
    // a queue this process's workers run, known from the metrics registry only
    const seen = (await ctx.hub.queues()).queues.some((q) => q.queue === name && !q.managed)
    if (seen) {
      throw new Refusal(
        404,
        `Queue ${quoted(name)} runs in this process but was not given to the server: pass it in ` +
          '`panels: { queues: [queue] }` to list its jobs and act on them.',
      )
    }
    const names = sources.names
    throw new Refusal(
      404,
      `No queue ${quoted(name)} is given to this server` +
        (names.length > 0 ? ` (it has ${names.map((n) => JSON.stringify(n)).join(', ')}).` : '.'),
    )
  }

  const jobOf = async (queue: PanelQueue, id: string): Promise<JobRecord> => {
    const job = await queue.getJob(id)
    if (job === undefined) {
      throw new Refusal(
        404,
        `Queue ${quoted(queue.name)} keeps no job ${quoted(id)} (never added, removed, or past its keep policy).`,
      )
    }
    return job
  }

  app.get('/queues', async (_request, reply) => handle(reply, () => ctx.hub.queues()))

  app.get<{ Params: { name: string }; Querystring: Record<string, unknown> }>(
    '/queues/:name/jobs',
    async (request, reply) =>
      handle(reply, async () => {
        const queue = await queueOf(request.params.name)
        const state = jobState(request.query.state)
        const start = integer('start', request.query.start, 0, 0, Number.MAX_SAFE_INTEGER)
        const count = integer('count', request.query.count, DEFAULT_LIST_COUNT, 1, MAX_LIST_COUNT)
        const jobs = await queue.list(state, { start, count })
        return { queue: queue.name, state, start, count, jobs }
      }),
  )

  app.get<{ Params: { name: string; id: string } }>('/queues/:name/jobs/:id', async (request, reply) =>
    handle(reply, async () => {
      const queue = await queueOf(request.params.name)
      const job = await jobOf(queue, jobId(request.params.id))
      return { queue: queue.name, job }
    }),
  )

  for (const [action, spec] of Object.entries(ACTIONS)) {
    app.post<{ Params: { name: string; id: string } }>(
      `/queues/:name/jobs/:id/${action}`,
      async (request, reply) =>
        handle(reply, async () => {
          const queue = await queueOf(request.params.name)
          const id = jobId(request.params.id)
          const before = await jobOf(queue, id)
          if (spec.needs !== null && before.state !== spec.needs) {
            throw new Refusal(
              409,
              `Job ${quoted(id)} is ${before.state}: only a ${spec.needs} job can be ${spec.verb}.`,
            )
          }
          const changed = await spec.run(queue, id)
          sources.invalidate(queue.name)
          if (changed === 0) {
            throw new Refusal(409, `Job ${quoted(id)} changed meanwhile and was not ${spec.verb}.`)
          }
          const job = action === 'remove' ? null : ((await queue.getJob(id)) ?? null)
          return { queue: queue.name, id, action, changed, job }
        }),
    )
  }

  app.post<{ Params: { name: string } }>('/queues/:name/retry-all', async (request, reply) =>
    handle(reply, async () => {
      const queue = await queueOf(request.params.name)
      const changed = await queue.retry()
      sources.invalidate(queue.name)
      return { queue: queue.name, action: 'retry-all', changed }
    }),
  )

  for (const action of ['pause', 'resume'] as const) {
    app.post<{ Params: { name: string } }>(`/queues/:name/${action}`, async (request, reply) =>
      handle(reply, async () => {
        const queue = await queueOf(request.params.name)
        await queue[action]()
        sources.invalidate(queue.name)
        return { queue: queue.name, action, paused: action === 'pause' }
      }),
    )
  }
}
