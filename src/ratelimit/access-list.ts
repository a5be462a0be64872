import { BlockList, isIP } from 'node:net'
import { invalidOption } from '../core/index.js'
import { checkScope } from './rule-options.js'

/**
 * Values per scope that are always admitted (`allow`) or always refused (`deny`), checked
 * before any rule and without a round trip: `{ user: ['ops-bot'], ip: ['10.0.0.0/8'] }`.
 * Entries of the `ip` scope may be addresses or CIDR ranges (IPv4 and IPv6); other scopes
 * match exact values.
 *
 * @example
 * ```ts
 * const deny: RateLimitAccessList = { ip: ['203.0.113.0/24'], user: ['banned-42'] }
 * ```
 */
export type RateLimitAccessList = Readonly<Record<string, readonly string[]>>

/** A compiled allow or deny list. @internal */
export class AccessList {
  readonly #exact = new Map<string, Set<string>>()
  readonly #ranges: BlockList | null
  readonly size: number

  constructor(value: RateLimitAccessList | undefined, path: string) {
    let size = 0
    let ranges: BlockList | null = null
    if (value !== undefined) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw invalidOption(
          path,
          `got ${value === null ? 'null' : typeof value}`,
          'an object of scope: values[]',
        )
      }
      for (const [scope, entries] of Object.entries(value)) {
        checkScope(scope, `${path}.${scope}`)
        if (!Array.isArray(entries))
          throw invalidOption(`${path}.${scope}`, `got ${typeof entries}`, 'an array of strings')
        const set = new Set<string>()
        entries.forEach((entry: unknown, i) => {
          const at = `${path}.${scope}[${i}]`
          if (typeof entry !== 'string' || entry.length === 0 || entry.length > 512) {
            throw invalidOption(at, `got ${typeof entry}`, 'a non-empty string')
          }
          if (scope === 'ip' && entry.includes('/')) {
            ranges ??= new BlockList()
            addRange(ranges, entry, at)
          } else set.add(scope === 'ip' ? normalizeIp(entry) : entry)
          size++
        })
        this.#exact.set(scope, set)
      }
    }
    this.#ranges = ranges
    this.size = size
  }

  /** `scope=value` of the first entry the subject matches, or null. */
  match(subject: Readonly<Record<string, string>>): string | null {
    if (this.size === 0) return null
    for (const [scope, set] of this.#exact) {
      const value = subject[scope]
      if (value === undefined) continue
      if (set.has(scope === 'ip' ? normalizeIp(value) : value)) return `${scope}=${value}`
    }
    const raw = subject.ip
    if (this.#ranges !== null && raw !== undefined) {
      const ip = normalizeIp(raw)
      const family = isIP(ip)
      if (family !== 0 && this.#ranges.check(ip, family === 4 ? 'ipv4' : 'ipv6')) return `ip=${raw}`
    }
    return null
  }
}

/** An IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) as plain IPv4; other values unchanged. */
export function normalizeIp(value: string): string {
  return value.startsWith('::ffff:') && isIP(value.slice(7)) === 4 ? value.slice(7) : value
}

function addRange(list: BlockList, entry: string, path: string): void {
  const [address, bits] = entry.split('/')
  const family = isIP(address ?? '')
  const prefix = Number(bits)
  const maxBits = family === 4 ? 32 : 128
  if (family === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > maxBits) {
    throw invalidOption(
      path,
      `got ${JSON.stringify(entry)}`,
      "an address or a CIDR range such as '10.0.0.0/8'",
    )
  }
  list.addSubnet(address!, prefix, family === 4 ? 'ipv4' : 'ipv6')
}
