import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { chromium, type Browser, type Page } from 'playwright-core'
import { createCache } from '../../src/cache/index.js'
import { createCoord } from '../../src/coord/index.js'
import { createValkit } from '../../src/index.js'
import { createQueue, createWorker } from '../../src/queue/index.js'
import { createRateLimiter } from '../../src/ratelimit/index.js'
import { createServer, type ValkitServer } from '../../src/server/index.js'
import { createSessionStore } from '../../src/session/index.js'
import { cleanPrefix, startServer, testEngines, waitFor, type ServerHandle } from '../../src/testing/index.js'

const CHROMIUM = '/usr/bin/chromium'
const TOKEN = 'browser-test-token-0123456789abcdef'

/** The bit of the DOM the page predicates use (this project compiles without DOM types). */
interface PageGlobals {
  readonly document: {
    querySelector(selector: string): { readonly textContent: string | null } | null
    querySelectorAll(selector: string): { readonly length: number }
  }
}

/** Waits until the state badge reads exactly `state`. */
async function waitForBadge(page: Page, state: string, timeoutMs = 20_000): Promise<void> {
  // Predicates are functions, not strings: the dashboard's CSP forbids eval.
  await page.waitForFunction(
    (want) =>
      (globalThis as unknown as PageGlobals).document.querySelector('[data-testid="state"]')?.textContent ===
      want,
    state,
    { timeout: timeoutMs, polling: 100 },
  )
}

/** Waits until the element `selector` reads exactly `want` (trimmed). */
async function waitForText(page: Page, selector: string, want: string, timeoutMs = 20_000): Promise<void> {
  try {
    await page.waitForFunction(
      ([sel, text]) =>
        (globalThis as unknown as PageGlobals).document.querySelector(sel)?.textContent?.trim() === text,
      [selector, want] as const,
      { timeout: timeoutMs, polling: 100 },
    )
  } catch (err) {
    const seen = await page.textContent(selector).catch(() => null)
    throw new Error(`${selector}: wanted ${JSON.stringify(want)}, saw ${JSON.stringify(seen)}`, {
      cause: err,
    })
  }
}

/** Opens the dashboard in a new page and signs in; collects page errors into `errors`. */
async function signedIn(browser: Browser, url: string, errors: string[]): Promise<Page> {
  const page = await browser.newPage()
  page.on('pageerror', (err) => errors.push(err.message))
  await page.goto(`${url}/`)
  await page.waitForSelector('#token-input', { state: 'visible' })
  await page.fill('#token-input', TOKEN)
  await page.click('#login-submit')
  await waitForBadge(page, 'ready')
  return page
}

