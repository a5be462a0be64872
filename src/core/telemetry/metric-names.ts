import { ValkitError } from '../errors.js'

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/

/**
 * Checks a full metric name against Prometheus' rules (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
 * @throws ValkitError `VALKIT_INVALID_ARGUMENT`
 */
export function assertMetricName(name: string): void {
  if (typeof name !== 'string' || !METRIC_NAME.test(name)) {
    throw new ValkitError(
      'VALKIT_INVALID_ARGUMENT',
      `Invalid metric name ${JSON.stringify(name)}: expected [a-zA-Z_:][a-zA-Z0-9_:]*.`,
      { details: { argument: 'name' } },
    )
  }
}

/**
 * Checks label names: Prometheus' syntax, no reserved `__` prefix, no duplicates, and none of
 * `reserved` (a histogram reserves `le`).
 * @throws ValkitError `VALKIT_INVALID_ARGUMENT`
 */
export function assertLabelNames(
  metric: string,
  labelNames: readonly string[],
  reserved: readonly string[] = [],
): void {
  if (!Array.isArray(labelNames)) {
    throw new ValkitError(
      'VALKIT_INVALID_ARGUMENT',
      `Metric ${metric}: labelNames must be an array of strings.`,
    )
  }
  const seen = new Set<string>()
  for (const value of labelNames as readonly unknown[]) {
    const label = String(value)
    const problem =
      typeof value !== 'string' || !LABEL_NAME.test(label)
        ? 'expected [a-zA-Z_][a-zA-Z0-9_]*'
        : label.startsWith('__')
          ? 'names starting with __ are reserved'
          : reserved.includes(label)
            ? 'reserved for this metric type'
            : seen.has(label)
              ? 'duplicated'
              : undefined
    if (problem !== undefined) {
      throw new ValkitError(
        'VALKIT_INVALID_ARGUMENT',
        `Metric ${metric}: invalid label name ${JSON.stringify(value)}: ${problem}.`,
        { details: { argument: 'labelNames', metric } },
      )
    }
    seen.add(label)
  }
}
