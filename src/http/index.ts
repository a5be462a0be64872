/**
 * `valkit/http`: framework adapters. HTTP response caching for Express, Fastify and Hono on a
 * valkit response cache (`createResponseCache` from `valkit/cache`). `express` and `hono` are
 * imported as types only, so neither becomes a dependency of valkit.
 *
 * @packageDocumentation
 */
export { expressResponseCache } from './express-response-cache.js'
export { fastifyResponseCache, type FastifyResponseCacheOptions } from './fastify-response-cache.js'
export { honoResponseCache } from './hono-response-cache.js'