for (const engine of testEngines()) {
  void describe(`dashboard in Chromium (${engine})`, () => {
    let redis: ServerHandle
    let valkit: ReturnType<typeof createValkit>
    let server: ValkitServer
    let browser: Browser
    const prefix = `t-dash-${randomBytes(4).toString('hex')}`

    before(async () => {
      assert.ok(existsSync(CHROMIUM), `Chromium is missing at ${CHROMIUM}: apt-get install chromium`)
      redis = await startServer({ engine })
      valkit = createValkit({ url: redis.url, env: {}, keyPrefix: prefix, logger: false })
      server = await createServer({ valkit, port: 0, adminToken: TOKEN, env: {} })
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      })
    })

    after(async () => {
      await browser?.close()
      await server?.close()
      await valkit?.close()
      if (redis?.alive) await cleanPrefix(redis, `${prefix}:`)
      await redis?.stop()
    })

    void it('says there is no cache while the process has none', async () => {
      const errors: string[] = []
      const page = await signedIn(browser, server.url, errors)
      await page.waitForSelector('[data-testid="cache-empty"]', { state: 'visible' })
      assert.match((await page.textContent('[data-testid="cache-empty"]')) ?? '', /No cache in this process/)
      assert.equal(await page.locator('#panel-cache .cache-ns').count(), 0)
      for (const [id, text] of [
        [
          'ratelimit-empty',
          /No rate limiter in this process — createRateLimiter\(valkit, …\) registers here/,
        ],
        ['coord-empty', /No coordination in this process — createCoord\(valkit\) registers here/],
        [
          'sessions-empty',
          /No session store in this process — createSessionStore\(valkit, …\) registers here/,
        ],
      ] as const) {
        await page.waitForSelector(`[data-testid="${id}"]`, { state: 'visible' })
        assert.match((await page.textContent(`[data-testid="${id}"]`)) ?? '', text)
      }
      assert.deepEqual(errors, [])
      await page.close()
    })

    void it('shows a cache created while it is open: its namespace, hit rate and L1 size', async () => {
      const errors: string[] = []
      const page = await signedIn(browser, server.url, errors)
      await page.waitForSelector('[data-testid="cache-empty"]', { state: 'visible' })

      // A second instance writes `b` so that the dashboard's process reads it from L2.
      const other = createValkit({ url: redis.url, env: {}, keyPrefix: prefix, logger: false })
      const reader = createCache(valkit, { namespace: 'dash', jitter: 0 })
      const writer = createCache(other, { namespace: 'dash', jitter: 0 })
      try {
        await Promise.all([reader.ready(), writer.ready()])
        await reader.set('a', 'A')
        for (let i = 0; i < 3; i++) assert.equal(await reader.get('a'), 'A') // 3 L1 hits
        assert.equal(await reader.get('missing'), undefined) // 1 miss
        await writer.set('b', 'B')
        assert.equal(await reader.get('b'), 'B') // 1 L2 hit
        assert.deepEqual([reader.stats().hitsL1, reader.stats().hitsL2, reader.stats().misses], [3, 1, 1])

        const card = '#panel-cache .cache-ns[data-namespace="dash"]'
        await page.waitForFunction(
          ([selector, want]) =>
            (globalThis as unknown as PageGlobals).document.querySelector(selector)?.textContent === want,
          [`${card} [data-testid="cache-hit-rate"]`, '80.0%'] as const,
          { timeout: 15_000, polling: 100 },
        )
        await page.waitForSelector('[data-testid="cache-empty"]', { state: 'hidden' })
        assert.equal(await page.textContent(`${card} .cache-ns-name`), 'dash')
        assert.equal(await page.textContent(`${card} dd[data-key="hits"]`), '3 / 1')
        assert.equal(await page.textContent(`${card} dd[data-key="misses"]`), '1')
        assert.match((await page.textContent(`${card} dd[data-key="l1"]`)) ?? '', /^2 entries · \d+ B$/)
        assert.equal(await page.textContent(`${card} dd[data-key="corrupt"]`), '0')
        assert.deepEqual(errors, [])
      } finally {
        await page.close()
        await writer.close()
        await reader.close()
        await other.close()
      }
    })

    void it('shows the rate limiting, coordination and sessions panels with the numbers of the work done', async () => {
      const limiter = createRateLimiter(valkit, {
        name: 'dash-rl',
        rules: { perUser: { algorithm: 'fixed-window', limit: 2, window: '1m', by: 'user' } },
      })
      const coord = createCoord(valkit)
      const sessions = createSessionStore(valkit, {
        name: 'dash-sess',
        secrets: [randomBytes(32).toString('base64')],
        encryption: { keys: [{ id: 1, key: randomBytes(32) }], primary: 1 },
      })
      const panels = await createServer({
        valkit,
        port: 0,
        adminToken: TOKEN,
        env: {},
        panels: { rateLimiters: [limiter], coord: { coord, resources: ['dash-job'] } },
      })
      const errors: string[] = []
      const page = await signedIn(browser, panels.url, errors)
      const election = coord.election('dash-cron')
      const holder = await coord.acquire('dash-job', { ttl: '30s', watchdog: true })
      assert.ok(holder.acquired)
      const waiter = coord.acquire('dash-job', { ttl: '30s', wait: '60s', fair: true })
      try {
        // 3 checks for one user with a limit of 2: 2 allowed, 1 limited
        const outcomes = []
        for (let i = 0; i < 3; i++) outcomes.push((await limiter.check({ user: 'ada' })).outcome)
        assert.deepEqual(outcomes, ['allowed', 'allowed', 'limited'])
        // 3 sessions created, 1 destroyed
        const made = []
        for (let i = 0; i < 3; i++) made.push(await sessions.create({ userId: `u${i}` }))
        assert.equal(await sessions.destroy(made[0]!), true)
        await election.elected()

        const rl = '#panel-ratelimit .rl-card[data-limiter="dash-rl"]'
        await waitForText(page, `${rl} [data-testid="ratelimit-checks"]`, '3')
        await waitForText(page, `${rl} [data-testid="ratelimit-refused"]`, '1')
        await waitForText(page, `${rl} dd[data-key="limited"]`, '1')
        await page.waitForFunction(
          (sel) =>
            /perUser user=ada\s*1×/.test(
              (globalThis as unknown as PageGlobals).document.querySelector(sel)?.textContent ?? '',
            ),
          `${rl} [data-testid="ratelimit-top"]`,
          { timeout: 15_000, polling: 100 },
        )
        await page.waitForSelector('[data-testid="ratelimit-empty"]', { state: 'hidden' })

        await waitForText(page, '#panel-coord [data-testid="coord-held"]', '1')
        await waitForText(page, '#panel-coord [data-testid="coord-waiting"]', '1')
        await waitForText(page, '#panel-coord [data-testid="coord-leaders"]', '1 / 1')
        await waitForText(page, '#panel-coord .leader-list li[data-group="dash-cron"] .pill', 'leader')
        await waitForText(page, '#panel-coord tr[data-resource="dash-job"] td.num', '1')
        await page.waitForSelector('[data-testid="coord-empty"]', { state: 'hidden' })

        const st = '#panel-sessions .session-card[data-store="dash-sess"]'
        await waitForText(page, `${st} [data-testid="session-created"]`, '3')
        await waitForText(page, `${st} [data-testid="session-destroyed"]`, '1')
        await waitForText(page, `${st} [data-testid="session-quarantined"]`, '0')
        await page.waitForSelector('[data-testid="sessions-empty"]', { state: 'hidden' })
        assert.deepEqual(errors, [])
      } finally {
        await page.close()
        await holder.lease.release()
        const granted = await waiter
        if (granted.acquired) await granted.lease.release()
        await election.close()
        await panels.close()
        await sessions.close()
        await coord.close()
        await limiter.close()
      }
    })

    void it('asks for the token, then follows ready → degraded → ready as Redis goes down and comes back', async () => {
      const page = await browser.newPage()
      const errors: string[] = []
      page.on('pageerror', (err) => errors.push(err.message))

      await page.goto(`${server.url}/`)
      await page.waitForSelector('#token-input', { state: 'visible' })

      // a wrong token is refused and the form says so
      await page.fill('#token-input', 'not-the-token')
      await page.click('#login-submit')
      await page.waitForSelector('#login-error', { state: 'visible' })

      await page.fill('#token-input', TOKEN)
      await page.click('#login-submit')
      await waitForBadge(page, 'ready')
      await page.waitForFunction(() =>
        /\d+\.\d+/.test(
          (globalThis as unknown as PageGlobals).document.querySelector('#panel-server .headline')
            ?.textContent ?? '',
        ),
      )
      const headline = await page.textContent('#panel-server .headline')
      assert.match(headline ?? '', engine === 'valkey' ? /^Valkey / : /^Redis /)

      await redis.kill()
      await waitForBadge(page, 'degraded')
      assert.equal(await page.textContent('[data-testid="backend"]'), 'memory backend')

      await redis.restart()
      await waitForBadge(page, 'ready')
      // the history panel recorded the outage
      await page.waitForFunction(
        () =>
          (globalThis as unknown as PageGlobals).document.querySelectorAll('#panel-state .history li')
            .length >= 2,
      )

      assert.deepEqual(errors, [])
      await page.close()
    })
  })
}

