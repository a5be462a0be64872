import { ValkitError, invalidOption } from '../core/index.js'

/**
 * Something that fires at instants: a cron expression ({@link parseCron}) or a fixed interval
 * ({@link everyMs}). Pure time computation, no I/O, the same answer on every instance, so the
 * scheduler can agree on "the tick after X" without talking to anyone.
 */
export interface RecurringSchedule {
  /** `'cron'` for {@link CronSchedule}, `'interval'` for {@link IntervalSchedule}. */
  readonly kind: 'cron' | 'interval'
  /**
   * The first fire time strictly after `afterMs` (epoch milliseconds). Throws
   * `VALKIT_INVALID_ARGUMENT` when `afterMs` is not a number between 1970 and the year 9999.
   */
  next(afterMs: number): number
  /** The next `n` fire times after `afterMs`, oldest first (`next` applied `n` times). */
  nextN(afterMs: number, n: number): number[]
}

/**
 * A parsed cron expression in a time zone. Fire times are whole seconds.
 *
 * Daylight saving time: the expression is matched against the zone's wall clock.
 * - In a spring-forward gap, a wall-clock time that does not exist (02:30 on the night New York
 *   skips from 02:00 to 03:00) fires once, at the first instant after the gap (03:00 local).
 *   Several such times (every minute of the skipped hour) collapse into that one fire.
 * - In a fall-back overlap, a wall-clock time that occurs twice (01:30 on the night New York
 *   goes from 02:00 back to 01:00) fires once, at its first occurrence. Schedules that fire
 *   every minute or every hour therefore pause during the repeated hour.
 *
 * @example
 * ```ts
 * const schedule = parseCron('0 9 * * MON-FRI', { tz: 'Europe/Berlin' })
 * schedule.next(Date.now()) // the next weekday 09:00 in Berlin, as epoch ms
 * ```
 */
export interface CronSchedule extends RecurringSchedule {
  readonly kind: 'cron'
  /** The expression as given (trimmed). */
  readonly expression: string
  /** The IANA time zone the expression is read in. */
  readonly tz: string
}

/** Options of {@link parseCron}. */
export interface CronOptions {
  /**
   * IANA time zone whose wall clock the expression describes (`'America/New_York'`).
   * @defaultValue 'UTC'
   */
  readonly tz?: string
}

/**
 * A fixed interval: ticks at `startAtMs`, `startAtMs + intervalMs`, `startAtMs + 2 * intervalMs`...
 *
 * @example
 * ```ts
 * everyMs(60_000).next(Date.UTC(2026, 0, 1, 0, 0, 30)) // Date.UTC(2026, 0, 1, 0, 1)
 * ```
 */
export interface IntervalSchedule extends RecurringSchedule {
  readonly kind: 'interval'
  readonly intervalMs: number
  /** The first tick; every tick is this plus a whole number of intervals. */
  readonly startAtMs: number
}

/** Options of {@link everyMs}. */
export interface EveryOptions {
  /**
   * The first tick (epoch ms); later ticks are aligned to it.
   * @defaultValue 0
   */
  readonly startAtMs?: number
}

/** What {@link missedTicks} found in a window. */
export interface MissedTicks {
  /** Tick times in the window, oldest first, at most `limit` of them. */
  readonly ticks: number[]
  /** `true` when the window holds more ticks than `ticks` (the ones after the last listed). */
  readonly truncated: boolean
}

/** Years `next` searches ahead: one full Gregorian cycle, in which every possible day recurs. */
const SEARCH_YEARS = 400
const MIN_MS = 0
const MAX_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999)
const DAY_MS = 86_400_000
const MACROS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
}
const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC']
/** Longest length of each month (February: 29, in leap years). */
const MONTH_LENGTHS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
const FULL_MONTHS = [
  ...['January', 'February', 'March', 'April', 'May', 'June'],
  ...['July', 'August', 'September', 'October', 'November', 'December'],
]

interface FieldSpec {
  readonly name: string
  readonly min: number
  readonly max: number
  /** Names of the values from `min` up. */
  readonly names?: readonly string[]
  readonly valid: string
}

