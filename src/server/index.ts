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
export type {
  RateLimitSection,
  RateLimiterPanelStats,
  RulePanelStats,
  LlmBudgetPanelStats,
  LimitedKey,
} from './ratelimit-section.js'
export type {
  CoordSection,
  LeaseCounts,
  LeaderGroupStats,
  WaitStats,
  ResourcePanelState,
  StuckLockReport,
} from './coord-section.js'
export type { SessionsSection, SessionStorePanelStats, SessionMinute } from './session-section.js'
export {
  bucketQuantile,
  type QueuesSection,
  type QueuePanelStats,
  type QueueStateCounts,
  type QueueTotals,
  type QueueLatency,
} from './queue-section.js'
export { resolvePanelQueues, MAX_PANEL_QUEUES, type PanelQueue, type QueueReading } from './queue-sources.js'
export { MAX_LIST_COUNT, type QueueErrorBody } from './routes/queue-routes.js'
export type { Counted, SectionInterval } from './rate-tracker.js'
export type { SectionExtra } from './section-series.js'
export {
  resolvePanelsOptions,
  MAX_PANEL_RESOURCES,
  type DashboardPanelsOptions,
  type ResolvedPanelsOptions,
  type PanelRateLimiter,
  type PanelCoord,
} from './panel-sources.js'
export { PROMETHEUS_CONTENT_TYPE } from './routes/health-routes.js'
