/** The part of redlock 5 this benchmark uses: its package exports no types under NodeNext resolution. */
declare module 'redlock' {
  import type { Redis } from 'ioredis'
  export interface Lock {
    release(): Promise<unknown>
  }
  export default class Redlock {
    constructor(clients: Iterable<Redis>, settings?: Record<string, number>)
    acquire(resources: string[], duration: number, settings?: Record<string, number>): Promise<Lock>
    on(event: 'error', listener: (err: unknown) => void): this
  }
}
