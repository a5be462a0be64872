import { ValkitError, runScript, type Valkit } from '../core/index.js'
import type { ResolvedRateLimiterOptions } from './ratelimit-options.js'
import { PUBLISH_RULES } from './ratelimit-scripts.js'
import type { LiveRules, RulesAuditEntry, RulesUpdateOptions, RulesUpdateResult } from './ratelimit-types.js'
import { RuleSet, type RuleDocument } from './rule-set.js'

const AUDIT_KEPT = 100

/**
 * The rules in force on one limiter instance, and with `live` their versions in Redis/Valkey:
 * an update is validated before anything is written, stored with an audit entry by one script
 * (compare-and-set on the version), announced on a channel, and applied by every instance when
 * the message arrives or when its periodic version check sees it. A stored version that fails
 * validation on an instance (written by another release) is not applied there; the instance
 * keeps its rules and counts the rejection.
 *
 * @internal
 */
export class LiveRuleControl implements LiveRules {
  ruleSet: RuleSet
  readonly #valkit: Valkit
  readonly #options: ResolvedRateLimiterOptions
  readonly #head: string
  readonly #rulesKey: string
  readonly #auditKey: string
  readonly #channel: string
  readonly #onApplied: (version: number | null) => void
  readonly #memoryAudit: RulesAuditEntry[] = []
  readonly #listener = (): void => void this.refresh().catch(() => {})
  #timer: NodeJS.Timeout | null = null
  #ready: Promise<void>
  #unhook: (() => void) | null = null
  #closed = false

  constructor(
    valkit: Valkit,
    options: ResolvedRateLimiterOptions,
    head: string,
    onApplied: (version: number | null) => void,
  ) {
    this.#valkit = valkit
    this.#options = options
    this.#head = head
    this.#onApplied = onApplied
    this.#rulesKey = valkit.keys.key('ratelimit', options.name, 'rules')
    this.#auditKey = valkit.keys.key('ratelimit', options.name, 'audit')
    this.#channel = this.#rulesKey
    this.ruleSet = this.#build(
      { rules: options.rules, allow: options.allow, deny: options.deny },
      0,
      'ratelimit',
    )
    this.#ready = Promise.resolve()
    if (options.live === null || this.#memoryOnly) return
    this.#ready = this.#start()
    this.#timer = setInterval(this.#listener, options.live.pollIntervalMs)
    this.#timer.unref()
    this.#unhook = valkit.supervisor.onRecover(() => this.refresh().then(() => {}))
  }

  get version(): number {
    return this.ruleSet.version
  }

