import { ValkitError, invalidOption } from '../core/index.js'
import { AccessList, type RateLimitAccessList } from './access-list.js'
import { MAX_LIMIT, resolveRules, type ResolvedLimits, type ResolvedRule } from './rule-options.js'
import { encodeValue } from './subject.js'

/**
 * How the keys of one check share a Cluster hash tag (every key of the one script a check runs
 * must land on one slot):
 * - `'subject'`: the tag holds the subject's values; keys spread over the cluster. Every rule
 *   must be keyed by the same scopes.
 * - `'limiter'`: one tag for the whole limiter (one slot): any mix of scopes, global rules too.
 * - `{ scope }`: the tag holds that scope's value (`tenant`): every rule must be keyed by it,
 *   so a tenant's rules share a slot and tenants spread over the cluster.
 *
 * @example
 * ```ts
 * createRateLimiter(valkit, { rules, hashTag: { scope: 'tenant' } }) // a tenant's keys on one slot
 * ```
 */
export type RateLimitHashTag = 'auto' | 'subject' | 'limiter' | { readonly scope: string }

/** The resolved tag mode. @internal */
export type TagMode =
  | { readonly kind: 'subject' }
  | { readonly kind: 'limiter' }
  | { readonly kind: 'scope'; readonly scope: string }

/** A rule as the hot path uses it. @internal */
export interface CompiledRule extends ResolvedRule {
  readonly index: number
  /** `:rule` part of its keys. */
  readonly keyPart: string
  /** Keys the script takes for this rule: state, then extra (log, concurrency), then penalty. */
  readonly keyCount: number
  readonly hasExtra: boolean
  readonly single: string | null
  /** The script arguments of the rule's own limits, as text (the driver sends text anyway). */
  /** The check script's spec of the rule with its own limits: "code limit window [burst]". */
  readonly specArg: string
  /** The penalty's spec "violations within-ms block-ms", or null. */
  readonly penaltyArg: string | null
}

/** Costs 0-1023 as text, so a check does not format the usual small costs again. */
const SMALL = Array.from({ length: 1024 }, (_, i) => String(i))
const text = (n: number): string => SMALL[n] ?? String(n)

/**
 * What a rule set is built from: the part of the options that live rules may replace.
 *
 * @example
 * ```ts
 * await limiter.rules.update({ rules: { user: { algorithm: 'gcra', limit: 20, window: '1s', by: 'user' } }, deny: { ip: [] } })
 * ```
 */
export interface RuleDocument {
  readonly rules: Readonly<Record<string, unknown>>
  readonly allow?: RateLimitAccessList
  readonly deny?: RateLimitAccessList
}

/** Per-rule values a check passes, after tiers, overrides and scaling. @internal */
export interface PlannedRule {
  readonly rule: CompiledRule
  readonly limit: number
  readonly burst: number
  readonly windowMs: number
  readonly cost: number
}

/** One check, ready for a backend: the script's keys and arguments. @internal */
export interface CheckPlan {
  readonly rules: readonly PlannedRule[]
  readonly keys: string[]
  readonly args: (string | number)[]
  /** Pairs (lease zset, cost hash) of the concurrency rules, or null. */
  readonly leaseKeys: string[] | null
  readonly leaseId: string
}

/** Rules selected per check, and how a check's keys are made. @internal */
export class RuleSet {
  readonly rules: readonly CompiledRule[]
  readonly byName: ReadonlyMap<string, CompiledRule>
  readonly allow: AccessList
  readonly deny: AccessList
  /** The scopes some rule is keyed by. */
  readonly scopes: ReadonlySet<string>

  constructor(
    readonly document: RuleDocument,
    readonly tag: TagMode,
    private readonly head: string,
    readonly version: number,
    path: string,
  ) {
    const resolved = resolveRules(document.rules, `${path}.rules`)
    checkTagMode(resolved, tag, `${path}.rules`)
    this.rules = resolved.map((rule, index) => {
      const hasExtra = rule.algorithm === 'sliding-window-log' || rule.algorithm === 'concurrency'
      return Object.freeze({
        ...rule,
        index,
        keyPart: rule.name,
        hasExtra,
        keyCount: 1 + (hasExtra ? 1 : 0) + (rule.penalty === null ? 0 : 1),
        single: rule.by.length === 1 ? rule.by[0]! : null,
        specArg: specOf(
          rule.penalty === null ? rule.code : rule.code + 8,
          rule.algorithm,
          rule.limit,
          rule.algorithm === 'concurrency' ? rule.leaseTtlMs : rule.windowMs,
          rule.burst,
        ),
        penaltyArg:
          rule.penalty === null
            ? null
            : `${rule.penalty.violations} ${rule.penalty.withinMs} ${rule.penalty.blockMs}`,
      })
    })
    this.byName = new Map(this.rules.map((r) => [r.name, r]))
    this.allow = new AccessList(document.allow, `${path}.allow`)
    this.deny = new AccessList(document.deny, `${path}.deny`)
    this.scopes = new Set(this.rules.flatMap((r) => r.by))
  }

