/**
 * Commands valkit may send again after a lost reply without changing the outcome. Anything
 * not listed (INCR, LPUSH, XADD, EVAL of an unknown script, ...) is sent once; a caller that
 * knows better passes `idempotent: true`.
 */
export const IDEMPOTENT_COMMANDS: ReadonlySet<string> = new Set([
  // reads
  'GET',
  'MGET',
  'GETRANGE',
  'STRLEN',
  'EXISTS',
  'TYPE',
  'TTL',
  'PTTL',
  'EXPIRETIME',
  'PEXPIRETIME',
  'HGET',
  'HMGET',
  'HGETALL',
  'HEXISTS',
  'HLEN',
  'HKEYS',
  'HVALS',
  'HSCAN',
  'LRANGE',
  'LLEN',
  'LINDEX',
  'LPOS',
  'SMEMBERS',
  'SISMEMBER',
  'SMISMEMBER',
  'SCARD',
  'SSCAN',
  'ZRANGE',
  'ZRANGEBYSCORE',
  'ZREVRANGE',
  'ZSCORE',
  'ZMSCORE',
  'ZCARD',
  'ZCOUNT',
  'ZRANK',
  'ZREVRANK',
  'ZSCAN',
  'XRANGE',
  'XREVRANGE',
  'XLEN',
  'XINFO',
  'XPENDING',
  'SCAN',
  'DBSIZE',
  'INFO',
  'PING',
  'ROLE',
  'TIME',
  'ECHO',
  'MEMORY',
  'OBJECT',
  'DUMP',
  'PFCOUNT',
  'BITCOUNT',
  'GETBIT',
  'BITPOS',
  'CLUSTER',
  'CONFIG',
  'SLOWLOG',
  'LATENCY',
  'COMMAND',
  'SCRIPT',
  // writes whose repetition leaves the same state
  'SET',
  'MSET',
  'DEL',
  'UNLINK',
  'EXPIRE',
  'PEXPIRE',
  'EXPIREAT',
  'PEXPIREAT',
  'PERSIST',
  'HSET',
  'HMSET',
  'HDEL',
  'SADD',
  'SREM',
  'ZREM',
  'PFADD',
  'SETBIT',
])

/** Upper-cases only when needed (commands are usually written upper-case already). */
export function commandName(first: unknown): string {
  const s = typeof first === 'string' ? first : Buffer.isBuffer(first) ? first.toString() : String(first)
  return s === s.toUpperCase() ? s : s.toUpperCase()
}

/** `SET` with `NX`, `XX` or `GET` answers differently the second time: not idempotent. */
function setFlagsBlockRetry(args: readonly unknown[]): boolean {
  for (let i = 3; i < args.length; i++) {
    const a = args[i]
    const s = typeof a === 'string' ? a.toUpperCase() : ''
    if (s === 'NX' || s === 'XX' || s === 'GET') return true
  }
  return false
}

/** Whether sending `args` again after a lost reply leaves the same outcome (see the table above). */
export function isIdempotentCommand(args: readonly unknown[]): boolean {
  const first = args[0]
  let name = typeof first === 'string' ? first : commandName(first)
  if (!IDEMPOTENT_COMMANDS.has(name)) {
    const upper = name.toUpperCase()
    if (upper === name || !IDEMPOTENT_COMMANDS.has(upper)) return false
    name = upper
  }
  return name !== 'SET' || !setFlagsBlockRetry(args)
}
