import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import {
  ErrorReply,
  SocketClosedUnexpectedlyError,
  ClientClosedError,
  ClientOfflineError,
} from '@redis/client'
import {
  classifyCommandError,
  classifyConnectError,
  isConnectionError,
  isTransientReply,
} from '../../src/core/connection/classify-error.js'
import { ValkitError, type ValkitErrorCode } from '../../src/core/errors.js'

/** An error as Node's net/tls layer makes it: a message and a `code`. */
function sysError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code })
}

const ENDPOINT = '127.0.0.1:6380'

function connectCode(err: unknown, tls = false): { code: ValkitErrorCode; message: string } {
  const e = classifyConnectError(err, ENDPOINT, tls)
  assert.ok(e instanceof ValkitError)
  return { code: e.code, message: e.message }
}

void describe('classifyConnectError', () => {
  void it('an untrusted CA is VALKIT_TLS, names the endpoint and says to pass tls.ca', () => {
    const cause = sysError('SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain')
    const e = classifyConnectError(cause, ENDPOINT, true)
    assert.equal(e.code, 'VALKIT_TLS')
    assert.match(e.message, /127\.0\.0\.1:6380/)
    assert.match(e.message, /tls\.ca/)
    assert.match(e.message, /SELF_SIGNED_CERT_IN_CHAIN/)
    assert.equal(e.cause, cause)
    assert.equal(e.details?.tlsCode, 'SELF_SIGNED_CERT_IN_CHAIN')
  })

  void it('maps each known TLS failure to VALKIT_TLS with a specific hint', () => {
    const cases: [string, string, RegExp][] = [
      ['DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate', /self-signed/],
      ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate', /tls\.ca/],
      ['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'unable to get local issuer certificate', /issuer/],
      ['CERT_HAS_EXPIRED', 'certificate has expired', /expired/],
      ['ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames", /servername|SAN/],
      [
        'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
        'C0:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required',
        /client certificate/,
      ],
      ['ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'sslv3 alert bad certificate', /client certificate/],
      ['ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'tlsv1 alert unknown ca', /CA/],
      ['ERR_SSL_WRONG_VERSION_NUMBER', 'wrong version number', /redis:\/\//],
    ]
    for (const [code, message, hint] of cases) {
      const got = connectCode(sysError(code, message), true)
      assert.equal(got.code, 'VALKIT_TLS', code)
      assert.match(got.message, hint, code)
      assert.match(got.message, /127\.0\.0\.1:6380/, code)
    }
  })

  void it('finds the TLS cause inside a driver error that wraps it', () => {
    const inner = sysError('SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain')
    const outer = new Error('Connection is closed.', { cause: inner })
    const got = classifyConnectError(outer, ENDPOINT, true)
    assert.equal(got.code, 'VALKIT_TLS')
    assert.match(got.message, /SELF_SIGNED_CERT_IN_CHAIN/)
    assert.equal(got.cause, outer)
  })

  void it('an unknown TLS library error is still VALKIT_TLS with a generic hint', () => {
    const got = connectCode(sysError('ERR_SSL_SOMETHING_NEW', 'ssl went wrong'), true)
    assert.equal(got.code, 'VALKIT_TLS')
    assert.match(got.message, /CA|certificate/)
  })

  void it('a reset during a TLS connect is VALKIT_TLS; without TLS it is VALKIT_UNAVAILABLE', () => {
    const reset = () => sysError('ECONNRESET', 'read ECONNRESET')
    assert.equal(connectCode(reset(), true).code, 'VALKIT_TLS')
    assert.equal(connectCode(reset(), false).code, 'VALKIT_UNAVAILABLE')
  })

  void it('WRONGPASS, NOAUTH and NOPERM are VALKIT_AUTH', () => {
    const wrong = connectCode(new ErrorReply('WRONGPASS invalid username-password pair or user is disabled.'))
    assert.equal(wrong.code, 'VALKIT_AUTH')
    assert.match(wrong.message, /WRONGPASS/)
    const legacy = connectCode(new Error('ERR invalid password'))
    assert.equal(legacy.code, 'VALKIT_AUTH')
    const noauth = connectCode(new ErrorReply('NOAUTH Authentication required.'))
    assert.equal(noauth.code, 'VALKIT_AUTH')
    assert.match(noauth.message, /password/)
    const noperm = connectCode(new ErrorReply("NOPERM User app has no permissions to run the 'info' command"))
    assert.equal(noperm.code, 'VALKIT_AUTH')
    assert.match(noperm.message, /ACL SETUSER/)
  })

  void it('refused, unknown host and timeouts are VALKIT_UNAVAILABLE and say which', () => {
    const refused = connectCode(sysError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:6380'))
    assert.equal(refused.code, 'VALKIT_UNAVAILABLE')
    assert.match(refused.message, /refused/)
    assert.match(refused.message, /127\.0\.0\.1:6380/)
    const dns = connectCode(sysError('ENOTFOUND', 'getaddrinfo ENOTFOUND cache.internal'))
    assert.match(dns.message, /host name not found/)
    const slow = connectCode(sysError('ETIMEDOUT', 'connect to 127.0.0.1:6380: no answer within 2000 ms'))
    assert.match(slow.message, /timed out/)
  })

  void it('passes a ValkitError through unchanged', () => {
    const original = new ValkitError('VALKIT_AUTH', 'already classified')
    assert.equal(classifyConnectError(original, ENDPOINT, false), original)
  })

  void it('never puts anything but the endpoint it was given in the message', () => {
    // The driver's error text may echo a URL with a password; the endpoint passed is host:port only.
    const e = classifyConnectError(
      sysError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:6380'),
      ENDPOINT,
      false,
    )
    assert.equal(e.details?.endpoint, ENDPOINT)
  })
})

void describe('classifyCommandError', () => {
  const classify = (err: unknown) => classifyCommandError(err, 'SET')

  void it('ACL and auth errors are VALKIT_AUTH and keep the server reply as cause', () => {
    const reply = new ErrorReply("NOPERM User app has no permissions to run the 'flushall' command")
    const e = classify(reply)
    assert.equal(e.code, 'VALKIT_AUTH')
    assert.match(e.message, /^SET: /)
    assert.match(e.message, /NOPERM/)
    assert.equal(e.cause, reply)
    assert.equal(e.details?.command, 'SET')
    assert.equal(classify(new ErrorReply('NOAUTH Authentication required.')).code, 'VALKIT_AUTH')
    assert.equal(classify(new ErrorReply('WRONGPASS invalid username-password pair')).code, 'VALKIT_AUTH')
  })

  void it('READONLY (a replica, a failover) is VALKIT_READONLY', () => {
    const e = classify(new ErrorReply("READONLY You can't write against a read only replica."))
    assert.equal(e.code, 'VALKIT_READONLY')
    assert.match(e.message, /retry/)
  })

  void it('NOREPLICAS (min-replicas-to-write) is VALKIT_NOT_DURABLE', () => {
    assert.equal(
      classify(new ErrorReply('NOREPLICAS Not enough good replicas to write.')).code,
      'VALKIT_NOT_DURABLE',
    )
  })

  void it("a dropped connection is VALKIT_UNAVAILABLE, for node-redis's and ioredis's errors", () => {
    for (const err of [
      new SocketClosedUnexpectedlyError(),
      new ClientClosedError(),
      new ClientOfflineError(),
      new Error('Connection is closed.'),
      sysError('ECONNRESET', 'read ECONNRESET'),
      sysError('EPIPE', 'write EPIPE'),
    ]) {
      const e = classify(err)
      assert.equal(e.code, 'VALKIT_UNAVAILABLE', err.message)
    }
  })

  void it('a connection lost with the command in flight says it may have been applied; one refused before sending does not', () => {
    for (const err of [
      new SocketClosedUnexpectedlyError(),
      new Error('Connection is closed.'),
      sysError('ECONNRESET', 'read ECONNRESET'),
      sysError('EPIPE', 'write EPIPE'),
    ]) {
      const e = classify(err)
      assert.match(e.message, /connection was lost before the reply.*may have been applied/, err.message)
      assert.equal(e.details?.maybeApplied, true, err.message)
    }
    for (const err of [new ClientClosedError(), new ClientOfflineError()]) {
      const e = classify(err)
      assert.match(e.message, /not sent/, err.message)
      assert.equal(e.details?.maybeApplied, undefined, err.message)
    }
  })

  void it('any other error reply is VALKIT_COMMAND prefixed with the command', () => {
    const e = classify(new ErrorReply('WRONGTYPE Operation against a key holding the wrong kind of value'))
    assert.equal(e.code, 'VALKIT_COMMAND')
    assert.equal(e.message, 'SET: WRONGTYPE Operation against a key holding the wrong kind of value')
    assert.equal(classify('a string thrown').code, 'VALKIT_COMMAND')
  })

  void it('does not misread an error reply that merely mentions a keyword mid-text', () => {
    assert.equal(
      classify(new ErrorReply('ERR value is not an integer or out of range')).code,
      'VALKIT_COMMAND',
    )
    assert.equal(classify(new ErrorReply("ERR unknown command 'READONLY'")).code, 'VALKIT_COMMAND')
  })

  void it('passes a ValkitError through unchanged', () => {
    const original = new ValkitError('VALKIT_TIMEOUT', 'x')
    assert.equal(classify(original), original)
  })
})

void describe('isTransientReply / isConnectionError', () => {
  void it('recognises the replies that mean "try again soon"', () => {
    for (const m of [
      'LOADING Redis is loading the dataset in memory',
      'TRYAGAIN Multiple keys request during rehashing of slot',
      'CLUSTERDOWN The cluster is down',
      'MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to no',
      "READONLY You can't write against a read only replica.",
      'BUSY Redis is busy running a script.',
    ]) {
      assert.ok(isTransientReply(new ErrorReply(m)), m)
    }
    for (const m of [
      'ERR syntax error',
      'WRONGTYPE x',
      'NOSCRIPT No matching script',
      'BUSYKEY Target key name already exists.',
    ]) {
      assert.ok(!isTransientReply(new ErrorReply(m)), m)
    }
  })

  void it('tells a dropped connection from an error reply', () => {
    assert.ok(isConnectionError(new SocketClosedUnexpectedlyError()))
    assert.ok(isConnectionError(sysError('ECONNREFUSED', 'connect ECONNREFUSED')))
    assert.ok(isConnectionError(new ValkitError('VALKIT_UNAVAILABLE', 'down')))
    assert.ok(!isConnectionError(new ValkitError('VALKIT_TIMEOUT', 'slow')))
    assert.ok(!isConnectionError(new ErrorReply('ERR syntax error')))
  })
})
