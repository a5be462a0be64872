/**
 * A local append-only journal: where the queue writes new jobs while Redis is down, and what
 * it replays when Redis is back. Generic: it stores any JSON value and knows nothing of jobs.
 *
 * ## Guarantees
 *
 * - `append` resolves only after the record's bytes are written and flushed to the disk
 *   (`fdatasync`); a process crash (or SIGKILL) after that loses nothing `append` acknowledged.
 *   macOS: Node's fsync does not ask the drive to empty its own cache (`F_FULLFSYNC`).
 * - Records are kept in the order of the `append` calls, and appends never interleave.
 * - Replay is **at-least-once**: the records handed to the handler are removed from the file
 *   only after the handler returned (all at the end, or up to the failing record). A crash
 *   between the two hands them over again on the next replay. Exactly-once is the caller's
 *   job: give every record an id (the job id) and make the handler idempotent on it.
 * - One process at a time: two processes appending to one file corrupt it.
 *
 * ## File format
 *
 * The file is a sequence of records, nothing else (no file header). One record:
 *
 * ```
 * offset  size  field
 * 0       1     magic and format version: 0xB1 (version 1)
 * 1       4     payload length in bytes, unsigned 32-bit little-endian
 * 5       4     CRC-32 (IEEE 802.3, the zlib/PNG one) of bytes 0-4 followed by the payload,
 *               unsigned 32-bit little-endian
 * 9       n     payload: the record as UTF-8 JSON (`JSON.stringify`)
 * ```
 *
 * ## Recovery
 *
 * `openJournal` reads every record. The first one that does not check out — cut short by a
 * crash during its write (`torn`), a wrong magic byte (`header`), a checksum that does not
 * match (`checksum`), a payload that is not JSON (`payload`) — ends the journal: the records
 * before it are kept, it and everything after it are cut off the file (counted in
 * `stats().corruptTail` and `stats().truncatedBytes`, described by `journal.recovery`). A crash
 * can only damage the last record, which was never acknowledged; a bad record in the middle
 * means the disk corrupted the file, and the records after it are lost with it because their
 * boundaries can no longer be trusted.
 *
 * @module
 */
import { constants, type Stats } from 'node:fs'
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import { ValkitError, invalidOption } from '../core/index.js'

const MAGIC = 0xb1
const HEADER_BYTES = 9
const READ_CHUNK_BYTES = 1024 * 1024
const DEFAULT_MAX_BYTES = 64 * 1024 * 1024
const DEFAULT_REPLAY_BATCH = 512

/** Options of {@link openJournal}. */
export interface JournalOptions {
  /** The journal file. Its directory is created if needed. */
  readonly path: string
  /**
   * The largest the file may grow, in bytes (headers included). An append that would pass it
   * rejects with `VALKIT_JOURNAL_FULL` and writes nothing.
   * @defaultValue 67108864 (64 MiB)
   */
  readonly maxBytes?: number
  /**
   * `'always'`: each append is written and flushed on its own, one after the other.
   * `'batch'`: group commit — appends that arrive while a flush is in progress are written
   * and flushed together in the next one (one fdatasync for many appends). Either way, an
   * append resolves only once its own bytes are on the disk.
   * @defaultValue 'always'
   */
  readonly fsync?: 'always' | 'batch'
}

/** Options of {@link Journal.replay}. */
export interface JournalReplayOptions {
  /**
   * How many records are read from the file and held in memory at a time.
   * @defaultValue 512
   */
  readonly batch?: number
}

/** Why {@link openJournal} cut the end of the file off. */
export type JournalCorruption = 'torn' | 'header' | 'checksum' | 'payload'

/** What {@link openJournal} found when it read the file. */
export interface JournalRecovery {
  /** Intact records found. */
  readonly records: number
  /** Where the first bad record started, or `null` when the file was intact. */
  readonly corruptAt: number | null
  /** What was wrong with it, or `null` when the file was intact. */
  readonly reason: JournalCorruption | null
  /** Bytes cut off the end of the file (0 when it was intact). */
  readonly truncatedBytes: number
}

/** The numbers of a journal since it was opened, as plain data. */
export interface JournalStats {
  /** Records in the file now (durable, not yet replayed). */
  readonly records: number
  /** Size of the file now, in bytes. */
  readonly bytes: number
  readonly maxBytes: number
  /** Appends acknowledged since open. */
  readonly appended: number
  /** Appends refused with `VALKIT_JOURNAL_FULL` since open. */
  readonly rejectedFull: number
  /** Records handed to a replay handler (and removed) since open. */
  readonly replayed: number
  /** Write-and-flush rounds; with `fsync: 'batch'` one round carries many appends. */
  readonly flushes: number
  /** Intact records found at open. */
  readonly recovered: number
  /** Bad tails cut off at open: 0 or 1. */
  readonly corruptTail: number
  /** Bytes cut off at open. */
  readonly truncatedBytes: number
}

