import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import * as zlib from 'node:zlib'
import { test, type TestContext } from 'node:test'
import { isValkitError } from '../../src/core/index.js'
import { crc32, openJournal, type Journal, type JournalOptions } from '../../src/queue/journal.js'

const REPO = fileURLToPath(new URL('../..', import.meta.url))
const JOURNAL_MODULE = pathToFileURL(join(REPO, 'src/queue/journal.ts')).href

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'valkit-journal-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** Opens a journal closed at the end of the test. */
async function opened(t: TestContext, options: JournalOptions): Promise<Journal> {
  const journal = await openJournal(options)
  t.after(() => journal.close())
  return journal
}

async function drain(journal: Journal): Promise<unknown[]> {
  const seen: unknown[] = []
  await journal.replay(async (record) => void seen.push(record))
  return seen
}

/** Bytes one record takes in the file: the 9-byte header and its JSON. */
const frameBytes = (record: unknown): number => 9 + Buffer.byteLength(JSON.stringify(record))

const jobs = (count: number, from = 0): Array<{ id: string; n: number }> =>
  Array.from({ length: count }, (_, i) => ({ id: `job-${from + i}`, n: from + i }))

test('crc32 is the standard IEEE CRC-32 and continues over several buffers', () => {
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926)
  assert.equal(crc32(Buffer.alloc(0)), 0)
  const data = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 31 + 7) & 0xff))
  assert.equal(crc32(data.subarray(1000), crc32(data.subarray(0, 1000))), crc32(data))
  const native = (zlib as { crc32?: (data: Uint8Array) => number }).crc32
  if (native !== undefined) assert.equal(crc32(data), native(data))
})

test('records come back in append order with their contents, and the journal is empty after', async (t) => {
  const dir = await tempDir(t)
  const journal = await opened(t, { path: join(dir, 'nested', 'deeper', 'jobs.journal') })
  const records = [
    { id: 'a', data: { n: 1 } },
    'text',
    42,
    null,
    [1, 2, 3],
    { id: 'é ☃ 🐙', data: 'x'.repeat(5000) },
  ]
  for (const record of records) await journal.append(record)
  assert.equal(journal.size, records.length)
  assert.equal(
    journal.bytes,
    records.reduce((sum: number, r) => sum + frameBytes(r), 0),
  )

  const indexes: number[] = []
  const seen: unknown[] = []
  const result = await journal.replay(async (record, index) => {
    seen.push(record)
    indexes.push(index)
  })
  assert.deepEqual(seen, records)
  assert.deepEqual(indexes, [0, 1, 2, 3, 4, 5])
  assert.deepEqual(result, { replayed: records.length })
  assert.equal(journal.size, 0)
  assert.equal(journal.bytes, 0)
  assert.equal((await stat(journal.path)).size, 0)
  assert.deepEqual(await drain(journal), [])
  assert.equal(journal.stats().replayed, records.length)
})

test('records survive close and reopen; appends after reopen go after them', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'jobs.journal')
  const first = await openJournal({ path })
  for (const job of jobs(3)) await first.append(job)
  await first.close()

  const second = await opened(t, { path })
  assert.equal(second.size, 3)
  assert.deepEqual(second.recovery, { records: 3, corruptAt: null, reason: null, truncatedBytes: 0 })
  await second.append(jobs(1, 3)[0])
  assert.deepEqual(await drain(second), jobs(4))
})

test('a torn last record (a crash in the middle of its write) is cut off and counted; the rest survive', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'jobs.journal')
  const first = await openJournal({ path })
  for (const job of jobs(3)) await first.append(job)
  await first.close()
  const intact = await readFile(path)

  // The start of a fourth record: a whole header and part of its payload.
  const json = Buffer.from(JSON.stringify({ id: 'job-3', n: 3 }))
  const torn = Buffer.alloc(9 + 5)
  torn[0] = 0xb1
  torn.writeUInt32LE(json.length, 1)
  torn.writeUInt32LE(crc32(json, crc32(torn.subarray(0, 5))), 5)
  json.copy(torn, 9, 0, 5)
  await appendFile(path, torn)

  const journal = await opened(t, { path })
  assert.equal(journal.size, 3)
  assert.equal(journal.stats().corruptTail, 1)
  assert.equal(journal.stats().truncatedBytes, torn.length)
  assert.deepEqual(journal.recovery, {
    records: 3,
    corruptAt: intact.length,
    reason: 'torn',
    truncatedBytes: torn.length,
  })
  assert.deepEqual(await readFile(path), intact, 'the file is cut back to its intact records')

  await journal.append({ id: 'job-3', n: 3 })
  assert.deepEqual(await drain(journal), jobs(4))
})

