import { randomBytes } from 'node:crypto'
import type { MessageListener, Valkit } from '../../core/index.js'
import { decodeContextEvent, encodeContextEvent, type ContextEvent } from './context-event.js'

/** A change as announced to other instances (the origin is added by the channel). @internal */
export type ContextChange = ContextEvent extends infer E
  ? E extends ContextEvent
    ? Omit<E, 'origin'>
    : never
  : never

/** A change of another instance (probes never reach `onChange`). @internal */
export type RemoteChange = Exclude<ContextEvent, { kind: 'probe' }>

/** How long a probe waits for its own echo before it is sent again. */
const PROBE_WAIT_MS = 500

/**
 * The invalidation channel of one agent-context namespace: publishes this instance's changes
 * and hands other instances' changes to `onChange` (its own are ignored).
 *
 * `live` says whether the subscription is known to deliver: set when SUBSCRIBE was answered, or
 * (when that first attempt failed and the driver subscribes again on its own) when a probe this
 * instance published comes back. Until then process copies could miss a change. `onMissed` is
 * called when the subscriber connection alone dropped and came back (the driver's
 * `resubscribed` event): messages sent meanwhile are lost.
 *
 * @internal
 */
export class ContextChannel {
  private readonly origin = randomBytes(8).toString('hex')
  private readonly listener: MessageListener
  private readonly unhook: () => void
  private heardSelf: (() => void) | null = null
  private wake: (() => void) | null = null
  private closed = false
  /** The subscription is confirmed: copies may be kept. */
  live = false
  readonly subscribed: Promise<void>

  constructor(
    private readonly valkit: Valkit,
    private readonly channel: string,
    onChange: (change: RemoteChange) => void,
    onMissed: () => void,
  ) {
    this.listener = (message) => {
      const event = decodeContextEvent(message)
      if (event === undefined) return
      if (event.origin === this.origin) this.heardSelf?.()
      else if (event.kind !== 'probe') onChange(event)
    }
    this.unhook = valkit.driver.onEvent((event) => {
      if (event.type === 'resubscribed' && !this.closed) onMissed()
    })
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
    this.closed = true
    this.live = false
    this.unhook()
    this.heardSelf?.()
    this.wake?.()
    await this.valkit.connection.unsubscribe(this.channel, this.listener).catch(() => {})
  }

  private async subscribe(): Promise<void> {
    try {
      await this.valkit.connection.subscribe(this.channel, this.listener)
      if (!this.closed) this.live = true
      return
    } catch {
      // The driver keeps the channel and subscribes it again once its subscriber connection is
      // back; only a message of our own coming back through it proves that it delivers.
    }
    while (!this.closed) {
      await this.ready()
      if (this.closed) return
      const heard = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), PROBE_WAIT_MS)
        this.heardSelf = () => {
          clearTimeout(timer)
          resolve(true)
        }
      })
      this.publish({ kind: 'probe' })
      const echoed = await heard
      this.heardSelf = null
      if (echoed && !this.closed) {
        this.live = true
        return
      }
    }
  }

  /** Resolves when commands go to Redis/Valkey (or the channel closes). */
  private ready(): Promise<void> {
    if (this.valkit.supervisor.state === 'ready') return Promise.resolve()
    return new Promise<void>((resolve) => {
      const off = this.valkit.supervisor.onChange((change) => {
        if (change.to === 'ready') done()
      })
      const done = (): void => {
        off()
        this.wake = null
        resolve()
      }
      this.wake = done
    })
  }
}
