import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { performance } from 'node:perf_hooks'
import { Deadlines } from '../../src/core/connection/deadlines.js'

/**
 * Tracks one entry. `fired` resolves once `onExpire` ran, with the time it took, and rejects if
 * it has not after `withinMs` (a ref'd guard: the deadline timers themselves are unref'd).
 * `finish()` settles the entry as the connection layer does when the reply arrives.
 */
function expiry(deadlines: Deadlines, timeoutMs: number, withinMs = 5000) {
  const started = performance.now()
  let calls = 0
  let guard: NodeJS.Timeout | undefined
  let done!: () => void
  const fired = new Promise<number>((resolve, reject) => {
    guard = setTimeout(() => reject(new Error(`no expiry within ${withinMs} ms`)), withinMs)
    done = deadlines.track(timeoutMs, () => {
      calls++
      clearTimeout(guard)
      resolve(performance.now() - started)
    })
  })
  const finish = (): void => {
    clearTimeout(guard)
    done()
  }
  return { fired, finish, calls: () => calls }
}

/** Waits for a timer phase well past `ms` (the test's own bound, not the code under test). */
const after = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

void describe('Deadlines', () => {
  void it('fires an unfinished entry once, not before its timeout', async () => {
    const d = new Deadlines()
    const e = expiry(d, 40)
    const took = await e.fired
    assert.ok(took >= 39, `fired after ${took.toFixed(1)} ms, before the 40 ms timeout`)
    await after(100)
    assert.equal(e.calls(), 1)
    // Finishing after expiry is harmless.
    e.finish()
    assert.equal(e.calls(), 1)
    d.close()
  })

  void it('never fires an entry finished before its deadline', async () => {
    const d = new Deadlines()
    let fired = 0
    const finish = d.track(30, () => fired++)
    finish()
    // A later live entry on the same queue proves the queue's timer ran past the first deadline.
    const later = expiry(d, 60)
    await later.fired
    assert.equal(fired, 0)
    assert.equal(d.pending, 0)
    d.close()
  })

  void it('fires only the unfinished entries among many with the same timeout, in order', async () => {
    const d = new Deadlines()
    const order: number[] = []
    const finishes: (() => void)[] = []
    // The deadline timers are unref'd (they never keep a process alive): the guard does.
    const guard = setTimeout(() => {}, 5000)
    const done = new Promise<void>((resolve) => {
      for (let i = 0; i < 10; i++) {
        finishes.push(
          d.track(30, () => {
            order.push(i)
            if (i === 9) resolve()
          }),
        )
      }
    })
    for (const i of [0, 2, 4, 6, 8]) finishes[i]!()
    assert.equal(d.pending, 5)
    await done
    clearTimeout(guard)
    assert.deepEqual(order, [1, 3, 5, 7, 9])
    assert.equal(d.pending, 0)
    d.close()
  })

  void it('a short timeout is not held back by a longer one sent before it', async () => {
    const d = new Deadlines()
    const long = expiry(d, 2000, 10_000)
    const short = expiry(d, 30)
    const took = await short.fired
    assert.equal(long.calls(), 0, 'the long deadline must not have fired with the short one')
    assert.ok(took < 1500, `short deadline fired after ${took.toFixed(0)} ms, held back by the long one`)
    long.finish()
    d.close()
  })

  void it('arms again for entries added after the queue drained', async () => {
    const d = new Deadlines()
    await expiry(d, 20).fired
    const second = expiry(d, 20)
    await second.fired
    assert.equal(second.calls(), 1)
    d.close()
  })

  void it('re-arms for the next live entry when the head finished early', async () => {
    const d = new Deadlines()
    const first = expiry(d, 50)
    await after(20)
    const second = expiry(d, 50)
    first.finish()
    const took = await second.fired
    assert.equal(first.calls(), 0)
    assert.ok(took >= 49, `second fired after ${took.toFixed(1)} ms, before its own deadline`)
    d.close()
  })

  void it('counts pending entries and forgets finished ones', () => {
    const d = new Deadlines()
    const a = d.track(1000, () => {})
    const b = d.track(2000, () => {})
    d.track(1000, () => {})
    assert.equal(d.pending, 3)
    a()
    b()
    assert.equal(d.pending, 1)
    d.close()
  })

  void it('close() stops every timer: nothing fires afterwards', async () => {
    const d = new Deadlines()
    let fired = 0
    d.track(20, () => fired++)
    d.track(30, () => fired++)
    d.close()
    await after(120)
    assert.equal(fired, 0)
  })

  void it('stays exact after thousands of finished entries on one queue', async () => {
    const d = new Deadlines()
    for (let i = 0; i < 5000; i++) d.track(10_000, () => {})()
    assert.equal(d.pending, 0)
    const last = expiry(d, 10_000, 60_000)
    assert.equal(d.pending, 1)
    last.finish()
    assert.equal(d.pending, 0)
    d.close()
  })
})
