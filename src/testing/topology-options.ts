import { invalidOption } from '../core/errors.js'
import type { Engine } from './engine.js'
import type { ServerTlsOptions } from './server-options.js'

/** Options of `startSentinel()`: one master, its replicas and the Sentinels watching them. */
export interface SentinelOptions {
  /** @defaultValue the first of `testEngines()` */
  readonly engine?: Engine
  /** Replicas of the master. @defaultValue `2` */
  readonly replicas?: number
  /** Sentinel processes. @defaultValue `3` */
  readonly sentinels?: number
  /** @defaultValue `'mymaster'` */
  readonly masterName?: string
  /** Sentinels needed to agree that the master is down. @defaultValue a majority of `sentinels` */
  readonly quorum?: number
  /** `sentinel down-after-milliseconds`. @defaultValue `1000` */
  readonly downAfterMs?: number
  /** `sentinel failover-timeout`. @defaultValue `3000` */
  readonly failoverTimeoutMs?: number
  /** Password of the data nodes' `default` user (Sentinels get it as `auth-pass`). @defaultValue none */
  readonly password?: string
  /**
   * TLS only on every data node, replication and every Sentinel, with one generated CA;
   * every handle's `tls` (data nodes and Sentinels) holds the CA and a client certificate.
   * @defaultValue `false`
   */
  readonly tls?: boolean | ServerTlsOptions
  /** Extra raw arguments for every data node. @defaultValue `[]` */
  readonly args?: readonly string[]
  /** How long to wait for the whole topology to be up and known to every Sentinel. @defaultValue `20000` */
  readonly readyTimeoutMs?: number
}

/** Options of `startCluster()`. */
export interface ClusterOptions {
  /** @defaultValue the first of `testEngines()` */
  readonly engine?: Engine
  /** Master nodes (at least 3, as `--cluster create` requires). @defaultValue `3` */
  readonly masters?: number
  /** Replicas per master. @defaultValue `1` */
  readonly replicasPerMaster?: number
  /** `cluster-node-timeout`: how long a silent node takes to be failed over. @defaultValue `1500` */
  readonly nodeTimeoutMs?: number
  /** `cluster-require-full-coverage`. @defaultValue `false` */
  readonly requireFullCoverage?: boolean
  /** Password of every node's `default` user (also used as `masterauth`). @defaultValue none */
  readonly password?: string
  /**
   * TLS only on every node, the cluster bus and replication, with one generated CA shared
   * by all nodes; every node handle's `tls` holds the CA and a client certificate.
   * @defaultValue `false`
   */
  readonly tls?: boolean | ServerTlsOptions
  /** Extra raw arguments for every node. @defaultValue `[]` */
  readonly args?: readonly string[]
  /** How long to wait for the cluster to be created and healthy. @defaultValue `30000` */
  readonly readyTimeoutMs?: number
}

/** Checks that `value` (at `path`) is an integer within `[min, max]`. */
export function checkInteger(
  path: string,
  value: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalidOption(path, `got ${String(value)}`, `an integer from ${min} to ${max}`)
  }
  return value
}
