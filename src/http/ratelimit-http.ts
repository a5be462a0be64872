import { createHash } from 'node:crypto'
import { BlockList, isIP } from 'node:net'
import { ValkitError } from '../core/index.js'
import type { CheckOptions, RateLimitDecision, RateLimiter, RateLimitSubject } from '../ratelimit/index.js'

/**
 * What the key extractors read from a request, whatever the framework.
 *
 * @example
 * ```ts
 * const key: RateLimitKeyExtractor<unknown> = (_req, view) => ({ route: view.url.split('?')[0] })
 * ```
 */
export interface RateLimitRequestView {
  readonly method: string
  /** The path and query as received. */
  readonly url: string
  /** A request header (lowercase name), repeated values joined with `, `. */
  header(name: string): string | undefined
  /** The peer address of the socket (the proxy's, behind one). */
  readonly remoteAddress: string | undefined
}

/**
 * Which proxies in front of the app may set `X-Forwarded-For`:
 * - `false`: none; the client is the socket's peer;
 * - a number `n`: the `n` nearest hops are trusted proxies;
 * - addresses or CIDR ranges of the trusted proxies (`['10.0.0.0/8']`): the client is the
 *   nearest address in the chain that is not one of them;
 * - `true`: every hop (the leftmost address wins; only when the edge proxy overwrites the header).
 *
 * @example
 * ```ts
 * ipKey({ trustProxy: ['10.0.0.0/8', 'fd00::/8'] }) // behind load balancers in these ranges
 * ```
 */
export type TrustProxy = boolean | number | readonly string[]

/**
 * Picks the key values of a request: `{ user: '42' }`, `{ ip }`; `undefined` skips the request.
 *
 * @example
 * ```ts
 * const byUser: RateLimitKeyExtractor<Request> = (req) => ({ user: req.user?.id })
 * ```
 */
export type RateLimitKeyExtractor<R> = (
  req: R,
  view: RateLimitRequestView,
) =>
  | RateLimitSubject
  | Readonly<Record<string, string | number | undefined>>
  | undefined
  | null
  | Promise<RateLimitSubject | undefined | null>

/**
 * Options of the HTTP rate-limit middleware (Express, Fastify, Hono). `R` is the framework's
 * request (Express `Request`, Fastify `FastifyRequest`, Hono `Context`).
 *
 * @example
 * ```ts
 * const options: HttpRateLimitOptions<Request> = {
 *   key: rateLimitKeys(ipKey({ trustProxy: ['10.0.0.0/8'] }), (req) => ({ user: req.user?.id })),
 *   tier: (req) => req.user?.plan,
 * }
 * ```
 */
export interface HttpRateLimitOptions<R> {
  /** The subject of the check; a request for which it returns `undefined`/`null` is not limited. */
  readonly key: RateLimitKeyExtractor<R>
  /** Cost of the request (a number, per rule, or from the request). @defaultValue 1 */
  readonly cost?: CheckOptions['cost'] | ((req: R) => CheckOptions['cost'])
  /** The subject's tier, for rules with `tiers`. */
  readonly tier?: (req: R) => string | undefined
  /** Check only these rules. @defaultValue every rule */
  readonly rules?: readonly string[]
  /**
   * Send the IETF `RateLimit-Policy` and `RateLimit` headers (draft-ietf-httpapi-ratelimit-headers)
   * on every limited route's responses.
   * @defaultValue true
   */
  readonly headers?: boolean
  /** The JSON body of a refusal. @defaultValue `{ error, message, rule, retryAfterSeconds }` */
  readonly body?: (decision: RateLimitDecision) => unknown
}

/** What the middleware does with a request. @internal */
export interface HttpVerdict {
  /** `null`: pass the request on; else answer with this status. */
  readonly status: number | null
  readonly headers: readonly (readonly [string, string])[]
  readonly body: unknown
  readonly decision: RateLimitDecision | null
}

const PASS: HttpVerdict = Object.freeze({ status: null, headers: [], body: null, decision: null })

function policyItem(name: string): string {
  return `"${name.replace(/["\\]/g, '\\$&')}"`
}

/** `RateLimit-Policy` and `RateLimit` for every rule of a decision. @internal */
export function rateLimitHeaders(decision: RateLimitDecision): [string, string][] {
  if (decision.rules.length === 0) return []
  const policies: string[] = []
  const states: string[] = []
  for (const rule of decision.rules) {
    const window =
      rule.algorithm === 'concurrency' ? '' : `;w=${Math.max(1, Math.round(rule.windowMs / 1000))}`
    policies.push(`${policyItem(rule.rule)};q=${rule.burst}${window}`)
    states.push(`${policyItem(rule.rule)};r=${rule.remaining};t=${Math.ceil(rule.resetMs / 1000)}`)
  }
  return [
    ['RateLimit-Policy', policies.join(', ')],
    ['RateLimit', states.join(', ')],
  ]
}