  /** The rules a check names, or all of them. Throws `VALKIT_INVALID_ARGUMENT` for an unknown name. */
  select(names: readonly string[] | undefined): readonly CompiledRule[] {
    if (names === undefined) return this.rules
    if (!Array.isArray(names) || names.length === 0) {
      throw new ValkitError('VALKIT_INVALID_ARGUMENT', 'check(..., { rules }) must name at least one rule.', {
        details: { argument: 'rules' },
      })
    }
    return names.map((name: string) => {
      const rule = this.byName.get(name)
      if (rule === undefined) {
        throw new ValkitError(
          'VALKIT_INVALID_ARGUMENT',
          `Unknown rule ${JSON.stringify(name)}; this limiter has ${[...this.byName.keys()].join(', ')}.`,
          { details: { argument: 'rules' } },
        )
      }
      return rule
    })
  }

  /** The subject's part of a rule's keys: `user=42`, `tenant=acme,user=42`, or `*` for a global rule. */
  subjectPart(rule: CompiledRule, subject: Readonly<Record<string, string>>): string {
    const single = rule.single
    if (single !== null) {
      const value = subject[single]
      if (value === undefined) throw missingScope(rule, single)
      return `${single}=${encodeValue(value)}`
    }
    if (rule.by.length === 0) return '*'
    let out = ''
    for (const scope of rule.by) {
      const value = subject[scope]
      if (value === undefined) throw missingScope(rule, scope)
      out += `${out === '' ? '' : ','}${scope}=${encodeValue(value)}`
    }
    return out
  }

  /** The first part of a rule's keys, up to and including `}:` (the hash tag). */
  tagOf(subjectPart: string, subject: Readonly<Record<string, string>>): string {
    const tag = this.tag
    if (tag.kind === 'subject') return `${this.head}${subjectPart}}:`
    if (tag.kind === 'limiter') return `${this.head.slice(0, -1)}}:`
    const value = subject[tag.scope]
    if (value === undefined) throw missingScope(this.rules[0]!, tag.scope)
    return `${this.head}${tag.scope}=${encodeValue(value)}}:`
  }

  /** The limits of a rule for this subject and tier: an override, else the tier's, else the rule's. */
  limitsOf(
    rule: CompiledRule,
    subject: Readonly<Record<string, string>>,
    tier: string | undefined,
  ): ResolvedLimits {
    if (rule.overrides.size > 0) {
      const key = rule.by.map((scope) => subject[scope]).join('/')
      const override = rule.overrides.get(key)
      if (override !== undefined) return override
    }
    if (tier !== undefined && rule.tiers.size > 0) return rule.tiers.get(tier) ?? rule
    return rule
  }

  /**
   * Builds the script call of one check. `share` scales every limit (the insurance share),
   * `factor` those of the adaptive rules (`scaled`, or every rule when null); never below 1.
   */
  plan(
    selected: readonly CompiledRule[],
    subject: Readonly<Record<string, string>>,
    cost: number | Readonly<Record<string, number>>,
    tier: string | undefined,
    share: number,
    factor: number,
    scaled: ReadonlySet<string> | null,
    leaseId: string,
  ): CheckPlan {
    const n = selected.length
    const planned: PlannedRule[] = new Array<PlannedRule>(n)
    const keys: string[] = []
    const args: (string | number)[] = [text(n)]
    let leaseKeys: string[] | null = null
    let tag: string | null = null
    for (let i = 0; i < n; i++) {
      const rule = selected[i]!
      const part = this.subjectPart(rule, subject)
      tag ??= this.tagOf(part, subject)
      const base = this.tag.kind === 'subject' ? `${tag}${rule.keyPart}` : `${tag}${rule.keyPart}:${part}`
      keys.push(base)
      if (rule.hasExtra) keys.push(`${base}:x`)
      if (rule.penalty !== null) keys.push(`${base}:p`)
      const limits =
        rule.overrides.size === 0 && (tier === undefined || rule.tiers.size === 0)
          ? rule
          : this.limitsOf(rule, subject, tier)
      const f = scaled === null || scaled.has(rule.name) ? share * factor : share
      const limit = f === 1 ? limits.limit : Math.max(1, Math.floor(limits.limit * f))
      const burst = f === 1 ? limits.burst : Math.max(1, Math.floor(limits.burst * f))
      const c =
        typeof cost === 'number' && Number.isSafeInteger(cost) && cost >= 0 && cost <= MAX_LIMIT
          ? cost
          : costOf(rule, cost)
      const algorithm = rule.algorithm
      const windowMs = algorithm === 'concurrency' ? rule.leaseTtlMs : limits.windowMs
      planned[i] = { rule, limit, burst, windowMs, cost: c }
      const own = limits === rule && f === 1
      args.push(
        own
          ? rule.specArg
          : specOf(rule.penalty === null ? rule.code : rule.code + 8, algorithm, limit, windowMs, burst),
        text(c),
      )
      if (algorithm === 'concurrency') {
        args.push(leaseId)
        ;(leaseKeys ??= []).push(base, `${base}:x`)
      }
      if (rule.penaltyArg !== null) args.push(rule.penaltyArg)
    }
    return { rules: planned, keys, args, leaseKeys, leaseId }
  }