const SECOND: FieldSpec = { name: 'second', min: 0, max: 59, valid: 'values are 0-59' }
const MINUTE: FieldSpec = { name: 'minute', min: 0, max: 59, valid: 'values are 0-59' }
const HOUR: FieldSpec = { name: 'hour', min: 0, max: 23, valid: 'values are 0-23' }
const DOM: FieldSpec = { name: 'day-of-month', min: 1, max: 31, valid: 'values are 1-31' }
const MONTH: FieldSpec = {
  name: 'month',
  min: 1,
  max: 12,
  names: MONTH_NAMES,
  valid: 'values are 1-12 or JAN-DEC',
}
const DOW: FieldSpec = {
  name: 'day-of-week',
  min: 0,
  max: 7,
  names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'],
  valid: 'values are 0-7 (0 and 7 are Sunday) or SUN-SAT',
}

/**
 * The compiled fields. Each table maps a value to the smallest allowed value at or above it,
 * or -1, so the search jumps straight to the next candidate instead of stepping through time.
 */
interface Fields {
  readonly second: Int8Array
  readonly minute: Int8Array
  readonly hour: Int8Array
  readonly dom: Int8Array
  readonly month: Int8Array
  /** Days from a weekday (0 = Sunday) to the nearest allowed weekday at or after it. */
  readonly dowDistance: Int8Array
  /** Vixie cron: a day matches when both fields match, unless both are restricted, then either. */
  readonly dayRule: 'and' | 'or'
}

/**
 * Parses a cron expression: 5 fields (`minute hour day-of-month month day-of-week`) or 6 with a
 * leading `second`, or one of the macros `@yearly` (`@annually`), `@monthly`, `@weekly`,
 * `@daily` (`@midnight`) and `@hourly`.
 *
 * Each field is `*` or a comma list of values, ranges `1-5` and steps `*\/5`, `10-50/10` and
 * `10/10` (from 10 to the field's maximum). Months take `JAN`-`DEC` and days of the week
 * `SUN`-`SAT` (any case); day-of-week `0` and `7` are both Sunday. As in Vixie cron, when
 * day-of-month and day-of-week are both restricted (neither starts with `*`), a day matches
 * when either does (`0 0 13 * FRI`: every 13th and every Friday); otherwise both must
 * (`0 0 *\/2 * FRI`: Fridays on odd days).
 *
 * Throws `VALKIT_INVALID_OPTION` (`details.path` `'cron'`, `details.field` the field's name)
 * for a malformed expression or one that can never fire (`0 0 31 2 *`), and
 * (`details.path` `'cron.tz'`) for a time zone `Intl` does not know.
 *
 * @example
 * ```ts
 * const nightly = parseCron('30 2 * * *', { tz: 'America/New_York' })
 * nightly.nextN(Date.UTC(2026, 2, 7), 2) // [02:30 EST on March 7, then 03:00 EDT on March 8: 02:30 does not exist]
 * ```
 */
