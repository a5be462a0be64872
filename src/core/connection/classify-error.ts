/**
 * Turns a driver's or the system's error into a `ValkitError` with a stable code and a message
 * that says what to do. TLS causes are surfaced (a driver often reports them only as "closed").
 */
import { ValkitError } from '../errors.js'

const TLS_HINTS: Record<string, string> = {
  SELF_SIGNED_CERT_IN_CHAIN:
    "the server's certificate chain ends in a CA that is not trusted: pass `tls.ca` (or VALKIT_TLS_CA / VALKIT_TLS_CA_FILE)",
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the server presents a self-signed certificate: pass it as `tls.ca`',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    "the server's certificate is not signed by a trusted CA: pass the right `tls.ca`",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    "the issuer of the server's certificate is unknown: pass the right `tls.ca`",
  CERT_HAS_EXPIRED: "the server's certificate has expired: renew it",
  ERR_TLS_CERT_ALTNAME_INVALID:
    "the server's certificate does not name this host: connect by a name in its SAN or set `tls.servername`",
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED:
    'the server requires a client certificate: pass `tls.cert` and `tls.key`',
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE:
    'the server rejected the client certificate: check `tls.cert`/`tls.key` and the CA the server trusts',
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: 'the server does not trust the CA of the client certificate',
  ERR_SSL_WRONG_VERSION_NUMBER:
    'the server does not speak TLS on this port: use redis:// instead of rediss://, or the TLS port',
  ECONNRESET_TLS:
    'the server closed the connection during the TLS handshake: it may require TLS (use rediss://) or a client certificate',
}