  get #memoryOnly(): boolean {
    return this.#valkit.config.topology.kind === 'memory'
  }

  current(): RuleDocument {
    return this.ruleSet.document
  }

  ready(): Promise<void> {
    return this.#ready
  }

  async #start(): Promise<void> {
    try {
      await this.#valkit.connection.subscribe(this.#channel, this.#listener)
    } catch {
      // The periodic version check still brings updates.
    }
    await this.refresh().catch(() => {})
  }

  #build(document: RuleDocument, version: number, path: string): RuleSet {
    if (typeof document !== 'object' || document === null) {
      throw new ValkitError(
        'VALKIT_INVALID_OPTION',
        `Invalid option \`${path}\`: expected { rules, allow?, deny? }.`,
        {
          details: { path },
        },
      )
    }
    const copy: RuleDocument = JSON.parse(JSON.stringify(document)) as RuleDocument
    return new RuleSet(copy, this.#options.tag, this.#head, version, path)
  }

  async refresh(): Promise<number> {
    if (this.#options.live === null || this.#memoryOnly || this.#closed) return this.version
    const reply = (await this.#valkit.connection.command(['HMGET', this.#rulesKey, 'version', 'document'], {
      key: this.#rulesKey,
    })) as [string | null, string | null]
    const version = Number(reply[0] ?? 0)
    if (version <= this.version || reply[1] === null) return this.version
    let next: RuleSet
    try {
      next = this.#build(JSON.parse(reply[1]) as RuleDocument, version, 'stored rules')
    } catch (err) {
      this.#onApplied(null)
      this.#valkit.logger.warn(
        'ratelimit: a stored rules version is invalid here; keeping the rules in force',
        {
          limiter: this.#options.name,
          version,
          error: err instanceof Error ? err.message : String(err),
        },
      )
      return this.version
    }
    if (version > this.version) {
      this.ruleSet = next
      this.#onApplied(version)
    }
    return this.version
  }

  async update(document: RuleDocument, options: RulesUpdateOptions = {}): Promise<RulesUpdateResult> {
    if (this.#options.live === null) {
      throw new ValkitError(
        'VALKIT_INVALID_ARGUMENT',
        'Live rules are off for this limiter: create it with `live: true` to update rules at run time.',
        { details: { argument: 'live' } },
      )
    }
    // Validation first: a bad document throws here and nothing is stored or applied.
    const candidate = this.#build(document, this.version + 1, 'document')
    const entry = {
      actor: typeof options.actor === 'string' ? options.actor.slice(0, 200) : null,
      reason: typeof options.reason === 'string' ? options.reason.slice(0, 1000) : null,
      ...diff(this.ruleSet.document, candidate.document),
    }
    const expected = options.expectedVersion ?? -1
    if (this.#memoryOnly) {
      if (expected >= 0 && expected !== this.version)
        return { applied: false, reason: 'conflict', version: this.version }
      this.ruleSet = candidate
      this.#memoryAudit.unshift({ version: candidate.version, at: Date.now(), ...entry })
      this.#memoryAudit.length = Math.min(this.#memoryAudit.length, AUDIT_KEPT)
      this.#onApplied(candidate.version)
      return { applied: true, version: candidate.version }
    }
    const reply = (await runScript(
      this.#valkit.connection,
      PUBLISH_RULES,
      [this.#rulesKey, this.#auditKey],
      [expected, JSON.stringify(candidate.document), JSON.stringify(entry), this.#channel, AUDIT_KEPT],
    )) as [number, number]
    const version = Number(reply[1])
    if (Number(reply[0]) !== 1) return { applied: false, reason: 'conflict', version }
    if (version > this.version) {
      this.ruleSet = new RuleSet(candidate.document, this.#options.tag, this.#head, version, 'document')
      this.#onApplied(version)
    }
    return { applied: true, version }
  }

  async audit(limit = 20): Promise<readonly RulesAuditEntry[]> {
    const n = Math.max(1, Math.min(AUDIT_KEPT, Math.floor(limit)))
    if (this.#options.live === null) return []
    if (this.#memoryOnly) return this.#memoryAudit.slice(0, n)
    const reply = (await this.#valkit.connection.command(['LRANGE', this.#auditKey, 0, n - 1], {
      key: this.#auditKey,
    })) as string[]
    return reply.map((text) => {
      const e = JSON.parse(text) as Record<string, unknown>
      const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : [])
      return {
        version: Number(e.version),
        at: Number(e.at),
        actor: typeof e.actor === 'string' ? e.actor : null,
        reason: typeof e.reason === 'string' ? e.reason : null,
        added: list(e.added),
        removed: list(e.removed),
        changed: list(e.changed),
      }
    })
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#unhook?.()
    if (this.#options.live !== null && !this.#memoryOnly) {
      await this.#valkit.connection.unsubscribe(this.#channel, this.#listener).catch(() => {})
    }
  }
}

function diff(
  before: RuleDocument,
  after: RuleDocument,
): { added: string[]; removed: string[]; changed: string[] } {
  const a = before.rules
  const b = after.rules
  const added = Object.keys(b).filter((name) => !(name in a))
  const removed = Object.keys(a).filter((name) => !(name in b))
  const changed = Object.keys(b).filter(
    (name) => name in a && JSON.stringify(a[name]) !== JSON.stringify(b[name]),
  )
  if (JSON.stringify(before.allow ?? {}) !== JSON.stringify(after.allow ?? {})) changed.push('(allow)')
  if (JSON.stringify(before.deny ?? {}) !== JSON.stringify(after.deny ?? {})) changed.push('(deny)')
  return { added, removed, changed }
}
