/**
 * Listeners per pub/sub channel, shared by the adapters: the adapter subscribes on the wire
 * when a channel gets its first listener and unsubscribes when it loses its last, and
 * resubscribes every channel here after a reconnect.
 */
import type { MessageListener } from './port.js'

export class ChannelRegistry {
  readonly #channels = new Map<string, Set<MessageListener>>()

  /** Adds a listener; true when the channel is new (subscribe on the wire). */
  add(channel: string, listener: MessageListener): boolean {
    const set = this.#channels.get(channel)
    if (set !== undefined) {
      set.add(listener)
      return false
    }
    this.#channels.set(channel, new Set([listener]))
    return true
  }

  /** Removes one listener, or all of the channel's; true when the channel has none left (unsubscribe on the wire). */
  remove(channel: string, listener?: MessageListener): boolean {
    const set = this.#channels.get(channel)
    if (set === undefined) return false
    if (listener) set.delete(listener)
    else set.clear()
    if (set.size > 0) return false
    this.#channels.delete(channel)
    return true
  }

  /** Delivers a message to the channel's listeners. */
  dispatch(channel: Buffer | string, message: Buffer): void {
    const name = typeof channel === 'string' ? channel : channel.toString()
    const set = this.#channels.get(name)
    if (set === undefined) return
    for (const listener of set) listener(message, name)
  }

  channels(): IterableIterator<string> {
    return this.#channels.keys()
  }
}
