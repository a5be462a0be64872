/**
 * `session`: read+touch of a session from its cookie, express-session 1.19 + connect-redis 9
 * (the anchor) next to valkit's session store with encryption on, against one server in one
 * run: at the store level, and through each library's middleware without HTTP.
 */
import { compareSubjects, loopSubject, type Subject } from '../lib/compare.js'
import { openServerCpuProbe } from '../lib/server.js'
import type { Benchmark, BenchContext, BenchReport, BenchRow } from '../lib/types.js'
import { openAnchor } from './anchor.js'
import { openValkitSessions } from './valkit-session.js'
import { SCENARIOS, SESSIONS } from './workload.js'

/** valkit's target against the anchor in scenario 1, with encryption on. */
const TARGET = 1.5
const ANCHOR = 'express-session + connect-redis (anchor)'
const VALKIT_EVERY = 'valkit, encrypted, touch every read'
const VALKIT_DEFAULT = 'valkit, encrypted, defaults (touchInterval 1s)'
const VALKIT_NO_CACHE = 'valkit, encrypted, touch every read, caches off'

function targetNotes(rows: readonly BenchRow[]): string[] {
  const notes: string[] = []
  for (const name of [VALKIT_EVERY, VALKIT_DEFAULT, VALKIT_NO_CACHE]) {
    const row = rows.find((r) => r.scenario === SCENARIOS.store && r.library === name)
    if (row?.ratio === undefined) continue
    notes.push(
      `${SCENARIOS.store}, ${name}: ${row.ratio.toFixed(2)}× the anchor (target ≥ ${TARGET}×: ${row.ratio >= TARGET ? 'met' : 'NOT met'})`,
    )
  }
  return notes
}

async function run(ctx: BenchContext): Promise<BenchReport> {
  const { url } = ctx.server
  const closers: (() => Promise<void>)[] = []
  const probe = await openServerCpuProbe(url)
  try {
    const anchor = await openAnchor(url)
    closers.push(() => anchor.close())
    const every = await openValkitSessions(url, { touchInterval: 0 })
    closers.push(() => every.close())
    const defaults = await openValkitSessions(url, {})
    closers.push(() => defaults.close())
    const noCache = await openValkitSessions(url, { touchInterval: 0, cacheEntries: 0 })
    closers.push(() => noCache.close())
    const subject = (
      name: string,
      s: { storeRead: (i: number) => Promise<unknown>; middleware: (i: number) => Promise<unknown> },
    ): Subject => loopSubject(name, { [SCENARIOS.store]: s.storeRead, [SCENARIOS.middleware]: s.middleware })
    const rows = await compareSubjects({
      scenarios: [SCENARIOS.store, SCENARIOS.middleware],
      subjects: [
        subject(ANCHOR, anchor),
        subject(VALKIT_EVERY, every),
        subject(VALKIT_DEFAULT, defaults),
        subject(VALKIT_NO_CACHE, noCache),
      ],
      anchor: ANCHOR,
      options: ctx.options,
      serverCpu: probe,
      log: (m) => ctx.log(m),
    })
    return {
      title: 'session: read+touch of a session from its cookie',
      anchor: ANCHOR,
      rows,
      notes: [
        `closed loop, ${ctx.options.inflight} in flight; ${SESSIONS} sessions of ~250 bytes of JSON read round-robin; every op checks the cookie's HMAC and reads the user`,
        `${SCENARIOS.store}: anchor = cookie-signature unsign + connect-redis get + touch (GET + EXPIRE, no encryption); valkit = sessions.load(token): one script (idle, absolute, index, last seen) + AES-256-GCM data`,
        `${SCENARIOS.middleware}: anchor = express-session's middleware on a fake req/res (resave false, saveUninitialized false, rolling touch); valkit = the adapters' open(Cookie header) + commit, nothing changed`,
        'caches off: no verified-token, key-name or authenticated-data cache, so every read does the HMAC and the decryption',
        ...targetNotes(rows),
      ],
    }
  } finally {
    for (const close of closers.reverse()) await close().catch(() => {})
    await probe.close()
  }
}

/** The `session` benchmark, registered in bench/registry.ts. */
const sessionBench: Benchmark = {
  name: 'session',
  description: 'sessions: express-session + connect-redis vs valkit (read+touch, middleware), encryption on',
  run,
}

export default sessionBench
