import { readFileSync } from 'node:fs'
import { invalidOption } from '../errors.js'
import type { Sourced } from './validate.js'

/** One environment variable valkit reads. */
export interface EnvVariable {
  readonly name: string
  /** The option it stands for (`commandTimeout`, `sentinel.password`). */
  readonly option: string
  /** What to put in it. */
  readonly description: string
  /** `true` when a `<name>_FILE` variant reads the value from a file (Docker/Kubernetes secrets). */
  readonly file: boolean
  /** `true` when the value is a secret: never shown in errors, `describe()` or `toJSON()`. */
  readonly secret: boolean
}

function v(
  name: string,
  option: string,
  description: string,
  flags: { file?: boolean; secret?: boolean } = {},
) {
  return { name, option, description, file: flags.file ?? false, secret: flags.secret ?? false }
}

/**
 * Every environment variable valkit reads, in the order `docs/configuration.md` lists them.
 * A variable is used only when the option is not given in code. An empty variable counts as unset.
 */
export const ENV_VARIABLES: readonly EnvVariable[] = Object.freeze(
  [
    v(
      'VALKIT_REDIS_URL',
      'url',
      'Connection URL (`redis://`, `rediss://`, `valkey://`, `valkeys://`, `unix://`, `memory://`).',
      { file: true, secret: true },
    ),
    v('REDIS_URL', 'url', 'Read only when no `VALKIT_*` topology variable is set.', { secret: true }),
    v('VALKIT_HOST', 'host', 'Server host (instead of a URL).'),
    v('VALKIT_PORT', 'port', 'Server port (instead of a URL).'),
    v('VALKIT_USERNAME', 'username', 'ACL user name.', { file: true }),
    v('VALKIT_PASSWORD', 'password', 'Password (of `username`, or of `default`).', {
      file: true,
      secret: true,
    }),
    v('VALKIT_DATABASE', 'database', 'Database index.'),
    v('VALKIT_CLIENT_NAME', 'clientName', 'Name shown by `CLIENT LIST`.'),
    v('VALKIT_TLS', 'tls', '`true` or `false`.'),
    v('VALKIT_TLS_CA', 'tls.ca', 'CA certificate(s), PEM.', { file: true }),
    v('VALKIT_TLS_CERT', 'tls.cert', 'Client certificate, PEM (mutual TLS).', { file: true }),
    v('VALKIT_TLS_KEY', 'tls.key', 'Client private key, PEM (mutual TLS).', { file: true, secret: true }),
    v('VALKIT_TLS_SERVERNAME', 'tls.servername', 'Server name to verify (SNI).'),
    v(
      'VALKIT_TLS_REJECT_UNAUTHORIZED',
      'tls.rejectUnauthorized',
      '`false` turns certificate checks off (dangerous).',
    ),
    v('VALKIT_SENTINELS', 'sentinel.sentinels', "Comma-separated sentinels: 'h1:26379,h2:26379'."),
    v('VALKIT_SENTINEL_MASTER', 'sentinel.masterName', 'Master name the sentinels monitor.'),
    v('VALKIT_SENTINEL_USERNAME', 'sentinel.username', 'ACL user on the sentinels.', { file: true }),
    v('VALKIT_SENTINEL_PASSWORD', 'sentinel.password', 'Password on the sentinels.', {
      file: true,
      secret: true,
    }),
    v('VALKIT_SENTINEL_TLS', 'sentinel.tls', '`true` or `false`: TLS to the sentinels.'),
    v('VALKIT_CLUSTER_NODES', 'cluster.nodes', "Comma-separated seed nodes: 'h1:7000,h2:7001'."),
    v(
      'VALKIT_CLUSTER_NAT_MAP',
      'cluster.natMap',
      "Comma-separated 'announced=reachable' pairs: '10.0.0.5:7000=203.0.113.9:17000'.",
    ),
    v('VALKIT_CLUSTER_READ_FROM_REPLICAS', 'cluster.readFromReplicas', '`true` or `false`.'),
    v('VALKIT_COMMAND_TIMEOUT', 'commandTimeout', "Duration: '500ms', '1s'; `0` = none."),
    v('VALKIT_CONNECT_TIMEOUT', 'connectTimeout', 'Duration.'),
    v('VALKIT_OFFLINE_QUEUE', 'offlineQueue', '`true` or `false`.'),
    v('VALKIT_OFFLINE_QUEUE_MAX_SIZE', 'offlineQueue.maxSize', 'Integer.'),
    v('VALKIT_OFFLINE_QUEUE_MAX_WAIT', 'offlineQueue.maxWait', 'Duration.'),
    v('VALKIT_RECONNECT_INITIAL_DELAY', 'reconnect.initialDelay', 'Duration.'),
    v('VALKIT_RECONNECT_MAX_DELAY', 'reconnect.maxDelay', 'Duration.'),
    v('VALKIT_RECONNECT_JITTER', 'reconnect.jitter', '`full` or `none`.'),
    v('VALKIT_RETRY_ATTEMPTS', 'retry.attempts', 'Integer.'),
    v('VALKIT_RETRY_INITIAL_DELAY', 'retry.initialDelay', 'Duration.'),
    v('VALKIT_RETRY_MAX_DELAY', 'retry.maxDelay', 'Duration.'),
    v('VALKIT_HEALTH_INTERVAL', 'health.interval', 'Duration.'),
    v('VALKIT_HEALTH_PING_TIMEOUT', 'health.pingTimeout', 'Duration.'),
    v('VALKIT_HEALTH_FAILURES_TO_DEGRADE', 'health.failuresToDegrade', 'Integer.'),
    v('VALKIT_HEALTH_LATENCY_WARN', 'health.latencyWarn', 'Duration.'),
    v('VALKIT_HEALTH_MEMORY_WARN_RATIO', 'health.memoryWarnRatio', 'Number in (0, 1].'),
    v('VALKIT_HEALTH_EVICTIONS_WARN_PER_MINUTE', 'health.evictionsWarnPerMinute', 'Number.'),
    v('VALKIT_HEALTH_REPLICATION_LAG_WARN_BYTES', 'health.replicationLagWarnBytes', 'Integer.'),
    v(
      'VALKIT_DURABLE_WRITES_REPLICAS',
      'durableWrites.replicas',
      'Integer; needs `VALKIT_DURABLE_WRITES_TIMEOUT`.',
    ),
    v(
      'VALKIT_DURABLE_WRITES_TIMEOUT',
      'durableWrites.timeout',
      'Duration; needs `VALKIT_DURABLE_WRITES_REPLICAS`.',
    ),
    v('VALKIT_KEY_PREFIX', 'keyPrefix', 'Key prefix.'),
  ].map((entry) => Object.freeze(entry)),
)