for (const engine of testEngines()) {
  void describe(`dashboard queues panel in Chromium (${engine})`, () => {
    let redis: ServerHandle
    let valkit: ReturnType<typeof createValkit>
    let browser: Browser
    const prefix = `t-dashq-${randomBytes(4).toString('hex')}`

    before(async () => {
      assert.ok(existsSync(CHROMIUM), `Chromium is missing at ${CHROMIUM}: apt-get install chromium`)
      redis = await startServer({ engine })
      valkit = createValkit({ url: redis.url, env: {}, keyPrefix: prefix, logger: false })
      await valkit.supervisor.waitFor('ready', 10_000)
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run'],
      })
    })

    after(async () => {
      await browser?.close()
      await valkit?.close()
      if (redis?.alive) await cleanPrefix(redis, `${prefix}:`)
      await redis?.stop()
    })

    void it('says there is no queue while the process has none', async () => {
      const server = await createServer({ valkit, port: 0, adminToken: TOKEN, env: {} })
      const errors: string[] = []
      const page = await signedIn(browser, server.url, errors)
      try {
        await page.waitForSelector('[data-testid="queues-empty"]', { state: 'visible' })
        assert.match(
          (await page.textContent('[data-testid="queues-empty"]')) ?? '',
          /No queue in this process — createQueue\(valkit, …\) registers here/,
        )
        assert.equal(await page.locator('#panel-queues .queue-card').count(), 0)
        assert.deepEqual(errors, [])
      } finally {
        await page.close()
        await server.close()
      }
    })

    void it("shows a queue's counts, its jobs and a dead job's errors; Retry and Promote send jobs back to run", async () => {
      // the worker runs jobs with its own queue options: the defaults go to both
      const options = { defaultJobOptions: { attempts: 2 } }
      const queue = createQueue(valkit, 'dash-q', options)
      const fix = { broken: false }
      const worker = createWorker(
        valkit,
        'dash-q',
        async (job) => {
          if (fix.broken) throw new Error(`upstream refused ${job.id} (attempt ${job.attempt})`)
          return { delivered: job.id }
        },
        { queue: options },
      )
      const server = await createServer({
        valkit,
        port: 0,
        adminToken: TOKEN,
        env: {},
        panels: { queues: [queue] },
      })
      const errors: string[] = []
      const page = await signedIn(browser, server.url, errors)
      try {
        for (let i = 0; i < 2; i++) await queue.add('deliver', { to: `u${i}@example.com` })
        await waitFor(async () => (await queue.counts()).completed === 2, { what: 'two completed' })
        fix.broken = true
        const { id: deadId } = await queue.add('deliver', { to: 'ada@example.com' })
        await waitFor(async () => (await queue.getJob(deadId))?.state === 'dead', { what: 'the dead job' })
        const { id: laterId } = await queue.add('digest', { week: 1 }, { delay: '1h', id: 'digest-ada' })

        const card = '#panel-queues .queue-card[data-queue="dash-q"]'
        await waitForText(page, `${card} [data-testid="queue-completed"]`, '2')
        await waitForText(page, `${card} [data-testid="queue-dead"]`, '1')
        await waitForText(page, `${card} [data-testid="queue-delayed"]`, '1')
        await waitForText(page, `${card} [data-testid="queue-waiting"]`, '0')
        await page.waitForSelector('[data-testid="queues-empty"]', { state: 'hidden' })
        assert.equal(await page.isVisible(`${card} [data-testid="queue-paused"]`), false)

        // the dead letters: the job, its last error, then its detail with the error history
        await page.click(`${card} .tab[data-state="dead"]`)
        const row = `${card} tr[data-job="${deadId}"]`
        await page.waitForSelector(row)
        assert.equal(await page.textContent(`${row} .job-info`), `upstream refused ${deadId} (attempt 2)`)
        await page.click(`${row} .job-id`)
        const detail = `${card} [data-testid="queue-job-detail"]`
        await page.waitForSelector(`${detail} [data-testid="queue-job-errors"]`)
        assert.equal(await page.textContent(`${detail} .job-title`), deadId)
        assert.equal(await page.textContent(`${detail} dd[data-key="state"]`), 'dead')
        assert.equal(await page.textContent(`${detail} dd[data-key="attempts"]`), '2')
        assert.deepEqual(
          await page.locator(`${detail} [data-testid="queue-job-errors"] .error-message`).allTextContents(),
          [`upstream refused ${deadId} (attempt 1)`, `upstream refused ${deadId} (attempt 2)`],
        )
        assert.deepEqual(
          JSON.parse((await page.textContent(`${detail} [data-testid="queue-job-data"]`)) ?? ''),
          {
            to: 'ada@example.com',
          },
        )

        // fixed upstream: Retry sends the job back, it leaves the dead letters and completes
        fix.broken = false
        await page.click(`${detail} button[data-action="retry"]`)
        await page.waitForSelector(row, { state: 'detached' })
        await waitForText(page, `${card} [data-testid="queue-dead"]`, '0')
        await waitForText(page, `${card} [data-testid="queue-completed"]`, '3')
        assert.match(
          (await page.textContent(`${card} [data-testid="queue-status"]`)) ?? '',
          new RegExp(`Job ${deadId} retried`),
        )
        assert.match((await page.textContent(`${card} [data-testid="queue-jobs-note"]`)) ?? '', /No dead job/)
        assert.equal((await queue.getJob(deadId))?.state, 'completed')

        // the delayed job, promoted, runs now
        await page.click(`${card} .tab[data-state="delayed"]`)
        await page.click(`${card} tr[data-job="${laterId}"] button[data-action="promote"]`)
        await waitForText(page, `${card} [data-testid="queue-delayed"]`, '0')
        await waitForText(page, `${card} [data-testid="queue-completed"]`, '4')
        assert.equal((await queue.getJob(laterId))?.state, 'completed')
        assert.deepEqual(errors, [])
      } finally {
        await page.close()
        await server.close()
        await worker.close()
        await queue.obliterate().catch(() => undefined)
        await queue.close()
      }
    })
  })
}
