import { setTimeout as sleep } from 'node:timers/promises'
import { ValkitError } from '../core/errors.js'

/** Options of {@link waitFor}. */
export interface WaitForOptions {
  /** @defaultValue `10000` */
  readonly timeoutMs?: number
  /** @defaultValue `50` */
  readonly intervalMs?: number
  /** Named in the timeout error: "timed out waiting for <what>". @defaultValue `'condition'` */
  readonly what?: string
}

/**
 * Polls `check` until it returns a value other than `undefined`/`false` (errors thrown by
 * `check` count as "not yet") and resolves with it. Rejects with `VALKIT_LAUNCHER` on timeout,
 * with the last error as cause. Use it instead of sleeping in tests.
 *
 * @example
 * ```ts
 * await waitFor(async () => (await server.command('DBSIZE')) === 0, { what: 'empty db' })
 * ```
 */
export async function waitFor<T>(
  check: () => T | false | undefined | Promise<T | false | undefined>,
  options: WaitForOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000
  const intervalMs = options.intervalMs ?? 50
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      const value = await check()
      if (value !== undefined && value !== false) return value
    } catch (err) {
      lastError = err
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : ''
      throw new ValkitError(
        'VALKIT_LAUNCHER',
        `timed out after ${timeoutMs} ms waiting for ${options.what ?? 'condition'}${why}`,
        lastError === undefined ? undefined : { cause: lastError },
      )
    }
    await sleep(intervalMs)
  }
}