test('a few stray bytes (less than a header) and a zeroed tail are cut off too', async (t) => {
  const dir = await tempDir(t)
  for (const [tail, reason] of [
    [Buffer.from([0xb1, 0x02, 0x00]), 'torn'],
    [Buffer.alloc(4096), 'header'],
  ] as const) {
    const path = join(dir, `${reason}.journal`)
    const first = await openJournal({ path })
    for (const job of jobs(2)) await first.append(job)
    await first.close()
    await appendFile(path, tail)

    const journal = await openJournal({ path })
    assert.equal(journal.recovery.reason, reason)
    assert.equal(journal.stats().truncatedBytes, tail.length)
    assert.deepEqual(await drain(journal), jobs(2))
    await journal.close()
  }
})

test('a flipped byte in a middle record: the records before it are kept, it and the ones after it are cut off', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'jobs.journal')
  const records = jobs(5)
  const first = await openJournal({ path })
  for (const job of records) await first.append(job)
  await first.close()

  const file = await readFile(path)
  const third = frameBytes(records[0]) + frameBytes(records[1])
  file[third + 9 + 3]! ^= 0x01 // one bit of the third record's payload
  await writeFile(path, file)

  const journal = await opened(t, { path })
  assert.equal(journal.size, 2)
  assert.deepEqual(journal.recovery, {
    records: 2,
    corruptAt: third,
    reason: 'checksum',
    truncatedBytes: file.length - third,
  })
  assert.equal(journal.stats().corruptTail, 1)
  assert.equal((await stat(path)).size, third)
  assert.deepEqual(await drain(journal), records.slice(0, 2))
})

test('a flipped bit in a length field is caught by the checksum as well', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'jobs.journal')
  const records = jobs(3)
  const first = await openJournal({ path })
  for (const job of records) await first.append(job)
  await first.close()

  const file = await readFile(path)
  const second = frameBytes(records[0])
  file[second + 1]! ^= 0x01 // the length is one off: the record still fits in the file
  await writeFile(path, file)

  const journal = await opened(t, { path })
  assert.equal(journal.recovery.reason, 'checksum')
  assert.deepEqual(await drain(journal), records.slice(0, 1))
})

test('an append that would pass maxBytes rejects with VALKIT_JOURNAL_FULL and leaves the file as it was', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'jobs.journal')
  const [a, b, c] = jobs(3)
  const journal = await opened(t, { path, maxBytes: frameBytes(a) + frameBytes(b) })
  await journal.append(a)
  await journal.append(b)
  const before = await readFile(path)

  await assert.rejects(journal.append(c), (err: unknown) => {
    assert.ok(isValkitError(err, 'VALKIT_JOURNAL_FULL'))
    assert.equal(err.details?.path, path)
    assert.equal(err.details?.maxBytes, frameBytes(a) + frameBytes(b))
    assert.match(err.message, /100%/)
    assert.match(err.message, /replay/i)
    return true
  })
  assert.deepEqual(await readFile(path), before)
  assert.equal(journal.size, 2)
  assert.equal(journal.stats().rejectedFull, 1)

  // Replaying makes room again.
  assert.deepEqual(await drain(journal), [a, b])
  await journal.append(c)
  assert.deepEqual(await drain(journal), [c])
})

test('with group commit, concurrent appends past maxBytes: the ones that fit are written, the rest refused', async (t) => {
  const dir = await tempDir(t)
  const records = jobs(10)
  const journal = await opened(t, {
    path: join(dir, 'jobs.journal'),
    fsync: 'batch',
    maxBytes: records.slice(0, 4).reduce((sum, r) => sum + frameBytes(r), 0),
  })
  const outcomes = await Promise.allSettled(records.map((r) => journal.append(r)))
  assert.deepEqual(
    outcomes.map((o) => o.status),
    [...Array<string>(4).fill('fulfilled'), ...Array<string>(6).fill('rejected')],
  )
  for (const o of outcomes.slice(4)) {
    assert.ok(o.status === 'rejected' && isValkitError(o.reason, 'VALKIT_JOURNAL_FULL'))
  }
  assert.deepEqual(await drain(journal), records.slice(0, 4))
})

