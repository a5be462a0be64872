/** Capped exponential backoff, with optional full jitter (a uniform draw in [0, cap)). */
export interface BackoffPolicy {
  readonly initialDelayMs: number
  readonly maxDelayMs: number
  readonly jitter: 'full' | 'none'
}

/**
 * Delay before attempt `attempt` (1-based). With full jitter the delay is drawn uniformly
 * from [0, min(max, initial * 2^(attempt-1))], which spreads reconnecting clients apart.
 */
export function backoffDelay(
  policy: BackoffPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const exp = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.min(30, Math.max(0, attempt - 1)))
  return policy.jitter === 'full' ? Math.floor(random() * exp) : exp
}
