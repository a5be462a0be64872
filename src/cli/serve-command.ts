import { parseArgs } from 'node:util'
import { isValkitError } from '../core/errors.js'
import { defaultTokenFilePath, writeNewTokenFile } from '../server/admin-token.js'
import { createServer } from '../server/create-server.js'
import type { ServerLogLevel } from '../server/server-options.js'
import { createStyle, println, type CliIo } from './cli-io.js'
import { loadValkit } from './load-valkit.js'
import { UsageError } from './usage-error.js'

/** Help text of `valkit serve`. */
export const SERVE_USAGE = `Usage: valkit serve [options]

Runs the valkit server: /healthz, /readyz, /metrics, the admin API (/api, bearer token)
and the live dashboard at /. Without Redis it runs on the in-process memory backend and
switches over when Redis answers.

  --host <host>              address to listen on (default 127.0.0.1)
  --port <port>              port to listen on, 0 = any free port (default 7379)
  --url <url>                Redis/Valkey URL (default: VALKIT_REDIS_URL, then REDIS_URL)
  --token-file <path>        where to write the generated admin token
                             (default $XDG_STATE_HOME/valkit/admin-token or ~/.valkit/admin-token)
  --degraded-is-not-ready    /readyz answers 503 while Redis is down (default: 200, says degraded)
  --metrics-public           serve /metrics without the admin token
  --log-level <level>        silent, fatal, error, warn, info, debug, trace (default warn)

The admin token comes from VALKIT_ADMIN_TOKEN or VALKIT_ADMIN_TOKEN_FILE; without either,
a new random token is written (mode 0600) to the token file, and only its path is printed.`

const LEVELS = new Set(['silent', 'fatal', 'error', 'warn', 'info', 'debug', 'trace'])

/** `valkit serve`: runs until SIGINT/SIGTERM, then closes gracefully; returns the exit status. */
export async function serveCommand(args: readonly string[], io: CliIo): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: false,
      strict: true,
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        url: { type: 'string' },
        'token-file': { type: 'string' },
        'degraded-is-not-ready': { type: 'boolean', default: false },
        'metrics-public': { type: 'boolean', default: false },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    })
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  const { values } = parsed
  if (values.help) {
    println(io.stdout, SERVE_USAGE)
    return 0
  }
  const port = values.port === undefined ? 7379 : Number(values.port)
  if (!/^\d+$/.test(values.port ?? '0') || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`--port must be a TCP port from 0 to 65535, got ${JSON.stringify(values.port)}`)
  }
  if (values.host !== undefined && values.host.trim() === '') throw new UsageError('--host must not be empty')
  const logLevel = values['log-level'] ?? 'warn'
  if (!LEVELS.has(logLevel))
    throw new UsageError(
      `--log-level must be one of ${[...LEVELS].join(', ')}, got ${JSON.stringify(logLevel)}`,
    )

  const style = createStyle(io)
  // Validates the URL and options before anything is written.
  const valkit = loadValkit({ ...(values.url === undefined ? {} : { url: values.url }), env: io.env })
  // The token: from the environment, else a fresh one in a 0600 file whose path (never the token) is printed.
  let adminToken: string | undefined
  let tokenSource: string
  if (io.env.VALKIT_ADMIN_TOKEN?.trim()) {
    tokenSource = 'from VALKIT_ADMIN_TOKEN'
  } else if (io.env.VALKIT_ADMIN_TOKEN_FILE?.trim()) {
    tokenSource = `read from ${io.env.VALKIT_ADMIN_TOKEN_FILE.trim()} (VALKIT_ADMIN_TOKEN_FILE)`
  } else {
    const path = values['token-file'] ?? defaultTokenFilePath(io.env)
    try {
      adminToken = writeNewTokenFile(path)
    } catch (err) {
      println(io.stderr, `valkit serve: cannot write the admin token file ${path}: ${(err as Error).message}`)
      await valkit.close()
      return 1
    }
    tokenSource = `written to ${path} (mode 0600, new at each start)`
  }

  let server
  try {
    server = await createServer({
      valkit,
      host: values.host ?? '127.0.0.1',
      port,
      adminToken,
      degradedIsNotReady: values['degraded-is-not-ready'],
      metricsPublic: values['metrics-public'],
      logLevel: logLevel as ServerLogLevel,
      env: io.env,
    })
  } catch (err) {
    await valkit.close()
    if (isValkitError(err)) {
      println(io.stderr, `valkit serve: ${err.message}`)
      return 2
    }
    const code = (err as NodeJS.ErrnoException).code
    const why =
      code === 'EADDRINUSE'
        ? `port ${port} is already in use (try --port 0 or another port)`
        : (err as Error).message
    println(io.stderr, `valkit serve: cannot listen on ${values.host ?? '127.0.0.1'}:${port}: ${why}`)
    return 1
  }

  const description = valkit.config.describe()
  const memoryOnly = valkit.config.topology.kind === 'memory'
  // One write for the whole banner: a reader that sees "listening on" sees the rest too.
  const banner = [
    `${style.bold('valkit serve')} listening on ${server.url}`,
    `  dashboard    ${server.url}/`,
    `  health       ${server.url}/healthz  ${server.url}/readyz`,
    `  metrics      ${server.url}/metrics${values['metrics-public'] ? '' : ' (admin token required)'}`,
    `  backend      ${memoryOnly ? style.yellow('memory backend: no Redis configured — set VALKIT_REDIS_URL') : `redis ${description}`}`,
    `  admin token  ${tokenSource}`,
  ]
  println(io.stdout, banner.join('\n'))

  return new Promise<number>((resolve) => {
    let stopping = false
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        println(io.stderr, `valkit serve: ${signal} again, exiting now`)
        process.exit(1)
      }
      stopping = true
      println(io.stdout, `valkit serve: ${signal} received, shutting down`)
      server
        .close()
        .then(() => valkit.close())
        .then(
          () => resolve(0),
          (err: unknown) => {
            println(io.stderr, `valkit serve: error while shutting down: ${(err as Error).message}`)
            resolve(1)
          },
        )
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
}
