import type { RedisArg, RedisReply } from '../driver/port.js'
import { turnBatches, type TurnBatchOptions, type Waiting } from '../batching/turn-batches.js'
import { runScript, scriptError, type RunScriptOptions, type ScriptTarget } from './run-script.js'
import { defineScript, type Script } from './script.js'

/** Options of {@link createScriptBatcher}. */
export interface ScriptBatcherOptions extends TurnBatchOptions {
  /** Return bulk strings as `Buffer` (see `runScript`). @defaultValue `false` */
  readonly buffers?: boolean
}

/**
 * Runs one script for many callers: the calls made in the same turn of the event loop travel
 * together in one `EVALSHA` (per Cluster slot), and each caller gets its own reply, or its own
 * `VALKIT_SCRIPT` error when its part raised one. A turn with a single call sends the script
 * itself, so a quiet process pays nothing for the batching.
 */
export interface ScriptBatcher {
  /** Runs the script with these keys and arguments, in a batch with the other calls of this turn. */
  run(keys: readonly RedisArg[], args: readonly RedisArg[]): Promise<RedisReply>
  /** The script that runs a batch (for preloading). */
  readonly batchScript: Script
}

interface Call {
  readonly keys: readonly RedisArg[]
  readonly args: readonly RedisArg[]
}

const batchScripts = new WeakMap<Script, Script>()

/** `redis.call('TIME')` as scripts write it: a batch reads the clock once (see batchedScript). */
const TIME_CALL = /redis\.call\(\s*'TIME'\s*\)/g

/**
 * The script that runs `script` once per call of a batch, in one atomic run. Its arguments: the
 * number of calls m, then each call's key count and argument count — or, when every call has
 * the same counts, `=` and the two counts once — then every call's arguments in order; its keys
 * are every call's keys in order. It returns one reply per call: the script's
 * reply (`nil` as `false`), or an error reply when that call raised one (the others still run).
 */
export function batchedScript(script: Script): Script {
  let batched = batchScripts.get(script)
  if (batched !== undefined) return batched
  const body = script.source.startsWith('#!')
    ? script.source.slice(script.source.indexOf('\n') + 1)
    : script.source
  // The header documents as many keys as the script reads (a batch passes more: every call's).
  const keyCount = Math.max(1, script.numberOfKeys)
  const keyLines = Array.from(
    { length: keyCount },
    (_, i) => `  KEYS[${i + 1}] every call's keys, in order`,
  ).join('\n')
  const source = `--[[ Runs the script "${script.name}" once per call of a batch (see script-batcher.ts).
${keyLines}
  ARGV[1] the number of calls m, then per call its key count and argument count (or "=" and the
  counts every call shares), then every call's arguments
  Returns one reply per call: the script's reply, false for nil, or an error reply ]]
local time
local function batchTime()
  time = time or redis.call('TIME')
  return time
end
local function run(KEYS, ARGV)
${body.replaceAll(TIME_CALL, 'batchTime()')}
end
local m = tonumber(ARGV[1])
local out = {}
local same = ARGV[2] == '='
local ki, ai = 1, 2 * m + 2
local nk, na
if same then
  nk, na, ai = tonumber(ARGV[3]), tonumber(ARGV[4]), 5
end
local k, a, lk, la = {}, {}, 0, 0
for i = 1, m do
  if not same then
    nk, na = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  end
  for j = 1, nk do k[j] = KEYS[ki + j - 1] end
  for j = nk + 1, lk do k[j] = nil end
  for j = 1, na do a[j] = ARGV[ai + j - 1] end
  for j = na + 1, la do a[j] = nil end
  lk, la = nk, na
  local ok, r = pcall(run, k, a)
  ki, ai = ki + nk, ai + na
  if ok then
    if r == nil then r = false end
    out[i] = r
  elseif type(r) == 'table' and r.err then
    out[i] = r
  else
    out[i] = { err = tostring(r) }
  end
end
return out
`
  batched = defineScript({ name: `${script.name}-batch`, source, numberOfKeys: keyCount })
  batchScripts.set(script, batched)
  return batched
}

const BUFFERS: RunScriptOptions = Object.freeze({ buffers: true })

const keyCountVariants = new WeakMap<Script, Script[]>()

/**
 * The script with `numberOfKeys` set to `n`: same source and SHA, for scripts that take a
 * variable number of keys (all sharing one hash tag).
 */
export function withKeyCount(script: Script, n: number): Script {
  if (script.numberOfKeys === n) return script
  let list = keyCountVariants.get(script)
  if (list === undefined) keyCountVariants.set(script, (list = []))
  return (list[n] ??= Object.freeze({ ...script, numberOfKeys: n }))
}

