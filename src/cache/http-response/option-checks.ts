import { invalidOption, parseDuration } from '../../core/index.js'
import type { ResponseCacheTags } from './response-cache-options.js'

/**
 * The checks of the response cache's options: each throws `VALKIT_INVALID_OPTION` naming `path`.
 * @internal
 */

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

export function got(value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 40))}`
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  return `a value of type ${typeof value}`
}

export function bool(value: unknown, path: string, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw invalidOption(path, `got ${got(value)}`, 'true or false')
  return value
}

export function fn<T>(value: unknown, path: string, fallback: T | null): T | null {
  if (value === undefined) return fallback
  if (typeof value !== 'function') throw invalidOption(path, `got ${got(value)}`, 'a function')
  return value as T
}

export function headerName(value: unknown, path: string): string {
  if (typeof value !== 'string' || !TOKEN.test(value) || value === '*') {
    throw invalidOption(path, `got ${got(value)}`, "an HTTP header name such as 'accept-language'")
  }
  return value.toLowerCase()
}

export function headerNames(value: unknown, path: string): string[] | undefined {
  if (value === undefined) return undefined
  if (!Array.isArray(value)) throw invalidOption(path, `got ${got(value)}`, 'an array of header names')
  return [...new Set(value.map((v, i) => headerName(v, `${path}[${i}]`)))].sort()
}

export function strings(value: unknown, path: string): string[] | undefined {
  if (value === undefined) return undefined
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && v !== '')) {
    throw invalidOption(path, `got ${got(value)}`, 'an array of non-empty strings')
  }
  return value as string[]
}

export function ttl(value: unknown, path: string): number | undefined {
  if (value === undefined) return undefined
  const ms = parseDuration(value, path)
  if (ms <= 0) throw invalidOption(path, `got ${got(value)}`, "a duration > 0 such as '30s'")
  return ms
}

export function statuses(value: unknown, path: string): ReadonlySet<number> | undefined {
  if (value === undefined) return undefined
  if (!Array.isArray(value) || value.length === 0) {
    throw invalidOption(path, `got ${got(value)}`, 'a non-empty array of status codes')
  }
  value.forEach((s: unknown, i) => {
    if (typeof s !== 'number' || !Number.isInteger(s) || s < 200 || s > 599 || s === 206 || s === 304) {
      throw invalidOption(`${path}[${i}]`, `got ${got(s)}`, 'a status from 200 to 599 other than 206 and 304')
    }
  })
  return new Set(value as number[])
}

export function tags(value: unknown, path: string): ResponseCacheTags | undefined {
  if (value === undefined || typeof value === 'function') return value as ResponseCacheTags | undefined
  const list = strings(value, path)
  return list === undefined ? undefined : Object.freeze([...new Set(list)])
}
