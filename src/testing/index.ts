/**
 * `valkit/testing`: start real Redis / Valkey servers (standalone, Sentinel, Cluster) in
 * tests, plus helpers for key prefixes, waiting and fault injection.
 *
 * @packageDocumentation
 */
export { testEngines, ENGINES, type Engine } from './engine.js'
export { freePort } from './free-port.js'
export { waitFor, type WaitForOptions } from './wait-for.js'
export { RespClient, type RespClientOptions, type RespReply } from './resp-client.js'
export { generateTlsCertificates, type TlsMaterial } from './tls-certificates.js'
export type { ServerHandle, ExitInfo, ServerTls } from './server-handle.js'
export type { StartServerOptions, AclUser, ServerTlsOptions, MaxmemoryPolicy } from './server-options.js'
export { startServer } from './start-server.js'
export { launcherRoot } from './process-registry.js'
export type { SentinelOptions, ClusterOptions } from './topology-options.js'
export { startSentinel, type SentinelHandle, type Address } from './start-sentinel.js'
export { startCluster, parseClusterNodes, type ClusterHandle, type ClusterNodeInfo } from './start-cluster.js'
export { randomPrefix, cleanPrefix } from './key-prefix.js'
export { withServer } from './with-server.js'
export { tcpProxy, type TcpProxy, type TcpProxyOptions } from './tcp-proxy.js'
export {
  startPostgres,
  postgresBinDir,
  type StartPostgresOptions,
  type PostgresHandle,
} from './start-postgres.js'
