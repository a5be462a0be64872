import type { RedisReply } from './driver/port.js'

/**
 * A bulk string, status or number reply as text (UTF-8 for a `Buffer`); `''` for anything else
 * (`null`, an array). For replies read as text whatever the driver hands over.
 *
 * @example
 * ```ts
 * const owner = replyText(await valkit.connection.command(['GET', key])) // '' when missing
 * ```
 */
export function replyText(reply: RedisReply | undefined): string {
  if (typeof reply === 'string') return reply
  if (Buffer.isBuffer(reply)) return reply.toString()
  if (typeof reply === 'number' || typeof reply === 'bigint') return String(reply)
  return ''
}
