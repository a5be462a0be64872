/**
 * One L1 entry. `tagKeys` are tag index keys (`namespace \0 tag`) so a tag invalidation can
 * find the entry; `negative` marks "the loader found nothing". `freshUntil` (Unix ms) is set
 * when the entry is kept past its TTL to be served stale; `0` means fresh for as long as L1
 * keeps it. `epoch` is the runtime's epoch when the entry was made: an entry of an older epoch
 * may have missed invalidations during an outage and is revalidated before it is trusted.
 *
 * @internal
 */
export class L1Entry {
  constructor(
    readonly value: unknown,
    readonly negative: boolean,
    readonly tagKeys: readonly string[] | null,
    readonly freshUntil: number,
    readonly epoch: number,
  ) {}
}
