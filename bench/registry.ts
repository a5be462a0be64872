import type { Benchmark } from './lib/types.js'

/**
 * Every benchmark `npm run bench` knows, by name, loaded lazily (a benchmark whose library is
 * missing does not break the others). Adding one is one line:
 * `cache: async () => (await import('./cache/index.js')).default,`
 */
export const BENCHMARKS: Readonly<Record<string, () => Promise<Benchmark>>> = {
  core: async () => (await import('./core/index.js')).default,
  cache: async () => (await import('./cache/index.js')).default,
  coord: async () => (await import('./coord/index.js')).default,
  ratelimit: async () => (await import('./ratelimit/index.js')).default,
  session: async () => (await import('./session/index.js')).default,
  queue: async () => (await import('./queue/index.js')).default,
}
