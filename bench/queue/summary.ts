/**
 * The side-by-side table of the `queue` benchmark: one line per metric, valkit, BullMQ and
 * bee-queue next to each other, the ratios valkit/BullMQ and valkit/bee-queue, and the issue's
 * target where there is one.
 */

/** One line of the table. */
export interface SummaryLine {
  readonly metric: string
  /** `higher` (throughput) or `lower` (costs, latency) is better: said in the table's key. */
  readonly better: 'higher' | 'lower'
  readonly valkit: number | undefined
  readonly bullmq: number | undefined
  readonly bee: number | undefined
  /** Paired per-round ratios where rounds exist; otherwise the ratio of the values. */
  readonly vsBullmq?: number | undefined
  readonly vsBee?: number | undefined
  readonly digits: number
  /** e.g. `target ≥ 3× BullMQ: met`. */
  readonly target?: string
}

function value(v: number | undefined, digits: number): string {
  if (v === undefined || !Number.isFinite(v)) return '-'
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

function ratio(r: number | undefined): string {
  return r === undefined || !Number.isFinite(r) ? '-' : `${r.toFixed(2)}×`
}

/** `a ÷ b`, undefined when either is missing or b is 0. */
export const div = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined || b === undefined || b === 0 ? undefined : a / b

/** Renders the lines under `title` as a plain-text table (the same look as the harness's). */
export function renderSummary(
  title: string,
  header: readonly string[],
  lines: readonly SummaryLine[],
): string {
  const columns = ['metric', 'valkit', 'BullMQ', 'bee-queue', 'valkit/BullMQ', 'valkit/bee-queue', 'target']
  const body = lines.map((l) => [
    `${l.metric} ${l.better === 'higher' ? '↑' : '↓'}`,
    value(l.valkit, l.digits),
    value(l.bullmq, l.digits),
    value(l.bee, l.digits),
    ratio(l.vsBullmq ?? div(l.valkit, l.bullmq)),
    ratio(l.vsBee ?? div(l.valkit, l.bee)),
    l.target ?? '',
  ])
  const widths = columns.map((c, i) => Math.max(c.length, ...body.map((r) => r[i]!.length)))
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd()
  return [
    `== ${title}`,
    ...header.map((h) => `   ${h}`),
    '',
    line(columns),
    line(widths.map((w) => '-'.repeat(w))),
    ...body.map(line),
  ].join('\n')
}

/** `target ≥ 3× BullMQ: met` / `NOT met` / `not measured`. */
export function verdict(text: string, met: boolean | undefined): string {
  return `${text}: ${met === undefined ? 'not measured' : met ? 'met' : 'NOT met'}`
}
