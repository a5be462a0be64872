/**
 * Names of valkit's core `diagnostics_channel` channels. Capabilities name theirs
 * `valkit:<capability>:<op>` (for example `valkit:cache:get`, `valkit:lock:acquire`).
 */

/**
 * Tracing channel around every command the connection layer sends (subscribe with
 * `diagnostics_channel.tracingChannel(CORE_COMMAND_CHANNEL)`; events `start`, `end`,
 * `asyncStart`, `asyncEnd`, `error`). The context carries the command name.
 */
export const CORE_COMMAND_CHANNEL = 'valkit:core:command'

/**
 * Plain channel on which the supervisor publishes each state change
 * (`ready` / `degraded` / `recovering`); subscribe with `diagnostics_channel.subscribe()`.
 */
export const CORE_STATE_CHANNEL = 'valkit:core:state'
