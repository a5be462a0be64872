import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { backoffDelay, type BackoffPolicy } from '../../src/core/connection/backoff.js'

const exact: BackoffPolicy = { initialDelayMs: 50, maxDelayMs: 1000, jitter: 'none' }
const jittered: BackoffPolicy = { ...exact, jitter: 'full' }

void describe('backoffDelay', () => {
  void it('doubles from the initial delay without jitter', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((a) => backoffDelay(exact, a)),
      [50, 100, 200, 400, 800],
    )
  })

  void it('never exceeds the cap, however many attempts', () => {
    for (const attempt of [6, 7, 10, 31, 100, 10_000, Number.MAX_SAFE_INTEGER]) {
      assert.equal(backoffDelay(exact, attempt), 1000, `attempt ${attempt}`)
    }
  })

  void it('treats attempt 0 or below as the first attempt', () => {
    assert.equal(backoffDelay(exact, 0), 50)
    assert.equal(backoffDelay(exact, -3), 50)
  })

  void it('full jitter spans [0, ceiling) of the current ceiling', () => {
    // The lowest and (almost) highest draws of the random source bound the range.
    assert.equal(
      backoffDelay(jittered, 3, () => 0),
      0,
    )
    assert.equal(
      backoffDelay(jittered, 3, () => 0.999999),
      199,
    )
    assert.equal(
      backoffDelay(jittered, 3, () => 0.5),
      100,
    )
    // Past the cap, the jittered delay is a draw under the cap.
    assert.equal(
      backoffDelay(jittered, 50, () => 0.999999),
      999,
    )
    assert.equal(
      backoffDelay(jittered, 50, () => 0.25),
      250,
    )
  })

  void it('full jitter with Math.random stays within the range and spreads out', () => {
    const seen = new Set<number>()
    for (let i = 0; i < 2000; i++) {
      const d = backoffDelay(jittered, 20)
      assert.ok(d >= 0 && d < 1000, `delay ${d} out of [0, 1000)`)
      assert.ok(Number.isInteger(d))
      seen.add(Math.floor(d / 100))
    }
    // 2000 uniform draws hit all ten 100 ms buckets (chance of missing one ~1e-90).
    assert.equal(seen.size, 10)
  })

  void it('returns whole milliseconds usable by setTimeout', () => {
    const odd: BackoffPolicy = { initialDelayMs: 3, maxDelayMs: 7, jitter: 'full' }
    for (let a = 1; a < 10; a++) assert.ok(Number.isInteger(backoffDelay(odd, a, () => 0.77)))
  })
})
