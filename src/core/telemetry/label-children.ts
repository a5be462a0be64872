import { ValkitError } from '../errors.js'

/** Label values of one series; numbers and booleans are turned into strings. */
export type LabelValues<L extends string> = { readonly [K in L]: string | number | boolean }

/**
 * The children of a labelled metric, one per combination of label values, found through nested
 * maps keyed by each value in `labelNames` order, so a lookup builds no string.
 *
 * @internal
 */
export class LabelChildren<C> {
  private readonly root = new Map<string, unknown>()
  /** Every child in creation order, with its label values. */
  readonly all: Array<{ readonly values: readonly string[]; readonly child: C }> = []

  constructor(
    private readonly metric: string,
    private readonly labelNames: readonly string[],
    private readonly create: () => C,
  ) {}

  get(labels: Readonly<Record<string, unknown>>): C {
    const names = this.labelNames
    const last = names.length - 1
    if (typeof labels !== 'object' || labels === null) throw this.mismatch(labels)
    let count = 0
    for (const _ in labels) count++
    if (count !== names.length) throw this.mismatch(labels)
    let node = this.root
    for (let i = 0; i < last; i++) {
      const value = labelString(labels[names[i] as string])
      if (value === undefined) throw this.mismatch(labels)
      let next = node.get(value) as Map<string, unknown> | undefined
      if (next === undefined) {
        next = new Map()
        node.set(value, next)
      }
      node = next
    }
    const value = labelString(labels[names[last] as string])
    if (value === undefined) throw this.mismatch(labels)
    const found = node.get(value) as C | undefined
    if (found !== undefined) return found
    const child = this.create()
    node.set(value, child)
    this.all.push({ values: names.map((n) => labelString(labels[n]) as string), child })
    return child
  }

  private mismatch(labels: unknown): ValkitError {
    const given =
      typeof labels === 'object' && labels !== null ? Object.keys(labels).join(', ') : String(labels)
    return new ValkitError(
      'VALKIT_INVALID_ARGUMENT',
      `Metric ${this.metric} expects labels {${this.labelNames.join(', ')}}, got {${given}}.`,
      { details: { metric: this.metric, labelNames: [...this.labelNames] } },
    )
  }
}

function labelString(value: unknown): string | undefined {
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  return undefined
}
