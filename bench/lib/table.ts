import type { BenchReport, BenchRow } from './types.js'

const COLUMNS = [
  'scenario',
  'library',
  'ops/s',
  'ratio',
  'p50 ms',
  'p99 ms',
  'client µs/op',
  'server µs/op',
] as const

function fixed(value: number | undefined, digits: number): string {
  return value === undefined ? '-' : value.toFixed(digits)
}

function cells(row: BenchRow): string[] {
  return [
    row.scenario,
    row.reference ? `${row.library} (ref)` : row.library,
    row.opsPerSec > 0 ? Math.round(row.opsPerSec).toLocaleString('en-US') : '-',
    row.ratio === undefined ? '-' : `${row.ratio.toFixed(2)}×`,
    fixed(row.p50Ms, 2),
    fixed(row.p99Ms, 2),
    fixed(row.clientCpuUsPerOp, 1),
    fixed(row.serverCpuUsPerOp, 1),
  ]
}

/** Renders a report as a plain-text table with its header and notes. */
export function renderReport(report: BenchReport, header: readonly string[]): string {
  const body = report.rows.map(cells)
  const widths = COLUMNS.map((title, c) => Math.max(title.length, ...body.map((r) => r[c]!.length)))
  const numeric = (c: number): boolean => c >= 2
  const line = (values: readonly string[]): string =>
    values
      .map((v, c) => (numeric(c) ? v.padStart(widths[c]!) : v.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd()
  const out: string[] = [
    `== ${report.title}`,
    ...header.map((h) => `   ${h}`),
    `   ratio: ops/s relative to ${report.anchor} in the same round (median over rounds)`,
    '',
  ]
  out.push(line(COLUMNS), line(widths.map((w) => '-'.repeat(w))))
  let previous: string | undefined
  for (const [i, row] of body.entries()) {
    if (previous !== undefined && report.rows[i]!.scenario !== previous) out.push('')
    previous = report.rows[i]!.scenario
    out.push(line(row))
  }
  const notes = [
    ...report.notes,
    ...report.rows.filter((r) => r.note !== undefined).map((r) => `${r.scenario} / ${r.library}: ${r.note}`),
  ]
  if (notes.length > 0) out.push('', ...notes.map((n) => `- ${n}`))
  return out.join('\n')
}