function codeOf(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string')
    return err.code
  return undefined
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/** Finds the most telling error in a cause chain (a driver may wrap the socket's error). */
function rootCause(err: unknown): unknown {
  let current = err
  for (let depth = 0; depth < 5; depth++) {
    const code = codeOf(current)
    if (code !== undefined && (code in TLS_HINTS || code.startsWith('ERR_SSL') || code.startsWith('E')))
      return current
    if (current instanceof Error && current.cause !== undefined) current = current.cause
    else break
  }
  return err
}

/**
 * Classifies a connection-level failure (connect, handshake, auth) for `endpoint`.
 * Never includes credentials: `endpoint` is `host:port` only.
 */
export function classifyConnectError(err: unknown, endpoint: string, tls: boolean): ValkitError {
  if (err instanceof ValkitError) return err
  const cause = rootCause(err)
  const code = codeOf(cause) ?? ''
  const message = messageOf(cause)
  if (
    code in TLS_HINTS ||
    code.startsWith('ERR_SSL') ||
    code.startsWith('ERR_TLS') ||
    /certificate|SSL routines|handshake/i.test(message)
  ) {
    const hint =
      TLS_HINTS[code] ?? 'check the CA, the client certificate and key, and that the port speaks TLS'
    return new ValkitError(
      'VALKIT_TLS',
      `TLS handshake with ${endpoint} failed (${code || message}): ${hint}.`,
      {
        cause: err,
        details: { endpoint, tlsCode: code },
      },
    )
  }
  if (/^WRONGPASS|invalid username-password|invalid password/i.test(message)) {
    return new ValkitError(
      'VALKIT_AUTH',
      `Authentication to ${endpoint} failed: wrong username or password (WRONGPASS). Check \`username\`/\`password\` (or VALKIT_USERNAME / VALKIT_PASSWORD).`,
      {
        cause: err,
        details: { endpoint },
      },
    )
  }
  if (/^NOAUTH/i.test(message)) {
    return new ValkitError(
      'VALKIT_AUTH',
      `${endpoint} requires authentication (NOAUTH): set \`password\` (and \`username\` for an ACL user).`,
      {
        cause: err,
        details: { endpoint },
      },
    )
  }
  if (/^NOPERM/i.test(message)) {
    return new ValkitError(
      'VALKIT_AUTH',
      `The ACL user lacks a permission on ${endpoint} (${message}). Grant it with ACL SETUSER, e.g. +@read +@write +@scripting +info +ping +client.`,
      {
        cause: err,
        details: { endpoint },
      },
    )
  }
  if (code === 'ECONNRESET' && tls) {
    return new ValkitError(
      'VALKIT_TLS',
      `TLS connection to ${endpoint} was reset: ${TLS_HINTS.ECONNRESET_TLS}.`,
      { cause: err, details: { endpoint } },
    )
  }
  const what =
    code === 'ECONNREFUSED'
      ? 'connection refused (is the server running on that port?)'
      : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
        ? 'host name not found'
        : code === 'ETIMEDOUT' || /timeout/i.test(message)
          ? 'connection timed out'
          : message
  return new ValkitError('VALKIT_UNAVAILABLE', `Cannot reach ${endpoint}: ${what}.`, {
    cause: err,
    details: { endpoint, errno: code },
  })
}

/** Classifies an error a command rejected with. */
export function classifyCommandError(err: unknown, command: string): ValkitError {
  if (err instanceof ValkitError) return err
  const message = messageOf(err)
  if (/^NOPERM/.test(message)) {
    return new ValkitError('VALKIT_AUTH', `${command}: the ACL user lacks the permission (${message}).`, {
      cause: err,
      details: { command },
    })
  }
  if (/^(NOAUTH|WRONGPASS)/.test(message)) {
    return new ValkitError('VALKIT_AUTH', `${command}: not authenticated (${message.split(' ')[0]}).`, {
      cause: err,
      details: { command },
    })
  }
  if (/^READONLY/.test(message)) {
    return new ValkitError(
      'VALKIT_READONLY',
      `${command}: the server is a read-only replica now (a failover is in progress); retry shortly.`,
      {
        cause: err,
        details: { command },
      },
    )
  }
  if (/^NOREPLICAS/.test(message)) {
    return new ValkitError(
      'VALKIT_NOT_DURABLE',
      `${command}: not enough good replicas to accept writes (min-replicas-to-write).`,
      {
        cause: err,
        details: { command },
      },
    )
  }
  if (isConnectionError(err)) {
    if (wasNotSent(err)) {
      return new ValkitError(
        'VALKIT_UNAVAILABLE',
        `${command} not sent: the client is not connected (${message}).`,
        {
          cause: err,
          details: { command },
        },
      )
    }
    // The driver had accepted it: it may be in the server's hands already.
    return new ValkitError(
      'VALKIT_UNAVAILABLE',
      `${command}: the connection was lost before the reply (${message}); it may have been applied.`,
      { cause: err, details: { command, maybeApplied: true } },
    )
  }
  return new ValkitError('VALKIT_COMMAND', `${command}: ${message}`, { cause: err, details: { command } })
}

/** Error replies that mean "try again soon" (failover, loading, slot migration). */
export function isTransientReply(err: unknown): boolean {
  const message = messageOf(err)
  return /^(LOADING|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY|BUSY )/.test(message)
}

/** node-redis refused the command before writing it: the client was closed or offline, or never connected. */
function wasNotSent(err: unknown): boolean {
  const name = err instanceof Error ? err.name : ''
  return (
    name === 'ClientClosedError' ||
    name === 'ClientOfflineError' ||
    codeOf(err) === 'ECONNREFUSED' ||
    /^The client is (closed|offline)/.test(messageOf(err))
  )
}

/** The socket dropped or the client was not connected (not an error reply). */
export function isConnectionError(err: unknown): boolean {
  if (err instanceof ValkitError) return err.code === 'VALKIT_UNAVAILABLE'
  const name = err instanceof Error ? err.name : ''
  const code = codeOf(err) ?? ''
  const message = messageOf(err)
  return (
    name === 'SocketClosedUnexpectedlyError' ||
    name === 'ClientClosedError' ||
    name === 'ClientOfflineError' ||
    name === 'ConnectionTimeoutError' ||
    name === 'DisconnectsClientError' ||
    code === 'ECONNRESET' ||
    code === 'ECONNREFUSED' ||
    code === 'EPIPE' ||
    /Socket closed|client is closed|Connection is closed|offline|Disconnects client/i.test(message)
  )
}
