import { randomBytes } from 'node:crypto'
import type { MessageListener, Valkit } from '../../core/index.js'
import { decodeContextEvent, encodeContextEvent, type ContextEvent } from './context-event.js'

/** A change as announced to other instances (the origin is added by the channel). @internal */
export type ContextChange = ContextEvent extends infer E
  ? E extends ContextEvent
    ? Omit<E, 'origin'>
    : never
  : never

/**
 * The invalidation channel of one agent-context namespace: publishes this instance's changes
 * and hands other instances' changes to `onChange` (its own are ignored).
 *
 * @internal
 */
export class ContextChannel {
  private readonly origin = randomBytes(8).toString('hex')
  private readonly listener: MessageListener
  readonly subscribed: Promise<void>

  constructor(
    private readonly valkit: Valkit,
    private readonly channel: string,
    onChange: (change: ContextEvent) => void,
  ) {
    this.listener = (message) => {
      const event = decodeContextEvent(message)
      if (event !== undefined && event.origin !== this.origin) onChange(event)
    }
    this.subscribed = this.subscribe()
  }

  /** Sends a change, after its script replied, on the same connection: never received before it is visible. */
  publish(change: ContextChange): void {
    const message = encodeContextEvent({ ...change, origin: this.origin })
    this.valkit.connection.command(['PUBLISH', this.channel, message], { key: this.channel }).catch(() => {
      // Lost: other instances keep an old copy at most l1.ttl, or until they read with minVersion.
    })
  }

  async close(): Promise<void> {
    await this.valkit.connection.unsubscribe(this.channel, this.listener).catch(() => {})
  }

  private async subscribe(): Promise<void> {
    try {
      await this.valkit.connection.subscribe(this.channel, this.listener)
    } catch {
      // The driver subscribes the channel again once its subscriber connection is back.
      await new Promise<void>((resolve) => {
        const off = this.valkit.supervisor.onChange((change) => {
          if (change.to !== 'ready') return
          off()
          resolve()
        })
      })
    }
  }
}
