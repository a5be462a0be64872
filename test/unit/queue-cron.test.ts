import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isValkitError } from '../../src/core/index.js'
import { everyMs, missedTicks, parseCron } from '../../src/queue/cron.js'

// Every expected time below is worked out by hand from the calendar and the zone's rules, not
// produced by the code under test. 2026-01-01 is a Thursday.

const next = (expression: string, afterMs: number, tz?: string): number =>
  parseCron(expression, { tz }).next(afterMs)
const nextN = (expression: string, afterMs: number, n: number, tz?: string): number[] =>
  parseCron(expression, { tz }).nextN(afterMs, n)

const rejects = (expression: string, field: string | undefined, ...fragments: string[]): void => {
  assert.throws(
    () => parseCron(expression),
    (err: unknown) => {
      assert.ok(isValkitError(err, 'VALKIT_INVALID_OPTION'), `${expression}: ${String(err)}`)
      assert.equal(err.details?.path, 'cron')
      assert.equal(err.details?.field, field)
      if (field !== undefined) assert.match(err.message, new RegExp(`${field} field`))
      for (const fragment of fragments)
        assert.ok(err.message.includes(fragment), `${err.message} has ${fragment}`)
      return true
    },
  )
}

describe('parseCron: fields', () => {
  it('reads values, lists, ranges and steps', () => {
    assert.deepEqual(nextN('1,2 * * * *', Date.UTC(2026, 0, 1), 3), [
      Date.UTC(2026, 0, 1, 0, 1),
      Date.UTC(2026, 0, 1, 0, 2),
      Date.UTC(2026, 0, 1, 1, 1),
    ])
    assert.deepEqual(nextN('10-50/10 * * * *', Date.UTC(2026, 0, 1), 6), [
      Date.UTC(2026, 0, 1, 0, 10),
      Date.UTC(2026, 0, 1, 0, 20),
      Date.UTC(2026, 0, 1, 0, 30),
      Date.UTC(2026, 0, 1, 0, 40),
      Date.UTC(2026, 0, 1, 0, 50),
      Date.UTC(2026, 0, 1, 1, 10),
    ])
    assert.deepEqual(nextN('*/20 9-10 * * *', Date.UTC(2026, 0, 1), 7), [
      Date.UTC(2026, 0, 1, 9, 0),
      Date.UTC(2026, 0, 1, 9, 20),
      Date.UTC(2026, 0, 1, 9, 40),
      Date.UTC(2026, 0, 1, 10, 0),
      Date.UTC(2026, 0, 1, 10, 20),
      Date.UTC(2026, 0, 1, 10, 40),
      Date.UTC(2026, 0, 2, 9, 0),
    ])
    // `10/20` runs from 10 to the field's maximum.
    assert.deepEqual(nextN('10/20 * * * *', Date.UTC(2026, 0, 1), 4), [
      Date.UTC(2026, 0, 1, 0, 10),
      Date.UTC(2026, 0, 1, 0, 30),
      Date.UTC(2026, 0, 1, 0, 50),
      Date.UTC(2026, 0, 1, 1, 10),
    ])
  })

  it('answers strictly after the given time', () => {
    assert.equal(next('*/5 * * * *', Date.UTC(2026, 0, 1, 0, 5)), Date.UTC(2026, 0, 1, 0, 10))
    assert.equal(next('*/5 * * * *', Date.UTC(2026, 0, 1, 0, 4, 59, 999)), Date.UTC(2026, 0, 1, 0, 5))
    assert.equal(next('*/5 * * * *', Date.UTC(2026, 0, 1, 0, 5, 0, 1)), Date.UTC(2026, 0, 1, 0, 10))
  })

  it('takes month and day names in any case, and 7 for Sunday', () => {
    assert.equal(next('0 0 1 jan,Jul *', Date.UTC(2026, 1, 1)), Date.UTC(2026, 6, 1))
    assert.equal(next('0 0 * * sat', Date.UTC(2026, 0, 1)), Date.UTC(2026, 0, 3))
    assert.equal(next('0 12 * MAR-may *', Date.UTC(2026, 0, 1)), Date.UTC(2026, 2, 1, 12))
    assert.deepEqual(nextN('0 9 * * MON-FRI', Date.UTC(2026, 0, 2, 10), 2), [
      Date.UTC(2026, 0, 5, 9),
      Date.UTC(2026, 0, 6, 9),
    ])
    assert.deepEqual(nextN('0 0 * * 7', Date.UTC(2026, 0, 1), 2), [
      Date.UTC(2026, 0, 4),
      Date.UTC(2026, 0, 11),
    ])
    assert.deepEqual(nextN('0 0 * * 0', Date.UTC(2026, 0, 1), 2), [
      Date.UTC(2026, 0, 4),
      Date.UTC(2026, 0, 11),
    ])
    assert.deepEqual(nextN('0 0 * * 5-7', Date.UTC(2026, 0, 1), 4), [
      Date.UTC(2026, 0, 2),
      Date.UTC(2026, 0, 3),
      Date.UTC(2026, 0, 4),
      Date.UTC(2026, 0, 9),
    ])
  })

  it('matches a day by day-of-month OR day-of-week when both are restricted (Vixie cron)', () => {
    // The 13th, and every Friday: Jan 2 (Fri), Jan 9 (Fri), Jan 13 (Tue), Jan 16 (Fri).
    assert.deepEqual(nextN('0 0 13 * 5', Date.UTC(2026, 0, 1), 4), [
      Date.UTC(2026, 0, 2),
      Date.UTC(2026, 0, 9),
      Date.UTC(2026, 0, 13),
      Date.UTC(2026, 0, 16),
    ])
    // A field that starts with `*` is unrestricted, so both must match: Fridays on odd days.
    assert.deepEqual(nextN('0 0 */2 * FRI', Date.UTC(2026, 0, 1), 3), [
      Date.UTC(2026, 0, 9),
      Date.UTC(2026, 0, 23),
      Date.UTC(2026, 1, 13),
    ])
    // The 31st never comes in February, but its Mondays do (February 1st 2026 is a Sunday).
    assert.equal(next('0 0 31 2 MON', Date.UTC(2026, 0, 1)), Date.UTC(2026, 1, 2))
  })

  it('reads a leading seconds field when there are six', () => {
    assert.equal(next('*/15 * * * * *', Date.UTC(2026, 0, 1, 0, 0, 7)), Date.UTC(2026, 0, 1, 0, 0, 15))
    assert.equal(next('30 0 12 * * *', Date.UTC(2026, 0, 1)), Date.UTC(2026, 0, 1, 12, 0, 30))
    assert.deepEqual(nextN('* * * * * *', Date.UTC(2026, 0, 1, 23, 59, 58, 500), 2), [
      Date.UTC(2026, 0, 1, 23, 59, 59),
      Date.UTC(2026, 0, 2, 0, 0, 0),
    ])
    assert.equal(next('0 * * * * *', Date.UTC(2026, 0, 1, 0, 0, 0)), Date.UTC(2026, 0, 1, 0, 1, 0))
  })

  it('expands the macros (any case), and keeps the expression and zone', () => {
    const from = Date.UTC(2026, 0, 1)
    assert.equal(next('@yearly', from), Date.UTC(2027, 0, 1))
    assert.equal(next('@annually', from), Date.UTC(2027, 0, 1))
    assert.equal(next('@monthly', from), Date.UTC(2026, 1, 1))
    assert.equal(next('@weekly', from), Date.UTC(2026, 0, 4))
    assert.equal(next('@daily', from), Date.UTC(2026, 0, 2))
    assert.equal(next('@midnight', from), Date.UTC(2026, 0, 2))
    assert.equal(next('@hourly', from), Date.UTC(2026, 0, 1, 1))
    assert.equal(next('@DAILY', from), Date.UTC(2026, 0, 2))
    // Midnight in Berlin (UTC+1 in winter) is 23:00 UTC the day before.
    assert.equal(next('@daily', from, 'Europe/Berlin'), Date.UTC(2026, 0, 1, 23))

    const schedule = parseCron('  */5 * * * *  ')
    assert.equal(schedule.kind, 'cron')
    assert.equal(schedule.expression, '*/5 * * * *')
    assert.equal(schedule.tz, 'UTC')
    assert.equal(parseCron('@hourly', { tz: 'Asia/Kolkata' }).tz, 'Asia/Kolkata')
  })
})

