import { mkdir, writeFile } from 'node:fs/promises'
import { cpus, platform, release } from 'node:os'
import { fileURLToPath } from 'node:url'
import type { BenchContext, BenchReport } from './types.js'

/** bench/results (git-ignored). */
export const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url))

/** Strips a password from a URL before it is written anywhere. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password) parsed.password = '***'
    return parsed.toString()
  } catch {
    return '(unparsable url)'
  }
}

/** Writes a report to bench/results/<name>-<timestamp>.json (`extra` goes under `machine`) and returns its path. */
export async function writeResults(
  name: string,
  report: BenchReport,
  ctx: BenchContext,
  extra: Readonly<Record<string, unknown>> = {},
): Promise<string> {
  await mkdir(RESULTS_DIR, { recursive: true })
  const startedAt = new Date()
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-')
  const path = `${RESULTS_DIR}${name}-${stamp}.json`
  const document = {
    benchmark: name,
    date: startedAt.toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      platform: `${platform()} ${release()}`,
      node: process.version,
      ...extra,
    },
    server: { ...ctx.server, url: redactUrl(ctx.server.url) },
    options:
      ctx.options.url === undefined ? ctx.options : { ...ctx.options, url: redactUrl(ctx.options.url) },
    ...report,
  }
  await writeFile(path, JSON.stringify(document, null, 2) + '\n')
  return path
}