/**
 * A local append-only journal of JSON records, durable on acknowledgement.
 *
 * @example
 * ```ts
 * const journal = await openJournal({ path: '/var/lib/app/queue.journal', fsync: 'batch' })
 * await journal.append({ id: job.id, name: job.name, data: job.data }) // on the disk now
 * // Redis is back:
 * await journal.replay(async (record) => { await queue.addIfAbsent(record as Job) })
 * ```
 */
export interface Journal {
  readonly path: string
  /** Records in the file (durable, not yet replayed). */
  readonly size: number
  /** Size of the file in bytes. */
  readonly bytes: number
  /** What opening found (and cut), see the module's "Recovery". */
  readonly recovery: JournalRecovery
  /**
   * Appends one record (any value `JSON.stringify` accepts; replay hands back what
   * `JSON.parse` makes of it) and resolves once it is durable.
   * Rejects with `VALKIT_JOURNAL_FULL` when the file would pass `maxBytes` or the disk is
   * full, `VALKIT_INVALID_ARGUMENT` for a value JSON cannot represent, `VALKIT_CLOSED` after
   * `close()`, or the system's error for a failed write. A record refused up front is not
   * written; one whose write or flush failed is cut off again, but may still have reached
   * the disk (harmless to a replay that dedupes by id). Appends may run during a replay: they go after the records being replayed,
   * are not handed to that replay, and stay in the journal for the next one.
   */
  append(record: unknown): Promise<void>
  /**
   * Hands every record in the journal when the call starts to `handler`, in order, one at a
   * time (`index` counts from 0 in this replay), then empties the file. When the handler
   * throws on a record, the records before it are removed, it and the ones after it stay,
   * and replay rejects with the handler's error; the next replay starts with that record.
   * At-least-once: a crash before the removal hands the same records over again, so the
   * handler must be idempotent (by job id). Replays run one after the other; the handler
   * may append, but must not call `replay` (it would wait for itself).
   */
  replay(
    handler: (record: unknown, index: number) => Promise<void>,
    options?: JournalReplayOptions,
  ): Promise<{ replayed: number }>
  /** The journal's numbers. */
  stats(): JournalStats
  /**
   * Waits for accepted appends to be durable and a running replay to stop (after the record
   * in hand), then closes the file. Later calls reject with `VALKIT_CLOSED`. Idempotent. A
   * replay handler may call it but must not await it (close waits for the replay).
   */
  close(): Promise<void>
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    table[n] = c >>> 0
  }
  return table
})()

/**
 * The standard CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, as in zlib, PNG and
 * gzip) of `data`; pass a previous result as `value` to continue it over more bytes. The
 * same as `zlib.crc32`, which Node 20 only has from 20.15 on.
 *
 * @example
 * ```ts
 * crc32(Buffer.from('123456789')) // 0xcbf43926
 * crc32(Buffer.from('6789'), crc32(Buffer.from('12345'))) // the same
 * ```
 */
export function crc32(data: Uint8Array, value = 0): number {
  let crc = ~value
  for (const byte of data) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8)
  return ~crc >>> 0
}

interface Resolved {
  readonly path: string
  readonly maxBytes: number
  readonly fsync: 'always' | 'batch'
}

function resolveOptions(options: JournalOptions): Resolved {
  if (typeof options !== 'object' || options === null) {
    throw invalidOption('journal', `got ${options === null ? 'null' : typeof options}`, 'an object')
  }
  const { path, maxBytes = DEFAULT_MAX_BYTES, fsync = 'always' } = options
  if (typeof path !== 'string' || path === '') {
    throw invalidOption('path', `got ${JSON.stringify(path)}`, 'a file path')
  }
  if (!Number.isSafeInteger(maxBytes) || maxBytes <= HEADER_BYTES) {
    throw invalidOption(
      'maxBytes',
      `got ${String(maxBytes)}`,
      `an integer number of bytes above ${HEADER_BYTES}`,
    )
  }
  if (fsync !== 'always' && fsync !== 'batch') {
    throw invalidOption('fsync', `got ${JSON.stringify(fsync)}`, "'always' or 'batch'")
  }
  return { path, maxBytes, fsync }
}