/**
 * Coalesces concurrent runs of `script` (which may take a variable number of keys; every call's
 * keys share one hash tag) into one script run per turn of the event loop.
 *
 * Use it for short scripts called by many concurrent requests (a rate-limit check, a session
 * read): one `EVALSHA` for a hundred calls costs the server and the client far less than a
 * hundred. The calls of one batch run atomically one after the other, in the order they were made.
 *
 * @example
 * ```ts
 * const checks = createScriptBatcher(valkit.connection, CHECK, { bySlot: valkit.config.topology.kind === 'cluster' })
 * const reply = await checks.run([key], [limit, windowMs])
 * ```
 */
export function createScriptBatcher(
  target: ScriptTarget,
  script: Script,
  options: ScriptBatcherOptions = {},
): ScriptBatcher {
  const run = options.buffers === true ? BUFFERS : undefined
  const batch = batchedScript(script)
  const send = (calls: Waiting<Call>[]): void => {
    if (calls.length === 1) {
      const c = calls[0]!
      const { keys, args } = c.item
      runScript(target, withKeyCount(script, keys.length), keys, args, run).then(c.resolve, c.reject)
      return
    }
    const keys: RedisArg[] = []
    const first = calls[0]!.item
    // One shape for every call (the usual case): its counts once, not per call.
    let same = true
    for (const { item } of calls) {
      if (item.keys.length !== first.keys.length || item.args.length !== first.args.length) {
        same = false
        break
      }
    }
    const head: RedisArg[] = [calls.length]
    if (same) head.push('=', first.keys.length, first.args.length)
    else for (const { item } of calls) head.push(item.keys.length, item.args.length)
    for (const { item } of calls) {
      for (const k of item.keys) keys.push(k)
      for (const a of item.args) head.push(a)
    }
    runScript(target, withKeyCount(batch, keys.length), keys, head, run).then(
      (reply) => {
        const replies = reply as RedisReply[]
        for (let i = 0; i < calls.length; i++) {
          const r = replies[i]
          if (r instanceof Error) calls[i]!.reject(scriptError(script, r))
          else calls[i]!.resolve(r ?? null)
        }
      },
      (err: unknown) => {
        for (const c of calls) c.reject(err)
      },
    )
  }
  const enqueue = turnBatches<Call>(options, (call) => call.keys[0], send)
  return {
    batchScript: batch,
    run: (keys, args) => enqueue({ keys, args }),
  }
}

/** One call of a script that takes many calls at once: its keys and its arguments. */
export interface ScriptCall {
  readonly keys: readonly RedisArg[]
  readonly args: readonly RedisArg[]
}

/** Options of {@link createMultiCallBatcher}. */
export interface MultiCallBatcherOptions extends TurnBatchOptions {
  /** Return bulk strings as `Buffer` (see `runScript`). @defaultValue `false` */
  readonly buffers?: boolean
  /** Cuts the script's reply into one reply per call, in the order of `calls`. */
  readonly split: (reply: RedisReply, calls: readonly ScriptCall[]) => readonly RedisReply[]
}

/**
 * Like {@link createScriptBatcher}, for a script written to take many calls itself: it receives
 * the number of calls as `ARGV[1]`, then every call's arguments in order, and every call's keys in
 * order, and its reply is cut per caller by `split`. No wrapper runs between the calls, so it costs
 * less per call than the generic batch; an error raised by the script fails every call of the run.
 *
 * @example
 * ```ts
 * const check = createMultiCallBatcher(valkit.connection, CHECKS, { split: (r, calls) => calls.map((_, i) => (r as number[])[i]!) })
 * const allowed = await check({ keys: [key], args: [limit] })
 * ```
 */
export function createMultiCallBatcher(
  target: ScriptTarget,
  script: Script,
  options: MultiCallBatcherOptions,
): (call: ScriptCall) => Promise<RedisReply> {
  const run = options.buffers === true ? BUFFERS : undefined
  const { split } = options
  const send = (batch: Waiting<ScriptCall>[]): void => {
    const keys: RedisArg[] = []
    const args: RedisArg[] = [batch.length]
    const calls: ScriptCall[] = new Array<ScriptCall>(batch.length)
    for (let i = 0; i < batch.length; i++) {
      const call = (calls[i] = batch[i]!.item)
      for (const key of call.keys) keys.push(key)
      for (const arg of call.args) args.push(arg)
    }
    runScript(target, withKeyCount(script, keys.length), keys, args, run).then(
      (reply) => {
        const replies = split(reply, calls)
        for (let i = 0; i < batch.length; i++) batch[i]!.resolve(replies[i] ?? null)
      },
      (err: unknown) => {
        for (const w of batch) w.reject(err)
      },
    )
  }
  return turnBatches<ScriptCall>(options, (call) => call.keys[0], send)
}
