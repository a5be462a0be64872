/** What a redacted secret is replaced with. */
export const REDACTED = '***'

const USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)@/i
const PASSWORD_PARAM = /([?&](?:password|pass|pwd)=)[^&#]*/gi

/**
 * Hides the password of a connection URL (`redis://user:***@host:6379/0`), and any
 * `password=` query parameter. Works on malformed URLs too (it does not parse them), so it is
 * safe to call on whatever a user passed in.
 *
 * @example
 * ```ts
 * redactUrl('rediss://app:s3cret@cache.internal:6380/2') // 'rediss://app:***@cache.internal:6380/2'
 * ```
 */
export function redactUrl(url: string): string {
  const withoutUserinfo = url.replace(USERINFO, (_all, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':')
    if (colon === -1) return `${scheme}${userinfo}@`
    return `${scheme}${userinfo.slice(0, colon)}:${REDACTED}@`
  })
  return withoutUserinfo.replace(PASSWORD_PARAM, `$1${REDACTED}`)
}

/**
 * Replaces every occurrence of every secret in `text` with `***` (longest secrets first, so a
 * secret that contains another is hidden whole). Empty secrets are ignored.
 *
 * @example
 * ```ts
 * redactSecrets('AUTH failed for s3cret', config.secrets) // 'AUTH failed for ***'
 * ```
 */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text
  const ordered = secrets.filter((s) => s.length > 0).sort((a, b) => b.length - a.length)
  for (const secret of ordered) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED)
  }
  return out
}
