import { loopSubject } from '../lib/compare.js'
import type { OpenSubject } from './driver-subjects.js'
import { SCENARIOS, VALUE, isGet, keyFor } from './workload.js'

/** Row name of valkit's command path. */
export const VALKIT_COMMAND_PATH = 'valkit (command path)'

/** The part of a valkit instance this benchmark uses (see src/core/api-types.ts). */
interface ValkitLike {
  readonly connection: {
    command(args: readonly (string | Buffer | number)[], options?: object): Promise<unknown>
  }
  readonly supervisor?: { waitFor?(state: string, timeoutMs?: number): Promise<void> }
  close(): Promise<void>
}
type CreateValkit = (options: object) => ValkitLike | Promise<ValkitLike>

// A variable specifier: src/index.ts may not exist yet, and the type checker must not require it.
const VALKIT_MODULE = '../../src/index.js'

/** `createValkit` when src/index.ts exports it; `undefined` (with the reason) otherwise. */
export async function loadCreateValkit(): Promise<{ create?: CreateValkit; reason?: string }> {
  try {
    const mod = (await import(VALKIT_MODULE)) as { createValkit?: unknown }
    if (typeof mod.createValkit === 'function') return { create: mod.createValkit as CreateValkit }
    return { reason: 'src/index.ts does not export createValkit yet' }
  } catch (err) {
    return { reason: `src/index.ts could not be loaded: ${err instanceof Error ? err.message : String(err)}` }
  }
}

/** The options the benchmark gives `createValkit`: where to connect, and no log lines in the progress output. */
function valkitOptions(url: string): object {
  return { url, logger: false }
}

/** valkit's `connection.command([...])`: deadlines, retries and telemetry on top of node-redis. */
export async function openValkit(create: CreateValkit, url: string, sha: string): Promise<OpenSubject> {
  const valkit = await create(valkitOptions(url))
  try {
    await valkit.supervisor?.waitFor?.('ready', 10_000)
    await valkit.connection.command(['PING'])
  } catch (err) {
    await valkit.close()
    throw err
  }
  const { connection } = valkit
  const subject = loopSubject(VALKIT_COMMAND_PATH, {
    [SCENARIOS.getSet]: (i) =>
      isGet(i) ? connection.command(['GET', keyFor(i)]) : connection.command(['SET', keyFor(i), VALUE]),
    // The same arguments as the raw rows ('1', not 1: a number costs the driver one array copy).
    [SCENARIOS.evalsha]: (i) => connection.command(['EVALSHA', sha, '1', keyFor(i)]),
  })
  return { subject, close: () => valkit.close() }
}
