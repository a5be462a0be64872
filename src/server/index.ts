/**
 * `valkit/server`: the HTTP server behind `valkit serve` — health, readiness, Prometheus
 * metrics, the token-protected admin API and the live dashboard.
 */
export { createServer, type ValkitServer } from './create-server.js'
export {
  resolveServerOptions,
  type ServerOptions,
  type ResolvedServerOptions,
  type ServerValkit,
  type ServerLogLevel,
} from './server-options.js'
export { createAuthHook, type UnauthorizedBody } from './auth-hook.js'
export {
  resolveAdminToken,
  tokenMatches,
  generateAdminToken,
  defaultTokenFilePath,
  writeNewTokenFile,
} from './admin-token.js'
export { SnapshotHub, type DashboardSnapshot, type HubMessage, type HubValkit } from './snapshot-hub.js'
export type { CachesSection, CacheNamespaceStats, CacheExtraStats } from './cache-section.js'
export type { CacheCounters, CacheExtraSeries } from './cache-totals.js'
export { PROMETHEUS_CONTENT_TYPE } from './routes/health-routes.js'