/** The record's bytes in the file, or why it cannot be stored. */
function encode(record: unknown): Buffer | ValkitError {
  let json: string | undefined
  try {
    json = JSON.stringify(record)
  } catch (cause) {
    return new ValkitError('VALKIT_INVALID_ARGUMENT', `A journal record must be JSON: ${String(cause)}.`, {
      cause,
    })
  }
  if (json === undefined) {
    return new ValkitError('VALKIT_INVALID_ARGUMENT', `A journal record must be JSON, got ${typeof record}.`)
  }
  const length = Buffer.byteLength(json)
  const frame = Buffer.allocUnsafe(HEADER_BYTES + length)
  frame[0] = MAGIC
  frame.writeUInt32LE(length, 1)
  frame.write(json, HEADER_BYTES, 'utf8')
  const crc = crc32(frame.subarray(HEADER_BYTES), crc32(frame.subarray(0, 5)))
  frame.writeUInt32LE(crc, 5)
  return frame
}

/** Positional reads through a window of the file, so small records cost no system call each. */
class WindowReader {
  private window = Buffer.alloc(0)
  private windowStart = 0

  constructor(
    private readonly handle: FileHandle,
    private readonly end: number,
  ) {}

  /** The bytes at [offset, offset + length), or `null` when they pass the end. */
  async read(offset: number, length: number): Promise<Buffer | null> {
    if (offset + length > this.end) return null
    const from = offset - this.windowStart
    if (from >= 0 && from + length <= this.window.length) return this.window.subarray(from, from + length)
    const size = Math.min(Math.max(length, READ_CHUNK_BYTES), this.end - offset)
    const buffer = Buffer.allocUnsafe(size)
    let filled = 0
    while (filled < size) {
      const { bytesRead } = await this.handle.read(buffer, filled, size - filled, offset + filled)
      if (bytesRead === 0) return null
      filled += bytesRead
    }
    this.window = buffer
    this.windowStart = offset
    return buffer.subarray(0, length)
  }
}

type Scanned =
  | { readonly ok: true; readonly value: unknown; readonly end: number }
  | { readonly ok: false; readonly reason: JournalCorruption; readonly offset: number }

/** Reads and checks the records in [0, end), stopping at the first bad one. */
async function* scan(handle: FileHandle, end: number): AsyncGenerator<Scanned> {
  const reader = new WindowReader(handle, end)
  let offset = 0
  while (offset < end) {
    const header = await reader.read(offset, HEADER_BYTES)
    if (header === null) {
      yield { ok: false, reason: 'torn', offset }
      return
    }
    if (header[0] !== MAGIC) {
      yield { ok: false, reason: 'header', offset }
      return
    }
    const length = header.readUInt32LE(1)
    const expected = header.readUInt32LE(5)
    const crc = crc32(header.subarray(0, 5))
    const payload = await reader.read(offset + HEADER_BYTES, length)
    if (payload === null) {
      yield { ok: false, reason: 'torn', offset }
      return
    }
    if (crc32(payload, crc) !== expected) {
      yield { ok: false, reason: 'checksum', offset }
      return
    }
    let value: unknown
    try {
      value = JSON.parse(payload.toString('utf8'))
    } catch {
      {
        yield { ok: false, reason: 'payload', offset }
        return
      }
    }
    offset += HEADER_BYTES + length
    yield { ok: true, value, end: offset }
  }
}

async function writeAll(handle: FileHandle, data: Buffer, position: number): Promise<void> {
  let written = 0
  while (written < data.length) {
    const { bytesWritten } = await handle.write(data, written, data.length - written, position + written)
    written += bytesWritten
  }
}

/** Makes a file's creation or rename durable (not possible on Windows, where it is skipped). */
async function syncDirectory(path: string): Promise<void> {
  if (process.platform === 'win32') return
  const dir = await open(dirname(path), 'r')
  try {
    await dir.sync()
  } finally {
    await dir.close()
  }
}

const isDiskFull = (err: unknown): boolean =>
  err instanceof Error && ['ENOSPC', 'EDQUOT'].includes((err as NodeJS.ErrnoException).code ?? '')

interface PendingAppend {
  readonly frame: Buffer
  readonly resolve: () => void
  readonly reject: (err: unknown) => void
}

class FileJournal implements Journal {
  readonly path: string
  readonly recovery: JournalRecovery
  private readonly maxBytes: number
  private readonly groupCommit: boolean
  private handle: FileHandle
  private records: number
  private fileBytes: number
  private pending: PendingAppend[] = []
  private pendingBytes = 0
  private draining: Promise<void> | undefined
  private exclusiveTail: Promise<unknown> = Promise.resolve()
  private replayTail: Promise<unknown> = Promise.resolve()
  private closing = false
  private closed: Promise<void> | undefined
  private counts = { appended: 0, rejectedFull: 0, replayed: 0, flushes: 0 }

