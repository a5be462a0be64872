import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { redactUrl } from '../core/config/index.js'
import type { Finding, HealthReport } from '../core/health-types.js'
import { createStyle, println, type CliIo } from './cli-io.js'
import { formatHealthReport } from './format-report.js'
import { loadValkit } from './load-valkit.js'
import { UsageError } from './usage-error.js'

/** Help text of `valkit doctor`. */
export const DOCTOR_USAGE = `Usage: valkit doctor [url] [--timeout <seconds>] [--json]

Connects to Redis or Valkey and prints a health report: engine, version, topology,
memory and eviction policy, hit rate, latency percentiles, and findings with what to do.

  url                 redis://[user:password@]host:port[/db], rediss://, valkey://...
                      (default: VALKIT_REDIS_URL, then REDIS_URL)
  --timeout <s>       how long to wait for the server to answer (default 5)
  --json              print the report as JSON

Exit status: 0 no critical finding, 1 critical findings (an unreachable server is one), 2 usage error.`

/** `valkit doctor`: returns the exit status. */
export async function doctorCommand(args: readonly string[], io: CliIo): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: true,
      strict: true,
      options: {
        timeout: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    })
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  const { values, positionals } = parsed
  if (values.help) {
    println(io.stdout, DOCTOR_USAGE)
    return 0
  }
  if (positionals.length > 1)
    throw new UsageError(`doctor takes one URL, got ${positionals.length} arguments`)
  const url = positionals[0] ?? io.env.VALKIT_REDIS_URL ?? io.env.REDIS_URL
  if (!url) {
    throw new UsageError(
      'doctor needs a server: give a URL (valkit doctor redis://127.0.0.1:6379) or set VALKIT_REDIS_URL',
    )
  }
  const timeoutSeconds = values.timeout === undefined ? 5 : Number(values.timeout)
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0 || timeoutSeconds > 600) {
    throw new UsageError(
      `--timeout must be a number of seconds between 0 and 600, got ${JSON.stringify(values.timeout)}`,
    )
  }

  const style = createStyle(io)
  const where = redactUrl(url)
  const valkit = loadValkit({ url, logger: false, env: io.env })
  try {
    let reachable = true
    try {
      await valkit.supervisor.waitFor('ready', timeoutSeconds * 1000)
    } catch {
      reachable = false
    }
    if (reachable) {
      // A few PINGs make the latency percentiles meaningful (the supervisor pings every 250 ms by default).
      const until = Date.now() + 1500
      while (valkit.supervisor.latency().samples < 5 && Date.now() < until) await sleep(100)
    }
    let report: HealthReport = await valkit.health()
    if (!reachable && !report.findings.some((f) => f.severity === 'critical')) {
      const unreachable: Finding = {
        id: 'connection.unreachable',
        severity: 'critical',
        message: `${where} did not answer within ${timeoutSeconds}s (state ${report.state}).`,
        recommendation:
          'Check that the server runs, the host and port, TLS and credentials, and that no firewall blocks it.',
      }
      report = { ...report, findings: [unreachable, ...report.findings] }
    }
    const critical = report.findings.some((f) => f.severity === 'critical')
    if (values.json) {
      println(io.stdout, JSON.stringify(report, null, 2))
    } else {
      println(io.stdout, style.dim(`valkit doctor ${where}`))
      println(io.stdout)
      println(io.stdout, formatHealthReport(report, style))
      println(io.stdout)
      println(
        io.stdout,
        critical ? style.red('Critical findings: exit 1.') : style.green('No critical findings.'),
      )
    }
    return critical ? 1 : 0
  } finally {
    await valkit.close()
  }
}
