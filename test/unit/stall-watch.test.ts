import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { performance } from 'node:perf_hooks'
import { StallWatch } from '../../src/core/connection/stall-watch.js'

/** Waits for a timer phase well past `ms` (the test's own bound, not the code under test). */
const after = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A watch whose stalls are recorded with the time since `started`. */
function watch(timeoutMs: number) {
  const started = performance.now()
  const stalls: number[] = []
  const w = new StallWatch(timeoutMs, () => stalls.push(performance.now() - started))
  /** Resolves once the watch has reported a stall (polled: the watch's own timer is unref'd). */
  const stalled = () =>
    new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (stalls.length === 0) return
        clearInterval(poll)
        resolve()
      }, 2)
    })
  return { w, stalls, stalled }
}

void describe('StallWatch', () => {
  void it('reports a stall once the oldest command waited its timeout, not before, and names the expired commands', async () => {
    const { w, stalls } = watch(40)
    const first = w.next()
    const second = w.next()
    await after(200)
    assert.equal(stalls.length, 1)
    assert.ok(stalls[0]! >= 39, `stalled after ${stalls[0]!.toFixed(1)} ms, before the 40 ms timeout`)
    // Both were sent in the first generation: both are below the mark.
    assert.ok(first < w.expiredBelow && second < w.expiredBelow)
    w.close()
  })

  void it('reports nothing while replies keep coming, however long the traffic lasts', async () => {
    const { w, stalls } = watch(40)
    const end = performance.now() + 200
    while (performance.now() < end) {
      w.next()
      await after(5)
      w.settled++
    }
    assert.deepEqual(stalls, [])
    w.close()
  })

  void it('a command sent after the stalled one is not marked as expired with it', async () => {
    const { w, stalled } = watch(80)
    const old = w.next()
    await after(50)
    const young = w.next()
    await stalled()
    assert.ok(old < w.expiredBelow, 'the old command expired')
    assert.ok(young >= w.expiredBelow, 'the young one is still within its deadline')
    w.close()
  })

  void it('marks what was sent before the stall, and tells about how old a command is', async () => {
    const { w, stalled } = watch(80)
    const first = w.next()
    await after(45)
    const later = w.next()
    assert.ok(w.ageMs(first) >= 30, `the first command is ${w.ageMs(first)} ms old by the watch`)
    assert.ok(w.ageMs(later) <= 10, `the later one is ${w.ageMs(later)} ms old by the watch`)
    await stalled()
    assert.ok(later < w.resetBelow, 'the later command was sent before the connection was replaced')
    assert.ok(w.next() >= w.resetBelow, 'a command sent after it was not')
    w.close()
  })

  void it('reports one stall per stuck command, and none after close()', async () => {
    const { w, stalls } = watch(40)
    w.next()
    await after(200)
    assert.equal(stalls.length, 1, 'the same stuck command is reported once')
    w.settled++
    w.close()
    w.next()
    await after(150)
    assert.equal(stalls.length, 1)
  })
})
