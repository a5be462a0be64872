/**
 * The one catalogue of valkit error codes. A code is never reused or renamed once released;
 * `docs/errors.md` documents each one and what to do about it.
 */
export const ERROR_CODES = {
  /** An option has a value valkit cannot use; the message names the option's path and what is valid. */
  VALKIT_INVALID_OPTION: 'An option has an invalid value.',
  /** A call's argument is invalid (wrong type, out of range, empty key...). */
  VALKIT_INVALID_ARGUMENT: 'An argument has an invalid value.',
  /** The admin API was asked for a queue or a job it does not have (HTTP 404). */
  VALKIT_NOT_FOUND: 'No such queue or job.',
  /** The admin API was asked for an action the job's state does not allow, or the job changed meanwhile (HTTP 409). */
  VALKIT_CONFLICT: 'The action does not fit the current state.',
  /** Redis/Valkey is not reachable and the call has no fallback (or the offline queue is off or full). */
  VALKIT_UNAVAILABLE: 'The server is not reachable.',
  /** A command did not complete within its deadline. */
  VALKIT_TIMEOUT: 'A command timed out.',
  /** The connection was closed by `close()` while the call was pending, or a call was made after it. */
  VALKIT_CLOSED: 'The client is closed.',
  /** The server refused the credentials (WRONGPASS) or the ACL user lacks a permission (NOPERM). */
  VALKIT_AUTH: 'Authentication or authorization failed.',
  /** TLS handshake failed: unknown CA, expired or missing client certificate, host name mismatch. */
  VALKIT_TLS: 'The TLS handshake failed.',
  /** The server answered with an error reply. */
  VALKIT_COMMAND: 'The server returned an error.',
  /** A stored value could not be decoded: corrupted, tampered or written with an unknown key. */
  VALKIT_CORRUPT_VALUE: 'A stored value is corrupted or was tampered with.',
  /** Encryption was asked for a key id the keyring does not hold. */
  VALKIT_UNKNOWN_KEY: 'The keyring has no key with that id.',
  /** A value is larger than the configured limit. */
  VALKIT_VALUE_TOO_LARGE: 'A value exceeds the size limit.',
  /** A Lua script failed or is malformed. */
  VALKIT_SCRIPT: 'A Lua script failed.',
  /** A write could not be confirmed on the requested number of replicas (durable writes, WAIT). */
  VALKIT_NOT_DURABLE: 'The write was not confirmed by enough replicas.',
  /** The server is read-only or not the master the client expected (failover in progress). */
  VALKIT_READONLY: 'The server is not a writable master.',
  /** The test launcher could not start or stop a server. */
  VALKIT_LAUNCHER: 'The test launcher failed.',
  /** The admin API refused a request without a valid bearer token. */
  VALKIT_UNAUTHORIZED: 'A valid admin token is required.',
  /** A lock, permit or leadership held by this process was lost: its grant ran out or another owner has it. */
  VALKIT_LOCK_LOST: 'A lock held by this process was lost.',
  /** A lock wait was aborted to break a deadlock: it closed a cycle of agents waiting for each other. */
  VALKIT_DEADLOCK: 'A lock wait was aborted to break a deadlock.',
  /** A local journal (the queue's while Redis is down) would pass its `maxBytes`, or its disk is full. */
  VALKIT_JOURNAL_FULL: 'The local journal is full.',
  /** A queue at its `maxLength` refused jobs (overflow `reject`, or `backpressure` past its timeout). */
  VALKIT_QUEUE_FULL: 'The queue is full.',
  /** A job's attempt ran past its `timeout`; the attempt failed and its signal aborted. */
  VALKIT_JOB_TIMEOUT: 'A job ran past its timeout.',
  /** A job's lease ran out too many times (its worker died or froze); it went to the dead letters. */
  VALKIT_JOB_STALLED: 'A job stalled too many times.',
} as const

export type ValkitErrorCode = keyof typeof ERROR_CODES

/**
 * Every error valkit throws or rejects with. `code` is stable and documented in
 * `docs/errors.md`; `cause` carries the driver's or the system's original error.
 *
 * @example
 * ```ts
 * try { await valkit.connection.command(['GET', 'k']) }
 * catch (err) { if (err instanceof ValkitError && err.code === 'VALKIT_TIMEOUT') retryLater() }
 * ```
 */
export class ValkitError extends Error {
  readonly code: ValkitErrorCode
  /** Extra machine-readable facts (the option path, the timeout, ...). Never holds a secret. */
  readonly details: Readonly<Record<string, unknown>> | undefined

  constructor(
    code: ValkitErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.details = options?.details
  }
}

/** Type guard that also narrows by code. */
export function isValkitError(err: unknown, code?: ValkitErrorCode): err is ValkitError {
  return err instanceof ValkitError && (code === undefined || err.code === code)
}

/** Shorthand for the most common error: an option with an invalid value. */
export function invalidOption(path: string, problem: string, expected: string): ValkitError {
  return new ValkitError(
    'VALKIT_INVALID_OPTION',
    `Invalid option \`${path}\`: ${problem}. Expected ${expected}.`,
    {
      details: { path, expected },
    },
  )
}
