/** Number of hash slots of a Redis/Valkey Cluster. */
export const CLUSTER_SLOTS = 16384

const CRC16_TABLE = (() => {
  const table = new Uint16Array(256)
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
    table[byte] = crc
  }
  return table
})()

/**
 * CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), the checksum Redis Cluster hashes keys with.
 * `crc16(Buffer.from('123456789')) === 0x31c3`.
 */
export function crc16(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0
  for (let i = start; i < end; i++)
    crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ bytes[i]!) & 0xff]!
  return crc
}

const OPEN_BRACE = 0x7b
const CLOSE_BRACE = 0x7d

/**
 * The Cluster hash slot of a key, per the Redis Cluster specification: when the key holds a `{`
 * followed later by a `}` with at least one byte between them, only those bytes (the first such
 * hash tag) are hashed; otherwise the whole key. Strings are hashed as UTF-8.
 *
 * @example
 * ```ts
 * slotOf('foo') // 12182
 * slotOf('{user1000}.following') === slotOf('{user1000}.followers') // true
 * ```
 */
export function slotOf(key: string | Uint8Array): number {
  const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : key
  const open = bytes.indexOf(OPEN_BRACE)
  if (open !== -1) {
    const close = bytes.indexOf(CLOSE_BRACE, open + 1)
    if (close > open + 1) return crc16(bytes, open + 1, close) & (CLUSTER_SLOTS - 1)
  }
  return crc16(bytes) & (CLUSTER_SLOTS - 1)
}
