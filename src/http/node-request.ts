import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import type { ResponseCacheRequest, ResponseHeaders } from '../cache/http-response/index.js'

/**
 * A {@link ResponseCacheRequest} over Node's request headers (Express, Fastify). Reads the headers
 * object live, so headers removed later (conditionals on a miss) are seen as removed.
 *
 * @internal
 */
export function nodeRequest(method: string, url: string, headers: IncomingHttpHeaders): ResponseCacheRequest {
  return {
    method,
    url,
    header(name: string): string | undefined {
      const value = headers[name]
      if (value === undefined) return undefined
      return Array.isArray(value) ? value.join(', ') : value
    },
  }
}

/** Removes request headers (the conditionals of a miss that may be stored). @internal */
export function stripHeaders(headers: IncomingHttpHeaders, names: readonly string[]): void {
  for (const name of names) delete headers[name]
}

/** Node's outgoing headers as the cache reads them (a copy, lowercase names). @internal */
export function outgoingHeaders(
  headers: OutgoingHttpHeaders | Readonly<Record<string, string | number | readonly string[] | undefined>>,
): ResponseHeaders {
  const out: Record<string, string | number | readonly string[]> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name.toLowerCase()] = value
  }
  return out
}
