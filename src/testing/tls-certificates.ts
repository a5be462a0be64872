import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ValkitError } from '../core/errors.js'

const run = promisify(execFile)

/** Certificates generated for a TLS test server; PEM text and the files it was written to. */
export interface TlsMaterial {
  /** The CA certificate (PEM) that signed both the server and the client certificate. */
  readonly ca: string
  /** The client certificate (PEM), signed by `ca`, usable for `tls-auth-clients yes`. */
  readonly cert: string
  /** The client certificate's private key (PEM). */
  readonly key: string
  readonly caFile: string
  readonly certFile: string
  readonly keyFile: string
  /** The server certificate (SAN `DNS:localhost,IP:127.0.0.1`) and its key, as files. */
  readonly serverCertFile: string
  readonly serverKeyFile: string
}

async function openssl(dir: string, args: string[]): Promise<void> {
  try {
    await run('openssl', args, { cwd: dir })
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? ''
    throw new ValkitError(
      'VALKIT_LAUNCHER',
      `openssl ${args[0] ?? ''} failed: ${stderr.trim() || String(err)}`,
      {
        cause: err,
      },
    )
  }
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']

/**
 * Generates, with the `openssl` binary, a throw-away CA, a server certificate for
 * `localhost` / `127.0.0.1` and a client certificate, into `dir`. Valid for two days.
 *
 * @example
 * ```ts
 * const tls = await generateTlsCertificates(dir)
 * tls.connect({ port, ca: tls.ca, cert: tls.cert, key: tls.key })
 * ```
 */
export async function generateTlsCertificates(dir: string): Promise<TlsMaterial> {
  const days = ['-days', '2']
  await openssl(dir, [
    'req',
    '-x509',
    ...EC,
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    ...days,
    '-subj',
    '/CN=valkit-test-ca',
  ])
  await writeFile(
    join(dir, 'server.ext'),
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n',
  )
  await writeFile(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n')
  const request = (name: string, cn: string): Promise<void> =>
    openssl(dir, [
      'req',
      '-new',
      ...EC,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      `/CN=${cn}`,
    ])
  await Promise.all([request('server', 'localhost'), request('client', 'valkit-test-client')])
  for (const name of ['server', 'client']) {
    await openssl(dir, [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      ...days,
      '-extfile',
      `${name}.ext`,
    ])
  }
  const [ca, cert, key] = await Promise.all(
    ['ca.crt', 'client.crt', 'client.key'].map((f) => readFile(join(dir, f), 'utf8')),
  )
  return {
    ca: ca ?? '',
    cert: cert ?? '',
    key: key ?? '',
    caFile: join(dir, 'ca.crt'),
    certFile: join(dir, 'client.crt'),
    keyFile: join(dir, 'client.key'),
    serverCertFile: join(dir, 'server.crt'),
    serverKeyFile: join(dir, 'server.key'),
  }
}
