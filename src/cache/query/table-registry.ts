import { ValkitError } from '../../core/index.js'
import {
  fires,
  isTriggerable,
  lookupTables,
  qualifiedName,
  type CatalogTable,
  type TriggerNames,
} from './catalog.js'
import type { TableName } from './identifiers.js'
import type { QueryCachePool } from './pg-types.js'

/** The tag of a table's cached results. @internal */
export function tableTag(qualified: string): string {
  return `pg:${qualified}`
}

/**
 * Resolves declared tables to `schema.table` and, for queries, checks once per process (again
 * after each reconnect) that each carries a firing trigger, installing it first with
 * `autoInstall`. Remembers every table this instance has cached results of.
 *
 * @internal
 */
export class TableRegistry {
  /** `schema.table` of every table a query of this instance declared. */
  readonly known = new Set<string>()
  /** Declared name (quoted form) → its verified `schema.table` (being verified: a promise). */
  private verified = new Map<string, string | Promise<string>>()

  constructor(
    private readonly pool: QueryCachePool,
    private readonly names: TriggerNames,
    private readonly autoInstall: boolean,
    private readonly install: (tables: readonly TableName[]) => Promise<readonly CatalogTable[]>,
  ) {}

  /**
   * `schema.table` of each declared table, each verified to carry a firing trigger: at once
   * (no promise) when every one was verified before, the common case.
   */
  forQuery(declared: readonly TableName[]): string[] | Promise<string[]> {
    const out: string[] = []
    for (const d of declared) {
      const known = this.verified.get(d.quoted)
      if (typeof known !== 'string') return this.forQuerySlow(declared)
      this.known.add(known)
      out.push(known)
    }
    return out
  }

  private async forQuerySlow(declared: readonly TableName[]): Promise<string[]> {
    const unknown = declared.filter((d) => !this.verified.has(d.quoted))
    if (unknown.length > 0) {
      const batch = this.verify(unknown)
      unknown.forEach((d, i) => {
        const one = batch.then((list) => list[i]!)
        const map = this.verified
        one.then(
          (q) => {
            if (map.get(d.quoted) === one) map.set(d.quoted, q)
          },
          () => {
            if (map.get(d.quoted) === one) map.delete(d.quoted)
          },
        )
        map.set(d.quoted, one)
      })
    }
    const qualified = await Promise.all(declared.map(async (d) => this.verified.get(d.quoted)!))
    for (const q of qualified) this.known.add(q)
    return qualified
  }

  /** `schema.table` of each declared table, without checking its trigger (a lookup only for unqualified names not seen yet). */
  async resolve(declared: readonly TableName[]): Promise<string[]> {
    const out = new Array<string>(declared.length)
    const lookup: number[] = []
    declared.forEach((d, i) => {
      const known = this.verified.get(d.quoted)
      if (typeof known === 'string') out[i] = known
      else if (d.schema !== undefined) out[i] = qualifiedName(d.schema, d.table)
      else lookup.push(i)
    })
    if (lookup.length > 0) {
      const found = await lookupTables(
        { pool: this.pool },
        lookup.map((i) => declared[i]!),
        this.names,
      )
      const missing = found.filter((t) => t.schema === undefined)
      if (missing.length > 0) throw notVisible(missing, 'invalidate()')
      lookup.forEach((i, j) => (out[i] = qualifiedName(found[j]!.schema!, found[j]!.table!)))
    }
    return out
  }

  /** Remembers tables just installed as verified. */
  installed(tables: readonly CatalogTable[]): void {
    for (const t of tables) {
      if (t.schema !== undefined && t.table !== undefined) {
        this.verified.set(t.declared.quoted, qualifiedName(t.schema, t.table))
      }
    }
  }

  /** Forgets every verification (after an uninstall, or a reconnect: triggers may have changed). */
  forgetVerified(): void {
    this.verified = new Map()
  }

  private async verify(declared: readonly TableName[]): Promise<string[]> {
    let tables = await lookupTables({ pool: this.pool }, declared, this.names)
    const missing = tables.filter((t) => t.schema === undefined)
    if (missing.length > 0) throw notVisible(missing, 'query()')
    const wrongKind = tables.filter((t) => !isTriggerable(t.kind))
    if (wrongKind.length > 0) throw notTable(wrongKind)
    const silent = tables.filter((t) => !fires(t))
    if (silent.length > 0) {
      if (!this.autoInstall) throw notInstalled(silent, this.names)
      const installed = await this.install(silent.map((t) => t.declared))
      const byName = new Map(installed.map((t) => [t.declared.quoted, t]))
      tables = tables.map((t) => byName.get(t.declared.quoted) ?? t)
    }
    return tables.map((t) => qualifiedName(t.schema!, t.table!))
  }
}

function list(tables: readonly CatalogTable[]): string {
  return tables.map((t) => t.declared.quoted).join(', ')
}

function notVisible(tables: readonly CatalogTable[], call: string): ValkitError {
  return new ValkitError(
    'VALKIT_INVALID_ARGUMENT',
    `${call}: no table ${list(tables)} is visible to the pool's connections (check the schema, the ` +
      'search_path and the spelling: names are case-sensitive as stored in the catalog).',
    { details: { argument: 'tables' } },
  )
}

function notTable(tables: readonly CatalogTable[]): ValkitError {
  return new ValkitError(
    'VALKIT_INVALID_ARGUMENT',
    `query(): ${list(tables)} is not a table or partitioned table, so writes to it cannot be seen; ` +
      'declare the tables it reads from instead (for a view: its base tables).',
    { details: { argument: 'tables' } },
  )
}

function notInstalled(tables: readonly CatalogTable[], names: TriggerNames): ValkitError {
  const quoted = tables.map((t) => `'${qualifiedName(t.schema!, t.table!)}'`).join(', ')
  return new ValkitError(
    'VALKIT_INVALID_ARGUMENT',
    `query(): ${list(tables)} carries no enabled "${names.channel}" trigger, so its results could ` +
      `not be invalidated. Run queryCache.install({ tables: [${quoted}] }) (from a migration or ` +
      'at deploy), or create the query cache with autoInstall: true.',
    { details: { argument: 'tables' } },
  )
}
