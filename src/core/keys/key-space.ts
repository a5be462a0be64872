import { ValkitError, invalidOption } from '../errors.js'

/** Options of {@link createKeySpace}. */
export interface KeySpaceOptions {
  /**
   * First segment of every key; several services (or tenants) can share one server with
   * different prefixes. Must not contain `{` or `}` (that would move the Cluster hash tag).
   * @defaultValue `'valkit'`
   */
  readonly prefix?: string
  /**
   * Version of the key layout, written as `v{n}` right after the prefix so a rolling upgrade can
   * run two layouts side by side and migrate with one `SCAN MATCH {prefix}:v{n}:*`.
   * @defaultValue `1`
   */
  readonly schemaVersion?: number
}

/** The parts of a key built by a {@link KeySpace}. */
export interface ParsedKey {
  readonly prefix: string
  readonly schemaVersion: number
  readonly capability: string
  readonly tag: string
  readonly rest: readonly string[]
}

/** Key part accepted by {@link KeySpace.key}: numbers are written in decimal. */
export type KeyPart = string | number

/**
 * Builds every key valkit writes: `{prefix}:v{schemaVersion}:{capability}:{{tag}}:{rest...}`.
 * The `{tag}` is a Cluster hash tag: every key one script touches shares it, so they land on one slot.
 */
export interface KeySpace {
  readonly prefix: string
  readonly schemaVersion: number
  /**
   * A key: `ks.key('ratelimit', 'user:42', 'bucket')` is `valkit:v1:ratelimit:{user:42}:bucket`.
   * Throws `VALKIT_INVALID_ARGUMENT` for an empty or malformed capability, or an empty tag or one holding a brace.
   */
  key(capability: string, tag: KeyPart, ...rest: KeyPart[]): string
  /**
   * A `SCAN MATCH` pattern for a capability's keys, optionally narrowed to one tag and the leading
   * parts after it; the given parts are glob-escaped. `pattern('ratelimit')` is
   * `valkit:v1:ratelimit:*`; `pattern('queue', 'emails')` matches every key of tag `emails`;
   * with rest parts it matches keys that start with them (`'job'` also matches `'jobs:1'`).
   */
  pattern(capability: string, tag?: KeyPart, ...rest: KeyPart[]): string
  /** A `SCAN MATCH` pattern for every key of this prefix and schema version. */
  patternAll(): string
  /** Splits a key of this key space into its parts; `undefined` when it does not belong to it. */
  parse(key: string): ParsedKey | undefined
}

const CAPABILITY_PATTERN = /^[a-z0-9][a-z0-9-]*$/
const GLOB_SPECIAL = /[*?[\]\\]/g

/** Escapes the Redis glob characters `* ? [ ] \` so a string matches only itself in `SCAN MATCH`. */
export function escapeGlob(text: string): string {
  return text.replace(GLOB_SPECIAL, '\\$&')
}

function invalid(message: string, details: Record<string, unknown>): ValkitError {
  return new ValkitError('VALKIT_INVALID_ARGUMENT', message, { details })
}

function checkCapability(capability: unknown): string {
  if (typeof capability !== 'string' || !CAPABILITY_PATTERN.test(capability)) {
    throw invalid(
      `Invalid key capability ${JSON.stringify(capability)}: expected lowercase letters, digits and '-'.`,
      {
        argument: 'capability',
      },
    )
  }
  return capability
}

function checkTag(tag: unknown): string {
  const text = typeof tag === 'number' && Number.isFinite(tag) ? String(tag) : tag
  if (typeof text !== 'string' || text.length === 0 || text.includes('{') || text.includes('}')) {
    throw invalid(
      `Invalid key tag ${JSON.stringify(tag)}: expected a non-empty string or number without '{' or '}'.`,
      { argument: 'tag' },
    )
  }
  return text
}

function checkPart(part: unknown, index: number): string {
  if (typeof part === 'string') return part
  if (typeof part === 'number' && Number.isFinite(part)) return String(part)
  throw invalid(`Invalid key part #${index + 1}: expected a string or a finite number.`, { argument: 'rest' })
}

/**
 * Creates the key space shared by every capability of one valkit instance. Validates the
 * options (`VALKIT_INVALID_OPTION` with the path `keys.prefix` / `keys.schemaVersion`).
 *
 * @example
 * ```ts
 * const ks = createKeySpace({ prefix: 'myapp' })
 * ks.key('ratelimit', 'user:42', 'bucket') // 'myapp:v1:ratelimit:{user:42}:bucket'
 * ks.pattern('ratelimit')                  // 'myapp:v1:ratelimit:*'
 * ```
 */
export function createKeySpace(options: KeySpaceOptions = {}, path = 'keys'): KeySpace {
  const prefix = options.prefix ?? 'valkit'
  if (typeof prefix !== 'string' || prefix.length === 0 || /[{}]/.test(prefix)) {
    throw invalidOption(
      `${path}.prefix`,
      'the prefix is empty or holds a brace',
      "a non-empty string without '{' or '}'",
    )
  }
  const schemaVersion = options.schemaVersion ?? 1
  if (!Number.isSafeInteger(schemaVersion) || schemaVersion < 1) {
    throw invalidOption(`${path}.schemaVersion`, `got ${String(schemaVersion)}`, 'an integer >= 1')
  }
  const head = `${prefix}:v${schemaVersion}:`
  const escapedHead = escapeGlob(head)

  function key(capability: string, tag: KeyPart, ...rest: KeyPart[]): string {
    let out = `${head}${checkCapability(capability)}:{${checkTag(tag)}}`
    for (let i = 0; i < rest.length; i++) out += `:${checkPart(rest[i], i)}`
    return out
  }

  function pattern(capability: string, tag?: KeyPart, ...rest: KeyPart[]): string {
    let out = `${escapedHead}${checkCapability(capability)}:`
    if (tag === undefined) return `${out}*`
    out += `{${escapeGlob(checkTag(tag))}}`
    for (let i = 0; i < rest.length; i++) out += `:${escapeGlob(checkPart(rest[i], i))}`
    return `${out}*`
  }

  function parse(fullKey: string): ParsedKey | undefined {
    if (!fullKey.startsWith(head)) return undefined
    const capabilityEnd = fullKey.indexOf(':{', head.length)
    const tagEnd = fullKey.indexOf('}', capabilityEnd + 2)
    if (capabilityEnd === -1 || tagEnd === -1) return undefined
    const capability = fullKey.slice(head.length, capabilityEnd)
    const tag = fullKey.slice(capabilityEnd + 2, tagEnd)
    if (!CAPABILITY_PATTERN.test(capability) || tag.length === 0) return undefined
    const tail = fullKey.slice(tagEnd + 1)
    if (tail !== '' && !tail.startsWith(':')) return undefined
    return { prefix, schemaVersion, capability, tag, rest: tail === '' ? [] : tail.slice(1).split(':') }
  }

  return Object.freeze({ prefix, schemaVersion, key, pattern, patternAll: () => `${escapedHead}*`, parse })
}