  constructor(options: Resolved, handle: FileHandle, recovery: JournalRecovery, bytes: number) {
    this.path = options.path
    this.maxBytes = options.maxBytes
    this.groupCommit = options.fsync === 'batch'
    this.handle = handle
    this.recovery = recovery
    this.records = recovery.records
    this.fileBytes = bytes
  }

  get size(): number {
    return this.records
  }

  get bytes(): number {
    return this.fileBytes
  }

  append(record: unknown): Promise<void> {
    if (this.closing) return Promise.reject(this.closedError())
    const frame = encode(record)
    if (frame instanceof ValkitError) return Promise.reject(frame)
    const used = this.fileBytes + this.pendingBytes
    if (used + frame.length > this.maxBytes) {
      this.counts.rejectedFull++
      return Promise.reject(this.fullError(used, frame.length))
    }
    // Queued synchronously, so the file keeps the order of the calls.
    const done = new Promise<void>((resolve, reject) => this.pending.push({ frame, resolve, reject }))
    this.pendingBytes += frame.length
    this.draining ??= this.drain()
    return done
  }

  async replay(
    handler: (record: unknown, index: number) => Promise<void>,
    options: JournalReplayOptions = {},
  ): Promise<{ replayed: number }> {
    if (typeof handler !== 'function') {
      throw new ValkitError('VALKIT_INVALID_ARGUMENT', 'replay needs a handler function.')
    }
    const { batch = DEFAULT_REPLAY_BATCH } = options
    if (!Number.isSafeInteger(batch) || batch < 1) {
      throw invalidOption('batch', `got ${String(batch)}`, 'a positive integer')
    }
    if (this.closing) throw this.closedError()
    const run = this.replayTail.then(() => this.replayOnce(handler, batch))
    this.replayTail = run.catch(() => undefined)
    return run
  }

  stats(): JournalStats {
    return {
      records: this.records,
      bytes: this.fileBytes,
      maxBytes: this.maxBytes,
      ...this.counts,
      recovered: this.recovery.records,
      corruptTail: this.recovery.corruptAt === null ? 0 : 1,
      truncatedBytes: this.recovery.truncatedBytes,
    }
  }

  close(): Promise<void> {
    this.closing = true
    this.closed ??= (async () => {
      await this.replayTail
      await this.draining
      await this.exclusive(() => this.handle.close())
    })()
    return this.closed
  }

  private async replayOnce(
    handler: (record: unknown, index: number) => Promise<void>,
    batch: number,
  ): Promise<{ replayed: number }> {
    if (this.closing) throw this.closedError()
    // Only what is durable now; appends made meanwhile land after `end` and are kept.
    const end = this.fileBytes
    let handedOver = 0
    let handedOverBytes = 0
    let failure: { error: unknown } | undefined
    try {
      const records = scan(this.handle, end)
      let chunk: Array<{ value: unknown; end: number }> = []
      const flushChunk = async (): Promise<void> => {
        for (const record of chunk) {
          if (this.closing) throw this.closedError()
          await handler(record.value, handedOver)
          handedOver++
          handedOverBytes = record.end
        }
        chunk = []
      }
      for await (const record of records) {
        if (!record.ok) {
          throw new ValkitError(
            'VALKIT_CORRUPT_VALUE',
            `Journal ${this.path} has a bad record at byte ${record.offset} (${record.reason}); reopen it to cut it off.`,
            { details: { path: this.path, offset: record.offset, reason: record.reason } },
          )
        }
        chunk.push(record)
        if (chunk.length >= batch) await flushChunk()
      }
      await flushChunk()
    } catch (error) {
      failure = { error }
    }
    try {
      if (handedOver > 0) await this.exclusive(() => this.dropFirst(handedOver, handedOverBytes))
    } catch (error) {
      // The records handed over stay in the file (the next replay hands them over again).
      failure ??= { error }
    }
    if (failure !== undefined) throw failure.error
    return { replayed: handedOver }
  }

  /** Removes the first `count` records (`bytes` long). Runs exclusively: no write meanwhile. */
  private async dropFirst(count: number, bytes: number): Promise<void> {
    if (bytes === this.fileBytes) {
      await this.handle.truncate(0)
      await this.handle.datasync()
    } else {
      const reader = new WindowReader(this.handle, this.fileBytes)
      const tail = await reader.read(bytes, this.fileBytes - bytes)
      if (tail === null) throw new Error(`Journal ${this.path} is shorter than expected.`)
      const temporary = `${this.path}.compact`
      const next = await open(temporary, 'w+')
      try {
        await writeAll(next, tail, 0)
        await next.datasync()
        await rename(temporary, this.path)
      } catch (err) {
        await next.close().catch(() => undefined)
        await rm(temporary, { force: true }).catch(() => undefined)
        throw err
      }
      // `next` now is the journal; the old handle points at the replaced file.
      const previous = this.handle
      this.handle = next
      this.forget(count, bytes)
      await previous.close().catch(() => undefined)
      await syncDirectory(this.path)
      return
    }
    this.forget(count, bytes)
  }