describe('parseCron: errors name the field and what is valid', () => {
  it('rejects values out of range or unknown', () => {
    rejects('61 * * * *', 'minute', 'minute field `61`: values are 0-59')
    rejects('60 * * * * *', 'second', 'second field `60`: values are 0-59')
    rejects('0 24 * * *', 'hour', 'hour field `24`: values are 0-23')
    rejects('0 0 0 * *', 'day-of-month', 'values are 1-31')
    rejects('0 0 32 * *', 'day-of-month', 'values are 1-31')
    rejects('0 0 * 13 *', 'month', 'values are 1-12 or JAN-DEC')
    rejects('0 0 * FOO *', 'month', 'values are 1-12 or JAN-DEC')
    rejects('0 0 * * 8', 'day-of-week', 'values are 0-7 (0 and 7 are Sunday) or SUN-SAT')
    rejects('0 0 * * FRIDAY', 'day-of-week', 'SUN-SAT')
    rejects('JAN * * * *', 'minute', 'values are 0-59')
    rejects('1.5 * * * *', 'minute', 'values are 0-59')
    rejects('? * * * *', 'minute', 'values are 0-59')
    rejects('1,61 * * * *', 'minute', '`61` is not valid', 'values are 0-59')
  })

  it('rejects malformed lists, ranges and steps', () => {
    rejects('1,,2 * * * *', 'minute', 'empty list item')
    rejects('1, * * * *', 'minute', 'empty list item')
    rejects('5-1 * * * *', 'minute', '`5-1` runs backwards')
    rejects('0 0 * * SAT-SUN', 'day-of-week', 'runs backwards')
    rejects('1-2-3 * * * *', 'minute', 'not a value or a range')
    rejects('-5 * * * *', 'minute', 'values are 0-59')
    rejects('*-5 * * * *', 'minute', 'values are 0-59')
    rejects('*/0 * * * *', 'minute', 'step', 'positive integer')
    rejects('0 */x * * *', 'hour', 'step', 'positive integer')
    rejects('1/2/3 * * * *', 'minute', 'step')
  })

  it('rejects a wrong number of fields, unknown macros and non-strings', () => {
    rejects('* * * *', undefined, 'expected 5 fields', 'got 4')
    rejects('* * * * * * *', undefined, 'expected 5 fields', 'got 7')
    rejects('', undefined, 'expected 5 fields', 'got 0')
    rejects('@reboot', undefined, 'unknown macro `@reboot`', '@yearly', '@hourly')
    rejects('@every 5m', undefined, 'unknown macro')
    assert.throws(
      () => parseCron(5 as unknown as string),
      (err: unknown) => isValkitError(err, 'VALKIT_INVALID_OPTION') && err.details?.path === 'cron',
    )
  })

  it('rejects a schedule that can never fire', () => {
    rejects('0 0 31 2 *', 'day-of-month', 'never falls in month field `2`', 'February has at most 29 days')
    rejects('0 0 30 2 *', 'day-of-month', 'February has at most 29 days')
    rejects('0 0 31 4,6,9,11 *', 'day-of-month', 'have at most 30 days')
    // Only some of the days missing is fine: April has a 30th.
    assert.equal(next('0 0 30,31 2,4 *', Date.UTC(2026, 0, 1)), Date.UTC(2026, 3, 30))
  })

  it('rejects an unknown time zone, naming it', () => {
    assert.throws(
      () => parseCron('* * * * *', { tz: 'Mars/Olympus' }),
      (err: unknown) =>
        isValkitError(err, 'VALKIT_INVALID_OPTION') &&
        err.details?.path === 'cron.tz' &&
        err.message.includes('Mars/Olympus'),
    )
  })

  it('rejects a time that is not epoch milliseconds, and a bad count', () => {
    const schedule = parseCron('* * * * *')
    for (const bad of [Number.NaN, -1, Number.POSITIVE_INFINITY, '1' as unknown as number]) {
      assert.throws(
        () => schedule.next(bad),
        (err: unknown) => isValkitError(err, 'VALKIT_INVALID_ARGUMENT'),
      )
    }
    assert.throws(
      () => schedule.nextN(0, -1),
      (err: unknown) => isValkitError(err, 'VALKIT_INVALID_ARGUMENT'),
    )
    assert.deepEqual(schedule.nextN(0, 0), [])
  })
})