test("fsync 'batch': 500 concurrent appends share flushes, all resolve, and replay in call order", async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'jobs.journal')
  const journal = await openJournal({ path, fsync: 'batch' })
  const records = jobs(500)
  await Promise.all(records.map((r) => journal.append(r)))
  assert.equal(journal.size, 500)
  const { flushes, appended } = journal.stats()
  assert.equal(appended, 500)
  assert.ok(flushes < 500 / 10, `500 appends in ${flushes} flushes`)
  await journal.close()

  // Durable and in order: a fresh open reads them all from the file.
  const reopened = await opened(t, { path })
  assert.deepEqual(await drain(reopened), records)
})

test("fsync 'always': one flush per append, in call order", async (t) => {
  const dir = await tempDir(t)
  const journal = await opened(t, { path: join(dir, 'jobs.journal') })
  const records = jobs(50)
  await Promise.all(records.map((r) => journal.append(r)))
  assert.equal(journal.stats().flushes, 50)
  assert.deepEqual(await drain(journal), records)
})

test('a handler that fails mid-replay: the records before are removed, the rest stay for the next replay', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'jobs.journal')
  const records = jobs(10)
  const journal = await opened(t, { path })
  for (const r of records) await journal.append(r)

  const seen: unknown[] = []
  const down = new Error('Redis went away again')
  await assert.rejects(
    journal.replay(
      async (record, index) => {
        if (index === 4) throw down
        seen.push(record)
      },
      { batch: 3 },
    ),
    (err) => err === down,
  )
  assert.deepEqual(seen, records.slice(0, 4))
  assert.equal(journal.size, 6)
  assert.equal(journal.stats().replayed, 4)
  assert.equal(
    (await stat(path)).size,
    records.slice(4).reduce((sum, r) => sum + frameBytes(r), 0),
  )

  // The journal keeps working on the rewritten file, and survives a reopen.
  await journal.append(jobs(1, 10)[0])
  await journal.close()
  const reopened = await opened(t, { path })
  assert.deepEqual(reopened.recovery.reason, null)
  assert.deepEqual(await drain(reopened), jobs(7, 4))
})

test('a handler that fails on the first record removes nothing', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'jobs.journal')
  const journal = await opened(t, { path })
  for (const r of jobs(3)) await journal.append(r)
  const before = await readFile(path)
  await assert.rejects(
    journal.replay(async () => {
      throw new Error('no')
    }),
    /no/,
  )
  assert.deepEqual(await readFile(path), before)
  assert.deepEqual(await drain(journal), jobs(3))
})

test('appends during a replay go after the replayed records, are not handed to it, and survive its truncation', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'jobs.journal')
  for (const fsync of ['always', 'batch'] as const) {
    const journal = await openJournal({ path, fsync })
    for (const r of jobs(5)) await journal.append(r)

    const seen: unknown[] = []
    const during: Array<Promise<void>> = []
    const { replayed } = await journal.replay(async (record, index) => {
      seen.push(record)
      // One awaited in the handler, one left running past its record.
      if (index === 1) await journal.append({ id: 'new-1' })
      if (index === 3) during.push(journal.append({ id: 'new-2' }))
    })
    await Promise.all(during)
    assert.equal(replayed, 5)
    assert.deepEqual(seen, jobs(5))
    assert.equal(journal.size, 2)
    await journal.close()

    const reopened = await openJournal({ path })
    assert.deepEqual(await drain(reopened), [{ id: 'new-1' }, { id: 'new-2' }])
    await reopened.close()
  }
})

test('appends during a failing replay go after the records it leaves', async (t) => {
  const dir = await tempDir(t)
  const journal = await opened(t, { path: join(dir, 'jobs.journal'), fsync: 'batch' })
  for (const r of jobs(4)) await journal.append(r)
  await assert.rejects(
    journal.replay(async (_record, index) => {
      if (index === 0) await journal.append({ id: 'new' })
      if (index === 2) throw new Error('down')
    }),
    /down/,
  )
  assert.deepEqual(await drain(journal), [...jobs(2, 2), { id: 'new' }])
})

test('two replays at once run one after the other: nothing is handed over twice', async (t) => {
  const dir = await tempDir(t)
  const journal = await opened(t, { path: join(dir, 'jobs.journal') })
  for (const r of jobs(20)) await journal.append(r)
  const seen: unknown[] = []
  const handler = async (record: unknown): Promise<void> => void seen.push(record)
  const [first, second] = await Promise.all([journal.replay(handler), journal.replay(handler)])
  assert.deepEqual([first.replayed, second.replayed], [20, 0])
  assert.deepEqual(seen, jobs(20))
})

