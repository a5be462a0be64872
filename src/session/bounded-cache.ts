/**
 * A `Map` bounded by entries: an insert past the bound drops the oldest entry (first in, first
 * out: a hit costs one lookup, no reordering; a hot entry dropped this way is simply computed
 * again once). `max` 0 keeps nothing.
 *
 * @internal
 */
export class BoundedCache<K, V> {
  private readonly map = new Map<K, V>()

  constructor(private readonly max: number) {}

  get(key: K): V | undefined {
    return this.map.get(key)
  }

  set(key: K, value: V): void {
    if (this.max === 0) return
    this.map.delete(key)
    this.map.set(key, value)
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as K)
  }

  delete(key: K): void {
    this.map.delete(key)
  }

  clear(): void {
    this.map.clear()
  }

  get size(): number {
    return this.map.size
  }
}
