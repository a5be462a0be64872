import { formatHostPort } from './host-port.js'
import { REDACTED } from './redact.js'
import type { ResolvedTls, ResolvedValkitConfig, Topology } from './resolved-config.js'

type ConfigData = Omit<ResolvedValkitConfig, 'describe' | 'toJSON'>

function tlsText(tls: ResolvedTls | null | undefined): string {
  if (tls === null || tls === undefined) return 'off'
  return tls.rejectUnauthorized ? (tls.cert === undefined ? 'on' : 'on+client-cert') : 'on(NO-VERIFY)'
}

function auth(username: string | undefined, password: string | undefined): string {
  if (password !== undefined) return `${username ?? 'default'}:${REDACTED}@`
  return username === undefined ? '' : `${username}@`
}

/**
 * One line, safe to log: topology, user, address, database, TLS; never a password or key.
 * @internal
 */
export function describeConfig(config: ConfigData): string {
  const { topology: t, username, password, database } = config
  const tls = `tls=${tlsText(config.tls)}`
  const driver = config.driver.kind === 'ioredis' ? ' driver=ioredis' : ''
  switch (t.kind) {
    case 'memory':
      return 'memory (no server: in-process backend)'
    case 'standalone': {
      const where =
        t.socketPath === undefined
          ? `${config.tls === null ? 'redis' : 'rediss'}://${auth(username, password)}${formatHostPort(t)}/${database}`
          : `unix://${auth(username, password)}${t.socketPath}?database=${database}`
      return `standalone ${where} ${tls}${driver}`
    }
    case 'sentinel': {
      const sentinelAuth = auth(t.username, t.password).replace(/@$/, '')
      const list = t.sentinels.map(formatHostPort).join(',')
      const credentials = auth(username, password).replace(/@$/, '')
      return (
        `sentinel master=${t.masterName} sentinels=${list}${sentinelAuth === '' ? '' : ` sentinel-user=${sentinelAuth}`}` +
        ` sentinel-tls=${tlsText(t.tls)}${credentials === '' ? '' : ` user=${credentials}`} db=${database} ${tls}${driver}`
      )
    }
    case 'cluster': {
      const credentials = auth(username, password).replace(/@$/, '')
      const nat = Object.keys(t.natMap).length
      return (
        `cluster nodes=${t.nodes.map(formatHostPort).join(',')}${credentials === '' ? '' : ` user=${credentials}`}` +
        `${nat === 0 ? '' : ` natMap=${nat}`} readFromReplicas=${t.readFromReplicas ? 'on' : 'off'} ${tls}${driver}`
      )
    }
  }
}

function redactTls(tls: ResolvedTls | null | undefined): Record<string, unknown> | null {
  if (tls === null || tls === undefined) return null
  const pem = (b: Buffer | undefined) => (b === undefined ? undefined : `<PEM, ${b.length} bytes>`)
  return {
    ...(tls.ca === undefined ? {} : { ca: pem(tls.ca) }),
    ...(tls.cert === undefined ? {} : { cert: pem(tls.cert) }),
    ...(tls.key === undefined ? {} : { key: REDACTED }),
    ...(tls.servername === undefined ? {} : { servername: tls.servername }),
    rejectUnauthorized: tls.rejectUnauthorized,
  }
}

function redactTopology(t: Topology): Record<string, unknown> {
  switch (t.kind) {
    case 'sentinel':
      return {
        ...t,
        sentinels: t.sentinels.map((s) => ({ ...s })),
        ...(t.password === undefined ? {} : { password: REDACTED }),
        ...(t.tls === undefined ? {} : { tls: redactTls(t.tls) }),
      }
    case 'cluster':
      return {
        ...t,
        nodes: t.nodes.map((n) => ({ ...n })),
        natMap: JSON.parse(JSON.stringify(t.natMap)) as unknown,
      }
    default:
      return { ...t }
  }
}

/**
 * A plain-data copy with every password and private key replaced by `***`.
 * @internal
 */
export function redactedConfig(config: ConfigData): Record<string, unknown> {
  return {
    topology: redactTopology(config.topology),
    ...(config.username === undefined ? {} : { username: config.username }),
    ...(config.password === undefined ? {} : { password: REDACTED }),
    database: config.database,
    clientName: config.clientName,
    tls: redactTls(config.tls),
    commandTimeoutMs: config.commandTimeoutMs,
    connectTimeoutMs: config.connectTimeoutMs,
    offlineQueue: { ...config.offlineQueue },
    reconnect: { ...config.reconnect },
    retry: { ...config.retry },
    health: { ...config.health },
    durableWrites: config.durableWrites === null ? null : { ...config.durableWrites },
    keyPrefix: config.keyPrefix,
    driver: { kind: config.driver.kind },
    logger: config.logger === undefined ? 'default' : config.logger === false ? false : 'custom',
    sources: { ...config.sources },
  }
}
