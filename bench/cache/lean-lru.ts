/**
 * The ceiling of an in-process cache read: a `Map` in LRU order (a hit moves the entry to the
 * end; an insert past `maxEntries` drops the oldest) behind an `async get`. No TTL checks, no
 * events, no options object per call: what any L1 read must at least cost.
 */
export class LeanAsyncLru {
  readonly #entries = new Map<string, unknown>()

  constructor(readonly maxEntries: number) {}

  // Async on purpose: the other caches' reads return promises, so this one pays for one too.
  async get(key: string): Promise<unknown> {
    const value = this.#entries.get(key)
    if (value === undefined) return undefined
    this.#entries.delete(key)
    this.#entries.set(key, value)
    return value
  }

  set(key: string, value: unknown): void {
    this.#entries.delete(key)
    this.#entries.set(key, value)
    if (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next()
      if (oldest.done !== true) this.#entries.delete(oldest.value)
    }
  }
}
