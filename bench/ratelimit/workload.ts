/** The ratelimit benchmark's workload, shared by every subject so each runs the same sequence. */

export const SCENARIOS = Object.freeze({
  oneRule: '1. one rule',
  threeRules: '2. three rules',
})

/** Distinct users (and 100 tenants); keys are picked by call number, not Math.random. */
export const USERS = 10_000
export const TENANTS = 100
/** High enough that almost every check is admitted: the cost of the check is what is measured. */
export const LIMIT = 1_000_000_000
export const WINDOW_S = 60

const users = Array.from({ length: USERS }, (_, i) => `u${String(i).padStart(5, '0')}`)
const tenants = Array.from({ length: TENANTS }, (_, i) => `t${String(i).padStart(3, '0')}`)

export const userFor = (i: number): string => users[i % USERS]!
export const tenantFor = (i: number): string => tenants[i % TENANTS]!

/** The trivial script of the raw EVALSHA rows (the limit a one-script check can approach). */
export const TRIVIAL_SCRIPT = "return redis.call('GET', KEYS[1])"