describe('CronSchedule.next: calendar', () => {
  it('crosses month and year ends', () => {
    // April has no 31st: the next one is in May.
    assert.equal(next('0 0 31 * *', Date.UTC(2026, 3, 1)), Date.UTC(2026, 4, 31))
    assert.equal(next('0 0 1 * *', Date.UTC(2026, 11, 15)), Date.UTC(2027, 0, 1))
    assert.equal(next('59 23 31 12 *', Date.UTC(2026, 11, 31, 23, 59)), Date.UTC(2027, 11, 31, 23, 59))
    assert.equal(next('0 0 1 1 *', Date.UTC(2026, 11, 31, 23, 59, 59, 999)), Date.UTC(2027, 0, 1))
    assert.equal(next('* * * * *', Date.UTC(2026, 11, 31, 23, 59)), Date.UTC(2027, 0, 1))
  })

  it('finds leap days, skipping 2100 (not a leap year)', () => {
    assert.equal(next('0 0 29 2 *', Date.UTC(2026, 0, 1)), Date.UTC(2028, 1, 29))
    assert.equal(next('0 0 29 2 *', Date.UTC(2028, 1, 29)), Date.UTC(2032, 1, 29))
    assert.equal(next('0 0 29 2 *', Date.UTC(2096, 2, 1)), Date.UTC(2104, 1, 29))
    assert.equal(next('0 0 * 2 *', Date.UTC(2028, 1, 28, 12)), Date.UTC(2028, 1, 29))
    assert.equal(next('0 0 * 2 *', Date.UTC(2027, 1, 28, 12)), Date.UTC(2028, 1, 1))
  })

  it('finds rare days: Monday February 1st (2027, then 2038)', () => {
    // `*/29` is the 1st and the 30th; with a `*` field both day fields must match.
    assert.deepEqual(nextN('0 0 */29 2 MON', Date.UTC(2026, 0, 1), 2), [
      Date.UTC(2027, 1, 1),
      Date.UTC(2038, 1, 1),
    ])
  })
})