export function parseCron(expression: string, options?: CronOptions): CronSchedule {
  if (typeof expression !== 'string') {
    throw invalidOption('cron', `got ${typeof expression}`, 'a cron expression string such as `*/5 * * * *`')
  }
  const text = expression.trim()
  const tz = options?.tz ?? 'UTC'
  const zone = resolveZone(tz)
  const source = text.startsWith('@') ? MACROS[text.toLowerCase()] : text
  if (source === undefined) {
    throw cronError(text, `unknown macro \`${text}\`; the macros are ${Object.keys(MACROS).join(', ')}`, {})
  }
  const parts = source.split(/\s+/)
  if (parts.length !== 5 && parts.length !== 6) {
    throw cronError(
      text,
      `expected 5 fields (minute hour day-of-month month day-of-week) or 6 (a leading second), got ${source === '' ? 0 : parts.length}`,
      {},
    )
  }
  const [sec, min, hour, dom, mon, dow] = parts.length === 6 ? parts : ['0', ...parts]
  const field = (value: string | undefined, spec: FieldSpec): boolean[] => parseField(text, value ?? '', spec)
  const domSet = field(dom, DOM)
  const monthSet = field(mon, MONTH)
  const dowSet = field(dow, DOW)
  if (dowSet[7] === true) dowSet[0] = true
  const dayRule = dom?.startsWith('*') === true || dow?.startsWith('*') === true ? 'and' : 'or'
  if (dayRule === 'and') assertReachable(text, domSet, monthSet, dom ?? '', mon ?? '')
  const fields: Fields = {
    second: nextTable(field(sec, SECOND)),
    minute: nextTable(field(min, MINUTE)),
    hour: nextTable(field(hour, HOUR)),
    dom: nextTable(domSet),
    month: nextTable(monthSet),
    dowDistance: Int8Array.from({ length: 7 }, (_, day) => {
      for (let ahead = 0; ahead < 7; ahead++) if (dowSet[(day + ahead) % 7] === true) return ahead
      return -1
    }),
    dayRule,
  }
  return new Cron(text, tz, fields, zone)
}

/**
 * A fixed-interval schedule with the same `next` as a cron schedule: ticks are
 * `startAtMs + k * intervalMs` for whole `k >= 0`, and `next(after)` is the first one after
 * `after` (`startAtMs` itself when `after` is earlier). Throws `VALKIT_INVALID_OPTION` unless
 * `intervalMs` is a positive integer and `startAtMs` an integer within the supported range.
 *
 * @example
 * ```ts
 * const every90s = everyMs(90_000, { startAtMs: Date.UTC(2026, 0, 1) })
 * every90s.next(Date.UTC(2026, 0, 1, 0, 2)) // Date.UTC(2026, 0, 1, 0, 3) (two intervals after the start)
 * ```
 */
export function everyMs(intervalMs: number, options?: EveryOptions): IntervalSchedule {
  if (!Number.isSafeInteger(intervalMs) || intervalMs <= 0) {
    throw invalidOption('intervalMs', `got ${String(intervalMs)}`, 'a positive integer of milliseconds')
  }
  const startAtMs = options?.startAtMs ?? 0
  if (!Number.isSafeInteger(startAtMs) || startAtMs < MIN_MS || startAtMs > MAX_MS) {
    throw invalidOption(
      'startAtMs',
      `got ${String(startAtMs)}`,
      'an integer epoch time from 1970 to the year 9999',
    )
  }
  const next = (afterMs: number): number => {
    checkInstant(afterMs, 'afterMs')
    if (afterMs < startAtMs) return startAtMs
    return startAtMs + (Math.floor((afterMs - startAtMs) / intervalMs) + 1) * intervalMs
  }
  return Object.freeze({
    kind: 'interval' as const,
    intervalMs,
    startAtMs,
    next,
    nextN: (afterMs: number, n: number) => repeat(next, afterMs, n),
  })
}

/**
 * The ticks of `schedule` in the window `(lastTickMs, nowMs]`: those that came due while nothing
 * ran them. At most `limit` are listed, oldest first, and `truncated` says whether more exist, so
 * a missed-tick policy can run none (`'skip'`), one (`'run-once'`) or a bounded number of them
 * (`'run-all'`) without computing a week of every-second ticks. An empty window (`nowMs` not after
 * `lastTickMs`) has no ticks.
 *
 * @example
 * ```ts
 * const { ticks, truncated } = missedTicks(parseCron('*\/10 * * * *'), lastRunMs, Date.now(), 100)
 * ```
 */
export function missedTicks(
  schedule: RecurringSchedule,
  lastTickMs: number,
  nowMs: number,
  limit: number,
): MissedTicks {
  checkInstant(lastTickMs, 'lastTickMs')
  checkInstant(nowMs, 'nowMs')
  if (!Number.isSafeInteger(limit) || limit < 0) {
    throw new ValkitError('VALKIT_INVALID_ARGUMENT', `limit must be an integer >= 0, got ${String(limit)}.`, {
      details: { argument: 'limit' },
    })
  }
  const ticks: number[] = []
  let tick = lastTickMs
  while (tick < nowMs) {
    tick = schedule.next(tick)
    if (tick > nowMs) break
    if (ticks.length === limit) return { ticks, truncated: true }
    ticks.push(tick)
  }
  return { ticks, truncated: false }
}

