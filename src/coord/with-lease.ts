import { ValkitError } from '../core/index.js'
import type { AcquireResult, Lease, WithLockResult } from './lease-types.js'

/** A lease that can tell whether it was lost (not released by its holder). @internal */
export interface EndingLease extends Lease {
  readonly lost: boolean
}

/**
 * Runs `fn` under a lease and releases it after, whatever happens. Resolves
 * `{ acquired: false, reason }` when the lease was not granted. Rejects with `VALKIT_LOCK_LOST`
 * (the function's error, if any, as `cause`) when the lease was lost while `fn` ran; otherwise
 * with `fn`'s own error.
 *
 * @internal
 */
export async function withLease<T>(
  acquire: Promise<AcquireResult>,
  fn: (lease: Lease) => T | Promise<T>,
): Promise<WithLockResult<T>> {
  const got = await acquire
  if (!got.acquired) return got
  const lease = got.lease as EndingLease
  let value: T
  try {
    value = await fn(lease)
  } catch (err) {
    const released = await lease.release().catch(() => false)
    if (lease.lost || !released) throw lostError(lease, err)
    throw err
  }
  // A release that cannot reach the server is not the caller's failure: the lease held while
  // `fn` ran, and the grant runs out on its own.
  const released = await lease.release().catch(() => !lease.lost)
  if (lease.lost || !released) throw lostError(lease, undefined)
  return { acquired: true, value, token: lease.token }
}

function lostError(lease: EndingLease, cause: unknown): ValkitError {
  return new ValkitError(
    'VALKIT_LOCK_LOST',
    `The ${lease.kind} lease on "${lease.resource}" (token ${lease.token}) was lost while the function ran: its grant ran out or another owner took it. Writes fenced with its token are rejected; check what the function did unfenced.`,
    {
      ...(cause === undefined ? {} : { cause }),
      details: { resource: lease.resource, kind: lease.kind, token: lease.token },
    },
  )
}
