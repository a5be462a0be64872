import { slotOf, type NodeCommander, type RedisReply } from '../core/index.js'
import { withTimeout } from '../core/connection/with-timeout.js'
import type { ClearProgress } from './cache-types.js'

/** Keys per SCAN page. */
const SCAN_COUNT = 1000

/**
 * Deletes every key matching `pattern` on every master: SCAN + UNLINK, one UNLINK per slot of a
 * page (keys of one namespace share a slot; sub-namespaces have their own). Each call to a node
 * is bounded by `timeoutMs`. Resolves with the number of keys deleted.
 *
 * @internal
 */
export async function clearKeys(
  masters: readonly NodeCommander[],
  pattern: string,
  timeoutMs: number,
  onProgress?: (progress: ClearProgress) => void,
): Promise<number> {
  let scanned = 0
  let deleted = 0
  for (const node of masters) {
    const call = (args: (string | number)[]): Promise<RedisReply> =>
      withTimeout(node.command(args), timeoutMs, `${String(args[0])} on ${node.address}`)
    let cursor = '0'
    do {
      const reply = (await call(['SCAN', cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT])) as [
        string,
        string[],
      ]
      cursor = String(reply[0])
      const keys = reply[1]
      scanned += keys.length
      const bySlot = new Map<number, string[]>()
      for (const key of keys) {
        const slot = slotOf(key)
        const group = bySlot.get(slot)
        if (group === undefined) bySlot.set(slot, [key])
        else group.push(key)
      }
      const counts = await Promise.all([...bySlot.values()].map((group) => call(['UNLINK', ...group])))
      for (const count of counts) deleted += Number(count)
      onProgress?.({ scanned, deleted })
    } while (cursor !== '0')
  }
  return deleted
}
