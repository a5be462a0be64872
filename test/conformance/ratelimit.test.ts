/**
 * The rate limiter conformance suite on every backend: memory (no server), standalone Redis and
 * Valkey, and a Cluster of each engine (3 masters), where every check is one script on one slot.
 */
import { randomBytes } from 'node:crypto'
import { after, before, describe } from 'node:test'
import { createValkit, type Valkit } from '../../src/core/index.js'
import {
  createLlmBudget,
  createRateLimiter,
  type LlmBudget,
  type LlmBudgetOptions,
  type RateLimiter,
  type RateLimiterOptions,
} from '../../src/ratelimit/index.js'
import {
  cleanPrefix,
  startCluster,
  startServer,
  testEngines,
  type ClusterHandle,
  type ServerHandle,
} from '../../src/testing/index.js'
import { budgetConformance } from './ratelimit-budget-conformance.js'
import { rateLimitConformance } from './ratelimit-conformance.js'

function opener(valkit: () => Valkit) {
  const limiters: RateLimiter[] = []
  let n = 0
  const open = async (options: Omit<RateLimiterOptions, 'name'>): Promise<RateLimiter> => {
    const limiter = createRateLimiter(valkit(), { ...options, name: `l${n++}` })
    limiters.push(limiter)
    await limiter.ready()
    return limiter
  }
  const budgets: LlmBudget[] = []
  const openBudget = async (options: Omit<LlmBudgetOptions, 'name'>): Promise<LlmBudget> => {
    const budget = createLlmBudget(valkit(), { ...options, name: `b${n++}` })
    budgets.push(budget)
    return budget
  }
  const close = async () => {
    for (const limiter of limiters) await limiter.close()
    for (const budget of budgets) await budget.close()
  }
  return { open, openBudget, close }
}

void describe('ratelimit conformance: memory backend', () => {
  const valkit = createValkit({ env: {}, logger: false })
  const { open, openBudget, close } = opener(() => valkit)
  after(async () => {
    await close()
    await valkit.close()
  })
  rateLimitConformance(open, 'memory')
  budgetConformance(openBudget)
})

for (const engine of testEngines()) {
  void describe(`ratelimit conformance: ${engine}`, { timeout: 60_000 }, () => {
    let server: ServerHandle
    let valkit: Valkit
    const prefix = `t-rl-${randomBytes(4).toString('hex')}`
    const { open, openBudget, close } = opener(() => valkit)
    before(async () => {
      server = await startServer({ engine })
      valkit = createValkit({ url: server.url, env: {}, logger: false, keyPrefix: prefix })
      await valkit.supervisor.waitFor('ready', 10_000)
    })
    after(async () => {
      await close()
      await valkit?.close()
      if (server?.alive) await cleanPrefix(server, `${prefix}:`)
      await server?.stop()
    })
    rateLimitConformance(open, 'redis')
    budgetConformance(openBudget)
  })

  void describe(`ratelimit conformance: ${engine} Cluster`, { timeout: 90_000 }, () => {
    let cluster: ClusterHandle
    let valkit: Valkit
    const prefix = `t-rl-cl-${randomBytes(4).toString('hex')}`
    const { open, openBudget, close } = opener(() => valkit)
    before(async () => {
      cluster = await startCluster({ engine, masters: 3, replicasPerMaster: 0 })
      valkit = createValkit({
        cluster: { nodes: cluster.seeds.map((s) => `${s.host}:${s.port}`) },
        env: {},
        logger: false,
        keyPrefix: prefix,
      })
      await valkit.supervisor.waitFor('ready', 15_000)
    })
    after(async () => {
      await close()
      await valkit?.close()
      if (cluster) await cleanPrefix(cluster, `${prefix}:`).catch(() => {})
      await cluster?.stop()
    })
    rateLimitConformance(open, 'redis')
    budgetConformance(openBudget)
  })
}