describe('CronSchedule.next: time zones and daylight saving time', () => {
  const NY = 'America/New_York'
  const BERLIN = 'Europe/Berlin'

  it('New York, 2026-03-08: 02:00 EST jumps to 03:00 EDT (07:00Z); a skipped time fires once at 03:00', () => {
    assert.deepEqual(nextN('30 2 * * *', Date.UTC(2026, 2, 7), 3, NY), [
      Date.UTC(2026, 2, 7, 7, 30), // 02:30 EST
      Date.UTC(2026, 2, 8, 7, 0), // 02:30 does not exist: 03:00 EDT
      Date.UTC(2026, 2, 9, 6, 30), // 02:30 EDT
    ])
    // 02:00, 02:15, 02:30, 02:45 and 03:00 are one instant: one fire.
    assert.deepEqual(nextN('*/15 * * * *', Date.UTC(2026, 2, 8, 6, 50), 3, NY), [
      Date.UTC(2026, 2, 8, 7, 0),
      Date.UTC(2026, 2, 8, 7, 15),
      Date.UTC(2026, 2, 8, 7, 30),
    ])
    assert.deepEqual(nextN('* * * * * *', Date.UTC(2026, 2, 8, 6, 59, 59), 2, NY), [
      Date.UTC(2026, 2, 8, 7, 0, 0),
      Date.UTC(2026, 2, 8, 7, 0, 1),
    ])
    assert.equal(next('0 3 * * *', Date.UTC(2026, 2, 8, 6), NY), Date.UTC(2026, 2, 8, 7, 0))
  })

  it('New York, 2026-11-01: 02:00 EDT falls back to 01:00 EST (06:00Z); a repeated time fires once, first', () => {
    assert.deepEqual(nextN('30 1 * * *', Date.UTC(2026, 10, 1), 2, NY), [
      Date.UTC(2026, 10, 1, 5, 30), // 01:30 EDT
      Date.UTC(2026, 10, 2, 6, 30), // 01:30 EST the next day, not 01:30 EST on Nov 1
    ])
    // From inside the repeated hour (01:10 EST), 01:30 has already fired.
    assert.equal(next('30 1 * * *', Date.UTC(2026, 10, 1, 6, 10), NY), Date.UTC(2026, 10, 2, 6, 30))
    // Hourly: 01:00 EDT, then 02:00 EST; the repeated 01:00 does not fire again.
    assert.deepEqual(nextN('0 * * * *', Date.UTC(2026, 10, 1, 4, 30), 3, NY), [
      Date.UTC(2026, 10, 1, 5, 0),
      Date.UTC(2026, 10, 1, 7, 0),
      Date.UTC(2026, 10, 1, 8, 0),
    ])
    assert.equal(next('0 2 * * *', Date.UTC(2026, 10, 1), NY), Date.UTC(2026, 10, 1, 7, 0))
    assert.equal(next('* * * * * *', Date.UTC(2026, 10, 1, 6, 30), NY), Date.UTC(2026, 10, 1, 7, 0))
  })

  it('Berlin, 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00Z)', () => {
    assert.deepEqual(nextN('30 2 * * *', Date.UTC(2026, 2, 28, 12), 2, BERLIN), [
      Date.UTC(2026, 2, 29, 1, 0), // 02:30 does not exist: 03:00 CEST
      Date.UTC(2026, 2, 30, 0, 30), // 02:30 CEST
    ])
    // Friday 09:00 CET is 08:00Z; Monday 09:00 CEST is 07:00Z.
    assert.equal(next('0 9 * * MON-FRI', Date.UTC(2026, 2, 27, 7), BERLIN), Date.UTC(2026, 2, 27, 8))
    assert.equal(next('0 9 * * MON-FRI', Date.UTC(2026, 2, 27, 9), BERLIN), Date.UTC(2026, 2, 30, 7))
  })

  it('Berlin, 2026-10-25: 03:00 CEST falls back to 02:00 CET (01:00Z)', () => {
    assert.deepEqual(nextN('30 2 * * *', Date.UTC(2026, 9, 24, 12), 2, BERLIN), [
      Date.UTC(2026, 9, 25, 0, 30), // 02:30 CEST, the first of two
      Date.UTC(2026, 9, 26, 1, 30), // 02:30 CET
    ])
    assert.equal(next('30 2 * * *', Date.UTC(2026, 9, 25, 1, 15), BERLIN), Date.UTC(2026, 9, 26, 1, 30))
    assert.equal(next('0 3 * * *', Date.UTC(2026, 9, 25, 0, 45), BERLIN), Date.UTC(2026, 9, 25, 2, 0))
  })

  it('Kolkata: UTC+05:30 all year', () => {
    assert.equal(next('0 0 * * *', Date.UTC(2026, 0, 1), 'Asia/Kolkata'), Date.UTC(2026, 0, 1, 18, 30))
    assert.equal(next('30 9 * * *', Date.UTC(2026, 0, 1), 'Asia/Kolkata'), Date.UTC(2026, 0, 1, 4, 0))
    assert.equal(next('0 * * * *', Date.UTC(2026, 6, 1, 0, 10), 'Asia/Kolkata'), Date.UTC(2026, 6, 1, 0, 30))
  })
})

