import { invalidOption } from '../errors.js'

/** valkit's logging interface; pino, bunyan, console-like loggers fit it structurally. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void
  info(msg: string, fields?: Record<string, unknown>): void
  warn(msg: string, fields?: Record<string, unknown>): void
  error(msg: string, fields?: Record<string, unknown>): void
}

/** Log levels, from most to least verbose; `silent` logs nothing. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent'

const LEVELS: Readonly<Record<LogLevel, number>> = Object.freeze({
  debug: 10,
  info: 20,
  warn: 30,
  error: 40,
  silent: 99,
})

/** Options of {@link createJsonLogger}. */
export interface JsonLoggerOptions {
  /**
   * Lowest level written.
   * @defaultValue `VALKIT_LOG_LEVEL` from `env`, else `'info'`
   */
  level?: LogLevel
  /**
   * Where each line goes (without trailing newline handling: the line ends with `\n`).
   * @defaultValue writes to `process.stderr`
   */
  write?: (line: string) => void
  /** Fields added to every line (for example `{ service: 'api' }`). @defaultValue {} */
  bindings?: Record<string, unknown>
  /** Where `VALKIT_LOG_LEVEL` is read. @defaultValue process.env */
  env?: Record<string, string | undefined>
  /** Clock for the `time` field. @defaultValue Date.now */
  now?: () => number
}

/**
 * A logger that writes one JSON object per line (`{"time","level","msg",...fields}`), to stderr
 * by default, dropping lines below the level. `Error` values in fields are written with name,
 * message, code and stack; values JSON cannot hold (bigint, cycles) are turned into strings.
 *
 * @example
 * ```ts
 * const logger = createJsonLogger({ level: 'debug', bindings: { service: 'api' } })
 * logger.info('connected', { host: 'redis-1', latencyMs: 3 })
 * // {"time":"2026-...","level":"info","msg":"connected","service":"api","host":"redis-1","latencyMs":3}
 * ```
 * @throws ValkitError `VALKIT_INVALID_OPTION` for an unknown level (option or `VALKIT_LOG_LEVEL`).
 */
export function createJsonLogger(options: JsonLoggerOptions = {}): Logger {
  const env = options.env ?? process.env
  const fromEnv = env.VALKIT_LOG_LEVEL?.trim().toLowerCase()
  const level = options.level ?? (fromEnv === undefined || fromEnv === '' ? 'info' : (fromEnv as LogLevel))
  if (!Object.hasOwn(LEVELS, level)) {
    throw invalidOption(
      options.level === undefined ? 'VALKIT_LOG_LEVEL' : 'level',
      `got ${JSON.stringify(level)}`,
      'one of debug, info, warn, error, silent',
    )
  }
  const threshold = LEVELS[level]
  const write = options.write ?? ((line: string) => void process.stderr.write(line))
  const bindings = options.bindings ?? {}
  const now = options.now ?? Date.now
  const log = (lvl: Exclude<LogLevel, 'silent'>, msg: string, fields?: Record<string, unknown>): void => {
    if (LEVELS[lvl] < threshold) return
    const record = {
      time: new Date(now()).toISOString(),
      level: lvl,
      msg: String(msg),
      ...bindings,
      ...fields,
    }
    write(`${safeStringify(record)}\n`)
  }
  return {
    debug: (msg, fields) => log('debug', msg, fields),
    info: (msg, fields) => log('info', msg, fields),
    warn: (msg, fields) => log('warn', msg, fields),
    error: (msg, fields) => log('error', msg, fields),
  }
}

/** A logger that discards everything. */
export const silentLogger: Logger = Object.freeze({
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
})

function safeStringify(record: Record<string, unknown>): string {
  const seen = new WeakSet<object>()
  return JSON.stringify(record, (_key, value: unknown) => {
    if (typeof value === 'bigint') return value.toString()
    if (value instanceof Error) {
      const code = (value as { code?: unknown }).code
      return {
        name: value.name,
        message: value.message,
        ...(code === undefined ? {} : { code }),
        stack: value.stack,
      }
    }
    if (typeof value === 'object' && value !== null) {
      if (seen.has(value)) return '[Circular]'
      seen.add(value)
    }
    return value
  })
}