function defaultBody(d: RateLimitDecision): unknown {
  switch (d.outcome) {
    case 'denied':
      return { error: 'forbidden', message: 'This client may not use this API.' }
    case 'unavailable':
      return { error: 'unavailable', message: 'Rate limiting is unavailable; try again shortly.' }
    case 'too-large':
      return {
        error: 'cost_exceeds_limit',
        message: `This request costs more than rule "${d.rule}" ever allows.`,
        rule: d.rule,
      }
    case 'blocked':
      return {
        error: 'blocked',
        message: `Blocked by rule "${d.rule}" after repeated violations.`,
        rule: d.rule,
        retryAfterSeconds: d.retryAfterSeconds,
      }
    default:
      return {
        error: 'rate_limited',
        message: `Too many requests (rule "${d.rule}").`,
        rule: d.rule,
        retryAfterSeconds: d.retryAfterSeconds,
      }
  }
}

const STATUS: Readonly<Record<string, number>> = {
  denied: 403,
  unavailable: 503,
  'too-large': 429,
  blocked: 429,
  limited: 429,
}

function compactSubject(value: unknown): RateLimitSubject | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value === 'string') return value
  const out: Record<string, string | number> = {}
  let any = false
  for (const [scope, v] of Object.entries(value as Record<string, unknown>)) {
    if (v === undefined || v === null || v === '') continue
    if (typeof v !== 'string' && typeof v !== 'number') continue
    out[scope] = v
    any = true
  }
  return any ? out : undefined
}

/**
 * Runs the check of one request and says what to answer. A check error that is not a
 * decision (a bug such as a missing scope, or `whenUnavailable: 'throw'`) rejects.
 *
 * @internal
 */
export async function evaluateRequest<R>(
  limiter: RateLimiter,
  options: HttpRateLimitOptions<R>,
  req: R,
  view: RateLimitRequestView,
): Promise<HttpVerdict> {
  const subject = compactSubject(await options.key(req, view))
  if (subject === undefined) return PASS
  const cost = typeof options.cost === 'function' ? options.cost(req) : options.cost
  const tier = options.tier?.(req)
  const decision = await limiter.check(subject, {
    ...(cost === undefined ? {} : { cost }),
    ...(tier === undefined ? {} : { tier }),
    ...(options.rules === undefined ? {} : { rules: options.rules }),
  })
  const headers = options.headers === false ? [] : rateLimitHeaders(decision)
  if (decision.allowed) return { status: null, headers, body: null, decision }
  if (decision.retryAfterSeconds > 0 && Number.isFinite(decision.retryAfterSeconds)) {
    headers.push(['Retry-After', String(decision.retryAfterSeconds)])
  } else if (decision.outcome === 'unavailable') headers.push(['Retry-After', '1'])
  const body = (options.body ?? defaultBody)(decision)
  return { status: STATUS[decision.outcome] ?? 429, headers, body, decision }
}

/** Checks middleware options once, at mount time. @internal */
export function checkHttpOptions<R>(
  limiter: RateLimiter,
  options: HttpRateLimitOptions<R>,
  where: string,
): void {
  if (typeof limiter?.check !== 'function') {
    throw new ValkitError(
      'VALKIT_INVALID_OPTION',
      `Invalid option \`${where}(limiter)\`: expected a rate limiter (createRateLimiter).`,
      {
        details: { path: `${where}.limiter` },
      },
    )
  }
  if (typeof options?.key !== 'function') {
    throw new ValkitError(
      'VALKIT_INVALID_OPTION',
      `Invalid option \`${where}.key\`: expected a function (req) => subject, such as ipKey().`,
      {
        details: { path: `${where}.key` },
      },
    )
  }
}

function trustedList(trust: readonly string[]): BlockList {
  const list = new BlockList()
  for (const entry of trust) {
    const [address, bits] = entry.split('/')
    const family = isIP(address ?? '')
    if (family === 0) {
      throw new ValkitError(
        'VALKIT_INVALID_OPTION',
        `Invalid option \`ipKey.trustProxy\`: ${JSON.stringify(entry)} is not an address or CIDR range.`,
        {
          details: { path: 'ipKey.trustProxy' },
        },
      )
    }
    const type = family === 4 ? 'ipv4' : 'ipv6'
    if (bits === undefined) list.addAddress(address!, type)
    else list.addSubnet(address!, Number(bits), type)
  }
  return list
}

