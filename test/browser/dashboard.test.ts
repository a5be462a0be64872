import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { chromium, type Browser, type Page } from 'playwright-core'
import { createValkit } from '../../src/index.js'
import { createServer, type ValkitServer } from '../../src/server/index.js'
import { startServer, testEngines, type ServerHandle } from '../../src/testing/index.js'

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

for (const engine of testEngines()) {
  void describe(`dashboard in Chromium (${engine})`, () => {
    let redis: ServerHandle
    let valkit: ReturnType<typeof createValkit>
    let server: ValkitServer
    let browser: Browser

    before(async () => {
      assert.ok(existsSync(CHROMIUM), `Chromium is missing at ${CHROMIUM}: apt-get install chromium`)
      redis = await startServer({ engine })
      valkit = createValkit({ url: redis.url, env: {} })
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
      await redis?.stop()
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
