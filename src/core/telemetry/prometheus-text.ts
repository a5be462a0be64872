/**
 * Text helpers for the Prometheus exposition format 0.0.4.
 * @internal
 */

/** Escapes HELP text: `\` and newline. */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')
}

/** Escapes a label value: `\`, `"` and newline. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

/** A sample value or `le` bound as Prometheus writes it (`+Inf`, `-Inf`, `NaN`). */
export function formatNumber(value: number): string {
  if (value === Infinity) return '+Inf'
  if (value === -Infinity) return '-Inf'
  if (Number.isNaN(value)) return 'NaN'
  return String(value)
}

/** `{a="x",b="y"}` (or `''` without labels); `extra` is appended last, already formatted. */
export function formatLabels(names: readonly string[], values: readonly string[], extra?: string): string {
  let out = ''
  for (let i = 0; i < names.length; i++) {
    if (out !== '') out += ','
    out += `${names[i] as string}="${escapeLabelValue(values[i] as string)}"`
  }
  if (extra !== undefined) out += out === '' ? extra : `,${extra}`
  return out === '' ? '' : `{${out}}`
}