function plainIp(value: string): string {
  const trimmed = value.trim().replace(/^\[|\]$/g, '')
  return trimmed.startsWith('::ffff:') && isIP(trimmed.slice(7)) === 4 ? trimmed.slice(7) : trimmed
}

/**
 * The client address of a request: the socket's peer, or (behind trusted proxies) the address
 * they forwarded in `X-Forwarded-For`, walked from the nearest hop. Unparsable hops end the walk.
 *
 * @example
 * ```ts
 * const ip = clientIp(view, ['10.0.0.0/8']) // behind a load balancer in 10/8
 * ```
 */
export function clientIp(view: RateLimitRequestView, trustProxy: TrustProxy = false): string | undefined {
  const peer = view.remoteAddress === undefined ? undefined : plainIp(view.remoteAddress)
  if (trustProxy === false) return peer
  const forwarded = (view.header('x-forwarded-for') ?? '')
    .split(',')
    .map(plainIp)
    .filter((a) => a !== '')
  const chain = peer === undefined ? forwarded : [...forwarded, peer]
  if (chain.length === 0) return undefined
  if (trustProxy === true) return chain[0]
  if (typeof trustProxy === 'number') return chain[Math.max(0, chain.length - 1 - trustProxy)]
  const trusted = trustedFor(trustProxy)
  for (let i = chain.length - 1; i >= 0; i--) {
    const address = chain[i]!
    const family = isIP(address)
    if (family === 0) return i === chain.length - 1 ? address : chain[i + 1]
    if (!trusted.check(address, family === 4 ? 'ipv4' : 'ipv6')) return address
  }
  return chain[0]
}

const trustedCache = new WeakMap<readonly string[], BlockList>()
function trustedFor(list: readonly string[]): BlockList {
  let compiled = trustedCache.get(list)
  if (compiled === undefined) trustedCache.set(list, (compiled = trustedList(list)))
  return compiled
}

/**
 * Keys requests by client address (scope `ip`), with trusted-proxy handling.
 *
 * @example
 * ```ts
 * app.use(expressRateLimit(limiter, { key: ipKey({ trustProxy: 1 }) }))
 * ```
 */
export function ipKey<R = unknown>(
  options: { readonly trustProxy?: TrustProxy; readonly scope?: string } = {},
): RateLimitKeyExtractor<R> {
  const trust = options.trustProxy ?? false
  if (Array.isArray(trust)) trustedFor(trust)
  const scope = options.scope ?? 'ip'
  return (_req, view) => {
    const ip = clientIp(view, trust)
    return ip === undefined ? undefined : { [scope]: ip }
  }
}

/**
 * Keys requests by API key (scope `apiKey`), read from a header (`x-api-key` by default) or
 * from `Authorization: Bearer ...` (`header: 'authorization'`). The key is never used as it is:
 * its SHA-256 (22 characters of base64url) is, so it appears neither in Redis nor in metrics.
 *
 * @example
 * ```ts
 * app.use(expressRateLimit(limiter, { key: apiKey({ header: 'authorization' }) }))
 * ```
 */
export function apiKey<R = unknown>(
  options: { readonly header?: string; readonly scope?: string } = {},
): RateLimitKeyExtractor<R> {
  const header = (options.header ?? 'x-api-key').toLowerCase()
  const scope = options.scope ?? 'apiKey'
  return (_req, view) => {
    let value = view.header(header)
    if (value !== undefined && header === 'authorization') {
      const match = /^Bearer\s+(.+)$/i.exec(value)
      value = match?.[1]
    }
    if (value === undefined || value === '') return undefined
    return { [scope]: createHash('sha256').update(value).digest('base64url').slice(0, 22) }
  }
}

/**
 * Merges several extractors into one subject (`{ ip, user }`); a scope an extractor leaves out
 * is absent, and a request for which every extractor gives nothing is not limited.
 *
 * @example
 * ```ts
 * const key = rateLimitKeys(ipKey({ trustProxy: 1 }), (req: Request) => ({ user: req.user?.id }))
 * ```
 */
export function rateLimitKeys<R>(...extractors: RateLimitKeyExtractor<R>[]): RateLimitKeyExtractor<R> {
  return async (req, view) => {
    const out: Record<string, string | number> = {}
    for (const extract of extractors) {
      const part = compactSubject(await extract(req, view))
      if (part === undefined) continue
      if (typeof part === 'string') out.key = part
      else Object.assign(out, part)
    }
    return Object.keys(out).length === 0 ? undefined : out
  }
}
