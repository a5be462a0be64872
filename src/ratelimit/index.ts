/**
 * `valkit/ratelimit`: rate limits on Redis/Valkey — token bucket, GCRA, exact sliding window
 * log, approximate sliding window counter, fixed window and concurrency leases, several rules
 * checked and charged together atomically in one round trip; tiers, overrides, penalties,
 * allow/deny lists, adaptive limits, live rules, an insurance limiter while Redis is down, and
 * cost budgets for LLM calls.
 *
 * @packageDocumentation
 */
export { createRateLimiter } from './create-rate-limiter.js'
export {
  RATE_LIMITER_DEFAULTS,
  resolveRateLimiterOptions,
  type InsuranceOptions,
  type LiveRulesOptions,
  type RateLimiterOptions,
  type ResolvedRateLimiterOptions,
  type WhenUnavailable,
} from './ratelimit-options.js'
export {
  ALGORITHM_CODES,
  MAX_LIMIT,
  resolveRule,
  resolveRules,
  type RateLimitAlgorithm,
  type RateLimitPenalty,
  type RateLimitRule,
  type RateLimitRuleLimits,
  type ResolvedRule,
} from './rule-options.js'
export type { AdaptiveOptions, LoadSignal, ResolvedAdaptiveOptions } from './adaptive-options.js'
export type { RateLimitAccessList } from './access-list.js'
export type { RateLimitHashTag, RuleDocument } from './rule-set.js'
export type { RateLimitSubject } from './subject.js'
export type {
  RateLimitDecision,
  RateLimitLease,
  RateLimitOutcome,
  RateLimitSource,
  RuleDecision,
} from './decision.js'
export type {
  CheckOptions,
  LiveRules,
  RateLimiter,
  RateLimiterStats,
  RulesAuditEntry,
  RulesUpdateOptions,
  RulesUpdateResult,
} from './ratelimit-types.js'
export * from './llm-budget/index.js'
