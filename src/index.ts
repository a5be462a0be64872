/**
 * valkit: the Redis/Valkey platform layer for Node.js.
 *
 * `createValkit(options)` gives one object holding the connection, the supervisor and the
 * metrics registry every capability shares. Capabilities live in their own subpath exports.
 *
 * @packageDocumentation
 */
export * from './core/index.js'
