import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { isValkitError } from '../../src/core/errors.js'
import {
  RespClient,
  cleanPrefix,
  randomPrefix,
  startServer,
  tcpProxy,
  testEngines,
  waitFor,
  withServer,
  type ServerHandle,
} from '../../src/testing/index.js'
import { isProcessAlive } from '../../src/testing/process-registry.js'

const engine = testEngines()[0]!
const launcherEntry = new URL('../../src/testing/index.ts', import.meta.url).pathname

/** Runs a script that uses the launcher in a separate Node process; resolves with its stdout lines. */
function runScript(body: string, onLine?: (line: string, kill: (signal: NodeJS.Signals) => void) => void) {
  const dir = mkdtempSync(join(tmpdir(), 'valkit-launcher-script-'))
  const file = join(dir, 'script.mts')
  writeFileSync(file, `import * as launcher from ${JSON.stringify(launcherEntry)}\n${body}\n`)
  const child = spawn(process.execPath, ['--import', 'tsx', file], { stdio: ['ignore', 'pipe', 'inherit'] })
  const lines: string[] = []
  let rest = ''
  child.stdout.on('data', (chunk: Buffer) => {
    rest += chunk.toString()
    const parts = rest.split('\n')
    rest = parts.pop() ?? ''
    for (const line of parts) {
      lines.push(line)
      onLine?.(line, (signal) => child.kill(signal))
    }
  })
  return new Promise<string[]>((resolve) =>
    child.once('exit', () => {
      rmSync(dir, { recursive: true, force: true })
      resolve(lines)
    }),
  )
}

void describe(`launcher helpers (${engine})`, () => {
  let server: ServerHandle

  before(async () => {
    server = await startServer({ engine })
  })
  after(async () => {
    await server.stop()
  })

  void it('randomPrefix gives distinct prefixes and cleanPrefix removes only its own keys', async () => {
    const mine = randomPrefix('helpers')
    const other = randomPrefix('helpers')
    assert.notEqual(mine, other)
    assert.match(mine, /^test:helpers:[0-9a-f]{8}:$/)
    for (let i = 0; i < 250; i++) await server.command('SET', `${mine}${i}`, 'v')
    await server.command('SET', `${other}keep`, 'v')
    assert.equal(await cleanPrefix(server, mine), 250)
    assert.equal(await server.command('EXISTS', `${mine}0`), 0)
    assert.equal(await server.command('EXISTS', `${other}keep`), 1)
    // Through a URL, and glob characters in the prefix are literal.
    await server.command('SET', 'odd*[x]:1', 'v')
    await server.command('SET', 'oddity', 'v')
    assert.equal(await cleanPrefix(server.url, 'odd*[x]:'), 1)
    assert.equal(await server.command('EXISTS', 'oddity'), 1)
    await assert.rejects(cleanPrefix(server, ''), (err) => isValkitError(err, 'VALKIT_INVALID_ARGUMENT'))
  })

  void it('withServer stops the server even when the callback throws', async () => {
    let dir = ''
    let port = 0
    await assert.rejects(
      withServer({ engine }, async (s) => {
        dir = s.dir
        port = s.port
        assert.equal(await s.command('PING'), 'PONG')
        throw new Error('boom')
      }),
      /boom/,
    )
    assert.equal(existsSync(dir), false)
    await assert.rejects(RespClient.connect({ port, connectTimeoutMs: 500 }))
  })

  void it('tcpProxy forwards, adds latency, blackholes, stalls and resets', async () => {
    const proxy = await tcpProxy({ target: { port: server.port } })
    try {
      const client = await RespClient.connect({ port: proxy.port, commandTimeoutMs: 400 })
      assert.equal(await client.command('PING'), 'PONG')
      assert.equal(proxy.connections, 1)

      proxy.setLatency(100)
      const started = Date.now()
      assert.equal(await client.command('PING'), 'PONG')
      assert.ok(Date.now() - started >= 180, 'about 100 ms each way')
      proxy.setLatency(0)

      proxy.pause()
      const held = client.command('PING')
      await new Promise((r) => setTimeout(r, 150))
      proxy.resume()
      assert.equal(await held, 'PONG', 'a stalled reply arrives after resume')

      proxy.blackhole()
      await assert.rejects(client.command('PING'), (err) => isValkitError(err, 'VALKIT_TIMEOUT'))
      const silent = await RespClient.connect({ port: proxy.port, commandTimeoutMs: 300 })
      await assert.rejects(
        silent.command('PING'),
        (err) => isValkitError(err, 'VALKIT_TIMEOUT'),
        'new connections are accepted but silent',
      )
      proxy.heal()

      const fresh = await RespClient.connect({ port: proxy.port, commandTimeoutMs: 1000 })
      assert.equal(await fresh.command('PING'), 'PONG')
      proxy.resetConnections()
      await waitFor(() => !fresh.open, { what: 'the reset to reach the client', timeoutMs: 2000 })
      await assert.rejects(fresh.command('PING'))
    } finally {
      await proxy.close()
    }
  })

  void it('kills the servers of a test process that exits without stopping them', async () => {
    const lines = await runScript(`
      const s = await launcher.startServer({ engine: ${JSON.stringify(engine)} })
      console.log(JSON.stringify({ pid: s.pid, dir: s.dir }))
      process.exit(0)
    `)
    const { pid, dir } = JSON.parse(lines[0]!) as { pid: number; dir: string }
    await waitFor(() => !isProcessAlive(pid), { what: `server ${pid} to be gone`, timeoutMs: 5000 })
    assert.equal(existsSync(dir), false)
  })

  void it('kills the servers of a test process stopped by SIGTERM', async () => {
    let started: { pid: number; dir: string } | undefined
    await runScript(
      `
      const s = await launcher.startServer({ engine: ${JSON.stringify(engine)} })
      console.log(JSON.stringify({ pid: s.pid, dir: s.dir }))
      setInterval(() => {}, 1000)
    `,
      (line, kill) => {
        started = JSON.parse(line) as { pid: number; dir: string }
        kill('SIGTERM')
      },
    )
    assert.ok(started)
    await waitFor(() => !isProcessAlive(started!.pid), { what: 'the server to be killed', timeoutMs: 5000 })
    assert.equal(existsSync(started.dir), false)
  })

  void it('reaps the servers of a test process that was SIGKILLed, at the next start', async () => {
    let orphan: { pid: number; dir: string } | undefined
    await runScript(
      `
      const s = await launcher.startServer({ engine: ${JSON.stringify(engine)} })
      console.log(JSON.stringify({ pid: s.pid, dir: s.dir }))
      setInterval(() => {}, 1000)
    `,
      (line, kill) => {
        orphan = JSON.parse(line) as { pid: number; dir: string }
        kill('SIGKILL')
      },
    )
    assert.ok(orphan)
    assert.equal(isProcessAlive(orphan.pid), true, 'the server outlived its test process')
    // A new test process reaps it when it starts its first server.
    await runScript(`
      const s = await launcher.startServer({ engine: ${JSON.stringify(engine)} })
      await s.stop()
    `)
    await waitFor(() => !isProcessAlive(orphan!.pid), { what: 'the orphan to be reaped', timeoutMs: 5000 })
    assert.equal(existsSync(orphan.dir), false)
  })
})
