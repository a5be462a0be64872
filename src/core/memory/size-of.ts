/** Bytes counted for an object or array beyond its contents (a rough V8 header). */
const OBJECT_OVERHEAD = 16
/** Upper bound on the nodes visited by {@link estimateSize}; the rest is ignored. */
const MAX_NODES = 10_000

/**
 * Estimates how many bytes a value holds in memory; the default `sizeOf` of a memory store.
 *
 * Buffers and typed arrays count their `byteLength`, strings 2 bytes per UTF-16 unit, numbers
 * 8, booleans 4, and objects and arrays the sum of their own keys and values plus a small
 * header. It walks at most 10,000 nodes and counts a shared or cyclic object once, so it is
 * bounded on any input. It is an estimate for bounding a cache, not a measurement.
 *
 * @example
 * ```ts
 * estimateSize('hello') // 10
 * estimateSize(Buffer.alloc(1024)) // 1024
 * ```
 */
export function estimateSize(value: unknown): number {
  switch (typeof value) {
    case 'string':
      return value.length * 2
    case 'number':
      return 8
    case 'boolean':
      return 4
    case 'bigint':
      return 8 + Math.ceil(value.toString(16).length / 2)
    case 'object':
      if (value === null) return 0
      if (ArrayBuffer.isView(value)) return value.byteLength
      if (value instanceof ArrayBuffer) return value.byteLength
      return estimateObject(value)
    default:
      return 0
  }
}

function estimateObject(root: object): number {
  const seen = new Set<object>()
  const stack: unknown[] = [root]
  let total = 0
  let visited = 0
  while (stack.length > 0 && visited < MAX_NODES) {
    const value = stack.pop()
    visited++
    if (typeof value !== 'object' || value === null) {
      total += estimateSize(value)
      continue
    }
    if (seen.has(value)) continue
    seen.add(value)
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
      total += value.byteLength
      continue
    }
    total += OBJECT_OVERHEAD
    if (value instanceof Map) {
      for (const [k, v] of value) stack.push(k, v)
    } else if (value instanceof Set) {
      for (const v of value) stack.push(v)
    } else if (Array.isArray(value)) {
      total += value.length * 8
      for (const v of value) stack.push(v)
    } else if (value instanceof Date) {
      total += 8
    } else {
      for (const key of Object.keys(value)) {
        total += key.length * 2 + 8
        stack.push((value as Record<string, unknown>)[key])
      }
    }
  }
  return total
}