describe('everyMs', () => {
  it('ticks at whole intervals from epoch 0 by default', () => {
    const minute = everyMs(60_000)
    assert.equal(minute.kind, 'interval')
    assert.equal(minute.next(Date.UTC(2026, 0, 1, 0, 0, 30)), Date.UTC(2026, 0, 1, 0, 1))
    assert.equal(minute.next(Date.UTC(2026, 0, 1, 0, 1)), Date.UTC(2026, 0, 1, 0, 2))
  })

  it('aligns to startAtMs, which is the first tick', () => {
    const startAtMs = Date.UTC(2026, 0, 1)
    const every90s = everyMs(90_000, { startAtMs })
    assert.equal(every90s.startAtMs, startAtMs)
    assert.equal(every90s.next(Date.UTC(2025, 11, 31)), startAtMs)
    assert.equal(every90s.next(startAtMs), Date.UTC(2026, 0, 1, 0, 1, 30))
    assert.equal(every90s.next(Date.UTC(2026, 0, 1, 0, 2)), Date.UTC(2026, 0, 1, 0, 3))
    assert.deepEqual(every90s.nextN(startAtMs, 3), [
      Date.UTC(2026, 0, 1, 0, 1, 30),
      Date.UTC(2026, 0, 1, 0, 3),
      Date.UTC(2026, 0, 1, 0, 4, 30),
    ])
  })

  it('rejects an interval that is not a positive integer and a bad start', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      assert.throws(
        () => everyMs(bad),
        (err: unknown) => isValkitError(err, 'VALKIT_INVALID_OPTION') && err.details?.path === 'intervalMs',
      )
    }
    assert.throws(
      () => everyMs(1000, { startAtMs: 'soon' as unknown as number }),
      (err: unknown) => isValkitError(err, 'VALKIT_INVALID_OPTION') && err.details?.path === 'startAtMs',
    )
  })
})

