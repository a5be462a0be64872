import { ValkitError } from '../errors.js'
import { scriptError, type ScriptTarget } from './run-script.js'
import type { Script } from './script.js'

/**
 * Loads scripts into every master with `SCRIPT LOAD` (on connect, on reconnect, on each Cluster
 * master), so the first `runScript` hits `EVALSHA`. Optional: `runScript` recovers from `NOSCRIPT`
 * by itself; preloading saves that extra round trip. Rejects with `VALKIT_SCRIPT` when a server
 * refuses a script or reports a different SHA1; transport errors pass through.
 *
 * @example
 * ```ts
 * await preloadScripts(await driver.masters(), [releaseLock, acquireLock])
 * ```
 */
export async function preloadScripts(
  masters: readonly ScriptTarget[],
  scripts: readonly Script[],
): Promise<void> {
  await Promise.all(
    masters.flatMap((master) =>
      scripts.map(async (script) => {
        let reply
        try {
          reply = await master.command(['SCRIPT', 'LOAD', script.source])
        } catch (err) {
          throw scriptError(script, err)
        }
        const sha = Buffer.isBuffer(reply) ? reply.toString('latin1') : reply
        if (sha !== script.sha) {
          throw new ValkitError(
            'VALKIT_SCRIPT',
            `Script "${script.name}": the server reports SHA1 ${JSON.stringify(sha)}, valkit computed ${script.sha}.`,
            { details: { script: script.name, sha: script.sha } },
          )
        }
      }),
    ),
  )
}
