import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { freePort, startServer, testEngines, waitFor, type ServerHandle } from '../../src/testing/index.js'

const MAIN = join(import.meta.dirname, '../../src/cli/main.ts')

/** The environment without any Redis or admin-token configuration from the outside. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...extra }
  for (const name of Object.keys(env)) {
    if ((name.startsWith('VALKIT_') && !(name in extra)) || name === 'REDIS_URL') delete env[name]
  }
  return env
}

interface Spawned {
  readonly child: ChildProcess
  readonly output: () => { stdout: string; stderr: string }
  readonly exited: Promise<number | null>
}

function spawnCli(args: readonly string[], env: NodeJS.ProcessEnv): Spawned {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return { child, output: () => ({ stdout, stderr }), exited }
}

async function runCli(args: readonly string[], env = cleanEnv()) {
  const run = spawnCli(args, env)
  const timer = setTimeout(() => run.child.kill('SIGKILL'), 30_000)
  const code = await run.exited
  clearTimeout(timer)
  return { code, ...run.output() }
}

void describe('valkit CLI basics', () => {
  void it('prints the version from package.json', async () => {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')) as {
      version: string
    }
    const res = await runCli(['--version'])
    assert.equal(res.code, 0)
    assert.equal(res.stdout.trim(), pkg.version)
  })

  void it('prints help with the commands', async () => {
    const res = await runCli(['--help'])
    assert.equal(res.code, 0)
    assert.match(res.stdout, /serve/)
    assert.match(res.stdout, /doctor/)
  })

  void it('exits 2 with a clear message on an unknown option, command or bad value', async () => {
    const bad = await runCli(['serve', '--bogus'])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /bogus/)
    const unknown = await runCli(['frobnicate'])
    assert.equal(unknown.code, 2)
    assert.match(unknown.stderr, /unknown command/)
    const port = await runCli(['serve', '--port', 'seventy'])
    assert.equal(port.code, 2)
    assert.match(port.stderr, /--port/)
  })

  void it('doctor without a URL (and none in the environment) is a usage error', async () => {
    const res = await runCli(['doctor'])
    assert.equal(res.code, 2)
    assert.match(res.stderr, /VALKIT_REDIS_URL/)
  })

  void it('doctor against a closed port exits 1 with a critical finding', async () => {
    const port = await freePort()
    const res = await runCli(['doctor', `redis://127.0.0.1:${port}`, '--timeout', '2'])
    assert.equal(res.code, 1, res.stdout + res.stderr)
    assert.match(res.stdout, /CRITICAL/)
  })
})

for (const engine of testEngines()) {
  void describe(`valkit doctor against ${engine}`, () => {
    let redis: ServerHandle
    before(async () => {
      redis = await startServer({ engine })
    })
    after(() => redis?.stop())

    void it('exits 0 and shows the engine and its version', async () => {
      const info = await redis.info('server')
      const version = info[`${engine}_version`] ?? info.redis_version
      assert.ok(version, 'INFO reports a version')
      const res = await runCli(['doctor', redis.url])
      assert.equal(res.code, 0, res.stdout + res.stderr)
      assert.match(
        res.stdout,
        new RegExp(`${engine === 'valkey' ? 'Valkey' : 'Redis'} ${version.replace(/\./g, '\\.')}`),
      )
      assert.match(res.stdout, /latency/)
    })
  })
}

void describe('valkit serve without Redis', () => {
  let dir: string
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'valkit-cli-'))
  })
  after(() => rmSync(dir, { recursive: true, force: true }))

  void it('starts on the memory backend, writes a 0600 token file, answers /healthz and stops on SIGTERM', async () => {
    const tokenFile = join(dir, 'state', 'admin-token')
    const run = spawnCli(['serve', '--port', '0', '--token-file', tokenFile], cleanEnv())
    try {
      // The banner ends with the admin token line; wait for it, not just for "listening".
      const url = await waitFor(
        () => {
          const out = run.output().stdout
          return out.includes('admin token') ? /listening on (http:\/\/\S+)/.exec(out)?.[1] : undefined
        },
        { timeoutMs: 20_000, what: 'valkit serve to print its banner' },
      )
      const { stdout } = run.output()
      assert.match(stdout, /memory backend: no Redis configured — set VALKIT_REDIS_URL/)
      assert.ok(stdout.includes(tokenFile), 'prints the token file path')

      const token = readFileSync(tokenFile, 'utf8').trim()
      assert.ok(token.length >= 40, 'a 32-byte token')
      assert.equal(statSync(tokenFile).mode & 0o777, 0o600)
      assert.ok(!stdout.includes(token) && !run.output().stderr.includes(token), 'the token is never printed')

      const health = await fetch(`${url}/healthz`)
      assert.equal(health.status, 200)
      assert.equal(((await health.json()) as { backend: string }).backend, 'memory')
      assert.equal((await fetch(`${url}/api/health`)).status, 401)
      const admin = await fetch(`${url}/api/health`, { headers: { authorization: `Bearer ${token}` } })
      assert.equal(admin.status, 200)

      run.child.kill('SIGTERM')
      assert.equal(await run.exited, 0)
    } finally {
      run.child.kill('SIGKILL')
    }
  })
})