class Cron implements CronSchedule {
  readonly kind = 'cron' as const

  constructor(
    readonly expression: string,
    readonly tz: string,
    private readonly fields: Fields,
    private readonly zone: Zone | undefined,
  ) {
    Object.freeze(this)
  }

  next(afterMs: number): number {
    checkInstant(afterMs, 'afterMs')
    const zone = this.zone
    if (zone === undefined) return this.nextWall(floorSecond(afterMs) + 1000)
    // Wall-clock times, written as if they were UTC, map to instants without going backwards, so
    // the answer is the first matching wall time from the first one that maps after `afterMs`.
    const wall = afterMs + zone.offset(afterMs)
    const first = zone.toInstant(wall)
    let from = floorSecond(wall) + 1000
    if (first < afterMs) {
      // `afterMs` is in the repeated hour of a fall-back: its wall times already fired at their
      // first occurrence, so the search starts where the repeated wall times end.
      const transition = zone.transition(first, afterMs)
      from = Math.ceil((transition + zone.offset(first)) / 1000) * 1000
    }
    return zone.toInstant(this.nextWall(from))
  }

  nextN(afterMs: number, n: number): number[] {
    return repeat((after) => this.next(after), afterMs, n)
  }

  /** The first matching wall-clock time (as UTC fields) at or after `fromMs`, a whole second. */
  private nextWall(fromMs: number): number {
    const f = this.fields
    const start = new Date(fromMs)
    let year = start.getUTCFullYear()
    let month = start.getUTCMonth() + 1
    let day = start.getUTCDate()
    let hour = start.getUTCHours()
    let minute = start.getUTCMinutes()
    let second = start.getUTCSeconds()
    const lastYear = year + SEARCH_YEARS
    while (year <= lastYear) {
      const m = at(f.month, month)
      if (m === -1) {
        ;[year, month, day, hour, minute, second] = [year + 1, 1, 1, 0, 0, 0]
        continue
      }
      if (m !== month) [month, day, hour, minute, second] = [m, 1, 0, 0, 0]
      const d = nextDay(f, year, month, day)
      if (d === -1) {
        ;[month, day, hour, minute, second] = [month + 1, 1, 0, 0, 0]
        continue
      }
      if (d !== day) [day, hour, minute, second] = [d, 0, 0, 0]
      const h = at(f.hour, hour)
      if (h === -1) {
        ;[day, hour, minute, second] = [day + 1, 0, 0, 0]
        continue
      }
      if (h !== hour) [hour, minute, second] = [h, 0, 0]
      const mi = at(f.minute, minute)
      if (mi === -1) {
        ;[hour, minute, second] = [hour + 1, 0, 0]
        continue
      }
      if (mi !== minute) [minute, second] = [mi, 0]
      const s = at(f.second, second)
      if (s === -1) {
        ;[minute, second] = [minute + 1, 0]
        continue
      }
      return Date.UTC(year, month - 1, day, hour, minute, s)
    }
    throw new ValkitError(
      'VALKIT_INVALID_OPTION',
      `Cron expression \`${this.expression}\` does not fire within ${SEARCH_YEARS} years of ${new Date(fromMs).toISOString()}.`,
      { details: { path: 'cron', expression: this.expression } },
    )
  }
}

/** The first day at or after `day` in the month that matches the day fields, or -1. */
function nextDay(f: Fields, year: number, month: number, day: number): number {
  const length = new Date(Date.UTC(year, month, 0)).getUTCDate()
  if (day > length) return -1
  const firstWeekday = new Date(Date.UTC(year, month - 1, 1)).getUTCDay()
  const toWeekday = (d: number): number => d + at(f.dowDistance, (firstWeekday + d - 1) % 7)
  if (f.dayRule === 'or') {
    const byMonth = at(f.dom, day)
    const byWeek = toWeekday(day)
    const best = byMonth === -1 ? byWeek : Math.min(byMonth, byWeek)
    return best <= length ? best : -1
  }
  for (let d = day; d <= length;) {
    const byMonth = at(f.dom, d)
    if (byMonth === -1 || byMonth > length) return -1
    d = toWeekday(byMonth)
    if (d === byMonth) return d
  }
  return -1
}

