/**
 * The driver of the memory topology: never connected. Commands fail fast with a clear
 * reason; capabilities use their memory backend instead.
 */
import type { DriverEvent, DriverPort, NodeCommander, RedisReply } from './port.js'

const NO_SERVER = 'no Redis/Valkey configured (memory backend): set VALKIT_REDIS_URL or pass `url`'

export class NullDriver implements DriverPort {
  readonly name = 'memory'
  readonly isReady = false
  readonly endpoint = null
  readonly lastError = new Error(NO_SERVER)

  connect(): Promise<void> {
    return Promise.resolve()
  }
  command(): Promise<RedisReply> {
    return Promise.reject(new Error(NO_SERVER))
  }
  pipeline(): Promise<(RedisReply | Error)[]> {
    return Promise.reject(new Error(NO_SERVER))
  }
  subscribe(): Promise<void> {
    return Promise.resolve()
  }
  unsubscribe(): Promise<void> {
    return Promise.resolve()
  }
  ssubscribe(): Promise<void> {
    return Promise.resolve()
  }
  sunsubscribe(): Promise<void> {
    return Promise.resolve()
  }
  async duplicate(): Promise<DriverPort> {
    return new NullDriver()
  }
  async masters(): Promise<NodeCommander[]> {
    return []
  }
  onEvent(_listener: (event: DriverEvent) => void): () => void {
    return () => {}
  }
  reconnect(): void {}
  close(): Promise<void> {
    return Promise.resolve()
  }
}