  /** Penalty hashes of the named rules for this subject (for `block`). */
  penaltyKeys(selected: readonly CompiledRule[], subject: Readonly<Record<string, string>>): string[] {
    return selected.map((rule) => `${this.baseKey(rule, subject)}:p`)
  }

  /** Every key a subject has under the selected rules (for `reset`). */
  keysOf(selected: readonly CompiledRule[], subject: Readonly<Record<string, string>>): string[] {
    return selected.flatMap((rule) => {
      const base = this.baseKey(rule, subject)
      return [base, `${base}:x`, `${base}:p`]
    })
  }

  private baseKey(rule: CompiledRule, subject: Readonly<Record<string, string>>): string {
    const part = this.subjectPart(rule, subject)
    const tag = this.tagOf(part, subject)
    return this.tag.kind === 'subject' ? `${tag}${rule.keyPart}` : `${tag}${rule.keyPart}:${part}`
  }
}

function costOf(rule: CompiledRule, cost: number | Readonly<Record<string, number>>): number {
  const c = typeof cost === 'number' ? cost : (cost[rule.name] ?? 1)
  if (!Number.isSafeInteger(c) || c < 0 || c > MAX_LIMIT) {
    throw new ValkitError(
      'VALKIT_INVALID_ARGUMENT',
      `The cost for rule "${rule.name}" is ${String(c)}: expected an integer from 0 to ${MAX_LIMIT}.`,
      { details: { argument: 'cost' } },
    )
  }
  return c
}

function missingScope(rule: CompiledRule, scope: string): ValkitError {
  return new ValkitError(
    'VALKIT_INVALID_ARGUMENT',
    `Rule "${rule.name}" is keyed by \`${scope}\`, but the subject has no \`${scope}\`: pass { ${scope}: ... } (or select rules with { rules: [...] }).`,
    { details: { argument: 'subject', rule: rule.name, scope } },
  )
}

/** Resolves the `hashTag` option against the rules. @internal */
export function resolveTagMode(
  value: RateLimitHashTag | undefined,
  rules: Readonly<Record<string, unknown>>,
  path: string,
): TagMode {
  const given = value ?? 'auto'
  if (given === 'subject' || given === 'limiter') return { kind: given }
  if (given === 'auto') {
    const resolved = resolveRules(rules, `${path}.rules`)
    const first = resolved[0]!.by.join(',')
    const same = resolved.every((r) => r.by.join(',') === first) && resolved[0]!.by.length > 0
    return same ? { kind: 'subject' } : { kind: 'limiter' }
  }
  if (typeof given === 'object' && given !== null && typeof given.scope === 'string') {
    return { kind: 'scope', scope: given.scope }
  }
  throw invalidOption(
    `${path}.hashTag`,
    `got ${JSON.stringify(given)}`,
    "'auto', 'subject', 'limiter' or { scope: 'tenant' }",
  )
}

function checkTagMode(rules: readonly ResolvedRule[], tag: TagMode, path: string): void {
  if (tag.kind === 'subject') {
    const first = rules[0]!.by.join(',')
    for (const rule of rules) {
      if (rule.by.join(',') !== first || rule.by.length === 0) {
        throw invalidOption(
          `${path}.${rule.name}.by`,
          `hashTag 'subject' needs every rule keyed by the same scopes (${first || 'none'}), this one by ${rule.by.join(',') || 'none (global)'}`,
          "the same scopes on every rule, or hashTag 'limiter' / { scope }",
        )
      }
    }
  } else if (tag.kind === 'scope') {
    for (const rule of rules) {
      if (!rule.by.includes(tag.scope)) {
        throw invalidOption(
          `${path}.${rule.name}.by`,
          `hashTag { scope: '${tag.scope}' } needs every rule keyed by \`${tag.scope}\``,
          `\`${tag.scope}\` among the rule's scopes, or hashTag 'limiter'`,
        )
      }
    }
  }
}

/** A rule's numbers as the check script reads them: "code limit window", plus " burst" for the bucket algorithms. */
function specOf(code: number, algorithm: string, limit: number, windowMs: number, burst: number): string {
  return algorithm === 'token-bucket' || algorithm === 'gcra'
    ? `${code} ${limit} ${windowMs} ${burst}`
    : `${code} ${limit} ${windowMs}`
}
