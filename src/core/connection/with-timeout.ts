/**
 * Races a one-off promise against a timer (connects, health probes). Not for the command
 * hot path, which uses `Deadlines`. The error carries `code: 'ETIMEDOUT'` so that
 * `classifyConnectError` reports it as a timeout.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  if (ms <= 0) return promise
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      const err = new Error(`${what}: no answer within ${ms} ms`) as Error & { code: string }
      err.code = 'ETIMEDOUT'
      reject(err)
    }, ms)
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (err: unknown) => {
        clearTimeout(timer)
        reject(err instanceof Error ? err : new Error(String(err)))
      },
    )
  })
}