test('close waits for accepted appends; afterwards calls reject with VALKIT_CLOSED', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'jobs.journal')
  const journal = await openJournal({ path, fsync: 'batch' })
  const appends = jobs(100).map((r) => journal.append(r))
  await journal.close()
  await Promise.all(appends)
  await journal.close() // idempotent
  await assert.rejects(journal.append({ id: 'late' }), (err) => isValkitError(err, 'VALKIT_CLOSED'))
  await assert.rejects(
    journal.replay(async () => undefined),
    (err) => isValkitError(err, 'VALKIT_CLOSED'),
  )
  const reopened = await opened(t, { path })
  assert.deepEqual(await drain(reopened), jobs(100))
})

test('close during a replay stops it after the record in hand and keeps the rest', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'jobs.journal')
  const journal = await openJournal({ path })
  for (const r of jobs(5)) await journal.append(r)
  let closing: Promise<void> | undefined
  await assert.rejects(
    journal.replay(async (_record, index) => {
      if (index === 1) closing = journal.close()
    }),
    (err) => isValkitError(err, 'VALKIT_CLOSED'),
  )
  await closing
  const reopened = await opened(t, { path })
  assert.deepEqual(await drain(reopened), jobs(3, 2))
})

test('bad input: options and records JSON cannot hold are refused, and nothing is written', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'jobs.journal')
  for (const options of [
    { path: '' },
    { path, maxBytes: 0 },
    { path, maxBytes: 1.5 },
    { path, fsync: 'sometimes' as 'always' },
  ]) {
    await assert.rejects(openJournal(options), (err) => isValkitError(err, 'VALKIT_INVALID_OPTION'))
  }
  const journal = await opened(t, { path })
  const circular: Record<string, unknown> = {}
  circular.self = circular
  for (const record of [undefined, () => 1, 10n, circular]) {
    await assert.rejects(journal.append(record), (err) => isValkitError(err, 'VALKIT_INVALID_ARGUMENT'))
  }
  await assert.rejects(
    journal.replay(async () => undefined, { batch: 0 }),
    (err) => isValkitError(err, 'VALKIT_INVALID_OPTION'),
  )
  assert.equal(journal.size, 0)
  assert.equal((await stat(path)).size, 0)
})

/** A child process that appends until it is killed, printing each id once its append resolved. */
const CHILD = `
import { openJournal } from ${JSON.stringify(JOURNAL_MODULE)}
const [path, fsync, concurrency] = process.argv.slice(2)
const journal = await openJournal({ path, fsync })
let next = 0
const worker = async () => {
  for (;;) {
    const n = next++
    await journal.append({ id: 'job-' + n, n, data: 'x'.repeat(300) })
    process.stdout.write(n + '\\n')
  }
}
await Promise.all(Array.from({ length: Number(concurrency) }, worker))
`

/** Runs the child, SIGKILLs it once `killAfter` appends were acknowledged, returns the acknowledged ids. */
function appendUntilKilled(
  script: string,
  path: string,
  fsync: string,
  killAfter: number,
): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', script, path, fsync, fsync === 'batch' ? '16' : '1'],
      {
        cwd: REPO,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let out = ''
    let err = ''
    const acked = (): number[] =>
      out
        .split('\n')
        .slice(0, -1) // a line without its newline was not fully printed
        .map(Number)
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk
      if (child.exitCode === null && child.signalCode === null && acked().length >= killAfter)
        child.kill('SIGKILL')
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk))
    child.on('error', reject)
    child.on('close', (code, signal) => {
      if (signal === 'SIGKILL') resolve(acked())
      else reject(new Error(`the child exited on its own (${code}): ${err}`))
    })
  })
}

for (const fsync of ['always', 'batch'] as const) {
  test(`a SIGKILLed process loses no acknowledged append (fsync '${fsync}')`, async (t) => {
    const dir = await tempDir(t)
    const script = join(dir, 'child.mjs')
    await writeFile(script, CHILD)
    const path = join(dir, 'jobs.journal')

    const acked = await appendUntilKilled(script, path, fsync, 300)
    assert.ok(acked.length >= 300)

    const journal = await opened(t, { path })
    const ids = ((await drain(journal)) as Array<{ n: number }>).map((r) => r.n)
    // Every record in the file, in the order of the append calls, with nothing missing...
    assert.deepEqual(
      ids,
      Array.from({ length: ids.length }, (_, i) => i),
    )
    // ...and every acknowledged one among them.
    const kept = new Set(ids)
    const lost = acked.filter((n) => !kept.has(n))
    assert.deepEqual(lost, [])
  })
}