  private forget(count: number, bytes: number): void {
    this.records -= count
    this.fileBytes -= bytes
    this.counts.replayed += count
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0) await this.exclusive(() => this.flush())
    } finally {
      this.draining = undefined
    }
  }

  private async flush(): Promise<void> {
    const group = this.groupCommit ? this.pending.splice(0) : this.pending.splice(0, 1)
    if (group.length === 0) return
    const data = group.length === 1 ? group[0]!.frame : Buffer.concat(group.map((p) => p.frame))
    try {
      await writeAll(this.handle, data, this.fileBytes)
      await this.handle.datasync()
    } catch (cause) {
      this.pendingBytes -= data.length
      // Nothing of a failed round may stay in the file: the next round writes over it anyway,
      // and cutting it keeps a longer failed round from leaving bytes past the next one.
      await this.handle.truncate(this.fileBytes).catch(() => undefined)
      const error = isDiskFull(cause)
        ? this.fullError(this.fileBytes, data.length, cause)
        : cause instanceof Error
          ? cause
          : new Error(String(cause))
      for (const append of group) append.reject(error)
      return
    }
    this.pendingBytes -= data.length
    this.fileBytes += data.length
    this.records += group.length
    this.counts.appended += group.length
    this.counts.flushes++
    for (const append of group) append.resolve()
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.exclusiveTail.then(fn)
    this.exclusiveTail = run.catch(() => undefined)
    return run
  }

  private fullError(used: number, needed: number, cause?: unknown): ValkitError {
    const disk = cause !== undefined
    const message = disk
      ? `Journal ${this.path} cannot grow: the disk is full (${used} bytes in the journal, ${needed} more needed). Free disk space, or replay the journal once Redis is back.`
      : `Journal ${this.path} is full: ${used} of ${this.maxBytes} bytes used (${Math.floor((used / this.maxBytes) * 100)}%), this record needs ${needed} more. Replay the journal once Redis is back, or raise maxBytes.`
    return new ValkitError('VALKIT_JOURNAL_FULL', message, {
      cause,
      details: {
        path: this.path,
        maxBytes: this.maxBytes,
        bytes: used,
        needed,
        reason: disk ? 'disk' : 'limit',
      },
    })
  }

  private closedError(): ValkitError {
    return new ValkitError('VALKIT_CLOSED', `Journal ${this.path} is closed.`, {
      details: { path: this.path },
    })
  }
}

/**
 * Opens (or creates) a journal file, reading and checking the records already in it: a bad
 * end left by a crash is cut off and counted (see the module's "Recovery").
 *
 * @example
 * ```ts
 * const journal = await openJournal({ path: './data/jobs.journal', maxBytes: 16 * 1024 * 1024 })
 * if (journal.recovery.reason !== null) log.warn({ recovery: journal.recovery }, 'journal tail cut')
 * ```
 */
export async function openJournal(options: JournalOptions): Promise<Journal> {
  const resolved = resolveOptions(options)
  await mkdir(dirname(resolved.path), { recursive: true })
  // A compaction that crashed before its rename left this; the journal itself is whole.
  await rm(`${resolved.path}.compact`, { force: true })
  const handle = await open(resolved.path, constants.O_RDWR | constants.O_CREAT)
  try {
    const stat: Stats = await handle.stat()
    if (!stat.isFile()) throw new Error(`Journal ${resolved.path} is not a regular file.`)
    await syncDirectory(resolved.path)
    let records = 0
    let good = 0
    let bad: { offset: number; reason: JournalCorruption } | undefined
    for await (const record of scan(handle, stat.size)) {
      if (!record.ok) {
        bad = record
        break
      }
      records++
      good = record.end
    }
    if (bad !== undefined) {
      await handle.truncate(good)
      await handle.datasync()
    }
    const recovery: JournalRecovery = {
      records,
      corruptAt: bad?.offset ?? null,
      reason: bad?.reason ?? null,
      truncatedBytes: stat.size - good,
    }
    return new FileJournal(resolved, handle, recovery, good)
  } catch (err) {
    await handle.close().catch(() => undefined)
    throw err
  }
}