describe('missedTicks', () => {
  const tenMinutes = parseCron('*/10 * * * *')
  const at = (minute: number): number => Date.UTC(2026, 0, 1, 0, minute)

  it('lists the ticks in (lastTick, now], oldest first', () => {
    assert.deepEqual(missedTicks(tenMinutes, at(0), at(35), 10), {
      ticks: [at(10), at(20), at(30)],
      truncated: false,
    })
    assert.deepEqual(missedTicks(tenMinutes, at(0), at(30), 10), {
      ticks: [at(10), at(20), at(30)],
      truncated: false,
    })
    assert.deepEqual(missedTicks(tenMinutes, at(5), at(9), 10), { ticks: [], truncated: false })
  })

  it('stops at the limit and says more were left out', () => {
    assert.deepEqual(missedTicks(tenMinutes, at(0), at(35), 2), { ticks: [at(10), at(20)], truncated: true })
    assert.deepEqual(missedTicks(tenMinutes, at(0), at(30), 2), { ticks: [at(10), at(20)], truncated: true })
    assert.deepEqual(missedTicks(tenMinutes, at(0), at(35), 0), { ticks: [], truncated: true })
    assert.deepEqual(missedTicks(tenMinutes, at(0), at(35), 3), {
      ticks: [at(10), at(20), at(30)],
      truncated: false,
    })
    // A week of one-second ticks: only the first three are computed.
    const week = missedTicks(everyMs(1000), at(0), Date.UTC(2026, 0, 8), 3)
    assert.deepEqual(week, {
      ticks: [Date.UTC(2026, 0, 1, 0, 0, 1), Date.UTC(2026, 0, 1, 0, 0, 2), Date.UTC(2026, 0, 1, 0, 0, 3)],
      truncated: true,
    })
  })

  it('has nothing for an empty or reversed window', () => {
    assert.deepEqual(missedTicks(tenMinutes, at(30), at(30), 5), { ticks: [], truncated: false })
    assert.deepEqual(missedTicks(tenMinutes, at(40), at(30), 5), { ticks: [], truncated: false })
  })

  it('counts a skipped hour of wall time as one tick (New York, 2026-03-08)', () => {
    const halfHourly = parseCron('*/30 * * * *', { tz: 'America/New_York' })
    // 01:30 EST, then 02:00, 02:30 and 03:00 are all 07:00Z, then 03:30 EDT.
    assert.deepEqual(missedTicks(halfHourly, Date.UTC(2026, 2, 8, 6, 0), Date.UTC(2026, 2, 8, 7, 30), 10), {
      ticks: [Date.UTC(2026, 2, 8, 6, 30), Date.UTC(2026, 2, 8, 7, 0), Date.UTC(2026, 2, 8, 7, 30)],
      truncated: false,
    })
  })

  it('rejects a bad limit', () => {
    for (const bad of [-1, 1.5, Number.NaN]) {
      assert.throws(
        () => missedTicks(tenMinutes, at(0), at(30), bad),
        (err: unknown) => isValkitError(err, 'VALKIT_INVALID_ARGUMENT') && err.details?.argument === 'limit',
      )
    }
  })
})