function parseField(expression: string, text: string, spec: FieldSpec): boolean[] {
  const fail = (problem: string): ValkitError =>
    cronError(expression, `${spec.name} field \`${text}\`: ${problem}`, {
      field: spec.name,
      value: text,
      expected: spec.valid,
    })
  const value = (item: string, token: string): number => {
    const upper = token.toUpperCase()
    const named = spec.names?.indexOf(upper) ?? -1
    const n = /^\d+$/.test(token) ? Number(token) : named >= 0 ? named + spec.min : Number.NaN
    if (n >= spec.min && n <= spec.max) return n
    throw fail(item === text ? spec.valid : `\`${token}\` is not valid; ${spec.valid}`)
  }
  const set = new Array<boolean>(spec.max + 1).fill(false)
  for (const item of text.split(',')) {
    if (item === '') throw fail('an empty list item; separate values with single commas')
    const [range = '', stepText, extra] = item.split('/')
    if (
      extra !== undefined ||
      (stepText !== undefined && !/^\d+$/.test(stepText)) ||
      Number(stepText) === 0
    ) {
      throw fail(`the step in \`${item}\` must be a positive integer (\`*/5\`, \`10-50/10\`)`)
    }
    const step = stepText === undefined ? 1 : Number(stepText)
    let low = spec.min
    let high = spec.max
    if (range !== '*') {
      const ends = range.split('-')
      if (ends.length > 2) throw fail(`\`${item}\` is not a value or a range; ${spec.valid}`)
      low = value(item, ends[0] ?? '')
      high = ends[1] !== undefined ? value(item, ends[1]) : stepText === undefined ? low : spec.max
      if (low > high) throw fail(`the range \`${range}\` runs backwards; write it low-high (${spec.valid})`)
    }
    for (let v = low; v <= high; v += step) set[v] = true
  }
  return set
}

/** With the AND day rule, some allowed month must have some allowed day (February: 29). */
function assertReachable(
  expression: string,
  dom: boolean[],
  month: boolean[],
  domText: string,
  monText: string,
) {
  const firstDay = dom.indexOf(true)
  const months = MONTH_LENGTHS.flatMap((_length, i) => (month[i + 1] === true ? [i] : []))
  if (months.some((i) => firstDay <= (MONTH_LENGTHS[i] ?? 0))) return
  const longest = Math.max(...months.map((i) => MONTH_LENGTHS[i] ?? 0))
  const names = months.map((i) => FULL_MONTHS[i]).join(', ')
  throw cronError(
    expression,
    `day-of-month field \`${domText}\` never falls in month field \`${monText}\` ` +
      `(${names} ${months.length === 1 ? 'has' : 'have'} at most ${longest} days), so the schedule never fires`,
    {
      field: 'day-of-month',
      value: domText,
      expected: `a day that ${names} ${months.length === 1 ? 'has' : 'have'}`,
    },
  )
}

function cronError(expression: string, problem: string, details: Record<string, unknown>): ValkitError {
  return new ValkitError('VALKIT_INVALID_OPTION', `Invalid cron expression \`${expression}\`: ${problem}.`, {
    details: { path: 'cron', expression, ...details },
  })
}

/** `table[v]` = the smallest allowed value >= v, or -1; one slot past the maximum holds -1. */
function nextTable(set: boolean[]): Int8Array {
  const table = new Int8Array(set.length + 1).fill(-1)
  for (let v = set.length - 1; v >= 0; v--) table[v] = set[v] === true ? v : at(table, v + 1)
  return table
}

function at(table: Int8Array, index: number): number {
  return table[index] ?? -1
}