const BY_NAME = new Map(ENV_VARIABLES.map((entry) => [entry.name, entry]))
const TRUE = ['true', '1', 'yes', 'on']
const FALSE = ['false', '0', 'no', 'off']

/**
 * Reads the variables of {@link ENV_VARIABLES} from an environment record, handling the
 * `_FILE` variants, and converts their text to the type of the option they stand for.
 * Every value it returns carries its path (`env VALKIT_PASSWORD_FILE`) for error messages.
 * @internal
 */
export class EnvReader {
  readonly #env: Readonly<Record<string, string | undefined>>

  constructor(env: Readonly<Record<string, string | undefined>>) {
    this.#env = env
  }

  /** The variable's text, or `undefined` when it (and its `_FILE` variant) is unset or empty. */
  string(name: string): Sourced<string> | undefined {
    const entry = BY_NAME.get(name)
    if (entry === undefined) throw new Error(`valkit internal error: ${name} is not in ENV_VARIABLES`)
    const direct = this.#nonEmpty(name)
    const fileName = `${name}_FILE`
    const file = entry.file ? this.#nonEmpty(fileName) : undefined
    if (direct !== undefined && file !== undefined) {
      throw invalidOption(`env ${fileName}`, `both ${name} and ${fileName} are set`, 'only one of them')
    }
    if (direct !== undefined) return { value: direct, path: `env ${name}` }
    if (file === undefined) return undefined
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? 'unreadable'
      throw invalidOption(
        `env ${fileName}`,
        `cannot read the file ${JSON.stringify(file)} (${reason})`,
        'the path of a readable file',
      )
    }
    return { value: text.replace(/\r?\n$/, ''), path: `env ${fileName}` }
  }

  /** `true`/`1`/`yes`/`on` or `false`/`0`/`no`/`off`. */
  boolean(name: string): Sourced<boolean> | undefined {
    const raw = this.string(name)
    if (raw === undefined) return undefined
    const text = raw.value.trim().toLowerCase()
    if (TRUE.includes(text)) return { value: true, path: raw.path }
    if (FALSE.includes(text)) return { value: false, path: raw.path }
    throw invalidOption(
      raw.path,
      `got ${JSON.stringify(raw.value)}`,
      'true or false (also 1/0, yes/no, on/off)',
    )
  }

  /** A number when the text is one, else the text itself (so the option's validator reports it). */
  number(name: string): Sourced | undefined {
    const raw = this.string(name)
    if (raw === undefined) return undefined
    const text = raw.value.trim()
    const n = Number(text)
    return { value: text !== '' && Number.isFinite(n) ? n : raw.value, path: raw.path }
  }

  /** Whether the variable or its `_FILE` variant is set. */
  has(name: string): boolean {
    return this.#nonEmpty(name) !== undefined || this.#nonEmpty(`${name}_FILE`) !== undefined
  }

  #nonEmpty(name: string): string | undefined {
    const value = this.#env[name]
    return typeof value === 'string' && value !== '' ? value : undefined
  }
}
