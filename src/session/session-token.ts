import { createHmac, timingSafeEqual } from 'node:crypto'
import { BoundedCache } from './bounded-cache.js'
import { isSessionId } from './session-id.js'

/** Characters of the token's MAC (base64url of the first 24 bytes of HMAC-SHA256: 192 bits). */
const MAC_CHARS = 32
const MAC_BYTES = 24
const MAX_TOKEN = 120
const DOMAIN = 'valkit-session-token-v1\u0000'

/** Why a token was refused. @internal */
export type TokenProblem = 'malformed' | 'signature'

/**
 * Signs and verifies cookie tokens `<id>.<mac>` (HMAC-SHA256 under a list of secrets: the first
 * signs, any verifies).
 *
 * @internal
 */
export class TokenSigner {
  /** Tokens already verified (token -> ID): a hot session's cookie is checked once per instance. */
  private readonly verified: BoundedCache<string, string>

  constructor(
    private readonly secrets: readonly Buffer[],
    cacheEntries = 0,
  ) {
    this.verified = new BoundedCache(cacheEntries)
  }

  sign(id: string): string {
    return `${id}.${this.mac(this.secrets[0]!, id).toString('base64url')}`
  }

  /** The session ID inside a valid token, or why the token is refused. */
  verify(token: unknown): { id: string } | { problem: TokenProblem } {
    if (typeof token !== 'string' || token.length > MAX_TOKEN) return { problem: 'malformed' }
    const known = this.verified.get(token)
    if (known !== undefined) return { id: known }
    const dot = token.lastIndexOf('.')
    const id = token.slice(0, dot)
    const macText = token.slice(dot + 1)
    if (dot <= 0 || macText.length !== MAC_CHARS || !isSessionId(id)) return { problem: 'malformed' }
    const given = Buffer.from(macText, 'base64url')
    if (given.length !== MAC_BYTES || given.toString('base64url') !== macText) return { problem: 'malformed' }
    let ok = false
    // Every secret is tried (no early exit), so timing does not tell which one matched.
    for (const secret of this.secrets) if (timingSafeEqual(this.mac(secret, id), given)) ok = true
    if (!ok) return { problem: 'signature' }
    this.verified.set(token, id)
    return { id }
  }

  private mac(secret: Buffer, id: string): Buffer {
    return createHmac('sha256', secret).update(DOMAIN).update(id).digest().subarray(0, MAC_BYTES)
  }
}