function floorSecond(ms: number): number {
  return Math.floor(ms / 1000) * 1000
}

function repeat(next: (afterMs: number) => number, afterMs: number, n: number): number[] {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new ValkitError('VALKIT_INVALID_ARGUMENT', `n must be an integer >= 0, got ${String(n)}.`, {
      details: { argument: 'n' },
    })
  }
  const times: number[] = []
  for (let t = afterMs; times.length < n; times.push(t)) t = next(t)
  return times
}

function checkInstant(ms: number, argument: string): void {
  if (typeof ms !== 'number' || !(ms >= MIN_MS && ms <= MAX_MS)) {
    throw new ValkitError(
      'VALKIT_INVALID_ARGUMENT',
      `${argument} must be epoch milliseconds from 1970 to the year 9999, got ${String(ms)}.`,
      { details: { argument } },
    )
  }
}

/** A time zone's offsets, read from `Intl`. Undefined for UTC, whose offset is always 0. */
interface Zone {
  /** Wall clock minus UTC at `instant`, in ms. */
  offset(instant: number): number
  /** The instant a wall-clock time (as UTC fields) names: its first occurrence, or the end of its gap. */
  toInstant(wall: number): number
  /** The first instant in `(before, after]` whose offset differs from `before`'s (one transition between). */
  transition(before: number, after: number): number
}

const zones = new Map<string, Zone | undefined>()
/** `en-US` numeric date and time: `3/8/2026, 03:00:00`. */
const WALL_TEXT = /^(\d+)\/(\d+)\/(\d+),?\s+(\d+):(\d+):(\d+)$/

function resolveZone(tz: string): Zone | undefined {
  if (zones.has(tz)) return zones.get(tz)
  let format: Intl.DateTimeFormat
  try {
    if (typeof tz !== 'string' || tz === '') throw new RangeError('not a zone name')
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    })
  } catch (cause) {
    throw new ValkitError(
      'VALKIT_INVALID_OPTION',
      `Invalid option \`cron.tz\`: unknown time zone \`${String(tz)}\`. Expected an IANA time zone name such as 'Europe/Berlin' or 'UTC'.`,
      { cause, details: { path: 'cron.tz', tz, expected: 'an IANA time zone name' } },
    )
  }
  const utc = format.resolvedOptions().timeZone.toUpperCase()
  const zone = utc === 'UTC' || utc === 'ETC/UTC' ? undefined : makeZone(format)
  if (zones.size < 1000) zones.set(tz, zone)
  return zone
}

function makeZone(format: Intl.DateTimeFormat): Zone {
  const offset = (instant: number): number => {
    // `format` is about three times faster than `formatToParts`; the parts are the fallback.
    const m = WALL_TEXT.exec(format.format(instant))
    const f: Record<string, number | undefined> = {}
    if (m !== null) [f.month, f.day, f.year, f.hour, f.minute, f.second] = m.slice(1).map(Number)
    else for (const part of format.formatToParts(instant)) f[part.type] = Number(part.value)
    const wall = Date.UTC(f.year ?? 0, (f.month ?? 1) - 1, f.day, (f.hour ?? 0) % 24, f.minute, f.second)
    return wall - floorSecond(instant)
  }
  const transition = (before: number, after: number): number => {
    const old = offset(before)
    let [low, high] = [before, after]
    while (high - low > 1) {
      const mid = Math.floor((low + high) / 2)
      if (offset(mid) === old) low = mid
      else high = mid
    }
    return high
  }
  const toInstant = (wall: number): number => {
    // Assumes at most one transition within a day of the wall time, as in every zone today.
    const earlier = offset(wall - DAY_MS)
    const later = offset(wall + DAY_MS)
    if (earlier === later) return wall - earlier
    const a = wall - earlier
    const b = wall - later
    const aValid = offset(a) === earlier
    const bValid = offset(b) === later
    if (aValid && bValid) return Math.min(a, b)
    if (aValid) return a
    if (bValid) return b
    return transition(Math.min(a, b), Math.max(a, b))
  }
  return { offset, toInstant, transition }
}
