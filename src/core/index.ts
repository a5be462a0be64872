/**
 * `valkit/core`: the connection layer, supervisor, health, and the shared building blocks
 * (configuration, errors, key space, codec, scripts, memory store, telemetry) every capability uses.
 *
 * @packageDocumentation
 */
export { createValkit, connect, type Valkit, type ValkitStats } from './create-valkit.js'
export { ValkitError, isValkitError, invalidOption, ERROR_CODES, type ValkitErrorCode } from './errors.js'
export type { Connection, Supervisor, CallOptions, ScriptRef, ValkitCore } from './api-types.js'
export type * from './health-types.js'
export type {
  RedisArg,
  RedisReply,
  DriverPort,
  DriverEvent,
  MessageListener,
  NodeCommander,
  CommandOptions,
} from './driver/port.js'
export type { IoredisLike } from './driver/ioredis-adapter.js'
export * from './config/index.js'
export * from './codec/index.js'
export * from './keys/index.js'
export * from './scripts/index.js'
export { computeFindings, type FindingThresholds, type FindingInputs } from './health/findings.js'
export { parseInfo, toServerInfo } from './health/parse-info.js'
export * from './memory/index.js'
export * from './telemetry/index.js'
export * from './batching/index.js'
export { replyText } from './reply-text.js'
