/**
 * valkit's connection configuration: options from code or `VALKIT_*` environment variables,
 * validated up front, with secrets redacted from everything printable.
 * @module
 */
export type { Duration } from './duration.js'
export { parseDuration, MAX_DURATION_MS } from './duration.js'
export type { HostPort, ResolvedHostPort } from './host-port.js'
export { parseHostPort, formatHostPort } from './host-port.js'
export { parseConnectionUrl, URL_SCHEMES, URL_PARAMS } from './parse-url.js'
export type { ParsedConnectionUrl, UrlScheme } from './parse-url.js'
export { ENV_VARIABLES } from './env.js'
export type { EnvVariable } from './env.js'
export { redactUrl, redactSecrets, REDACTED } from './redact.js'
export { resolveConfig } from './resolve-config.js'
export type { ResolvedValkitConfig, ResolvedTls, Topology } from './resolved-config.js'
export { VALKIT_DEFAULTS, VALKIT_OPTION_NAMES } from './valkit-options.js'
export type {
  ValkitOptions,
  TlsOptions,
  SentinelOptions,
  ClusterOptions,
  OfflineQueueOptions,
  ReconnectOptions,
  RetryOptions,
  HealthOptions,
  DurableWritesOptions,
  ConfigLogger,
} from './valkit-options.js'
