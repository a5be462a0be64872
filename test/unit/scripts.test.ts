import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { defineScript, loadScript, parseScriptHeader, runScript } from '../../src/core/scripts/index.js'
import type { ScriptTarget } from '../../src/core/scripts/index.js'
import { ValkitError, isValkitError } from '../../src/core/errors.js'

const FIXTURE = new URL('../fixtures/scripts/incr-capped-1.lua', import.meta.url)
const malformed = (err: unknown) => isValkitError(err, 'VALKIT_SCRIPT')

const RELEASE = `--[[ Release a lock if this owner holds it.
  KEYS[1] lock key      ARGV[1] owner token
  Returns 1 released | -1 not held | -2 held by another owner ]]
local holder = redis.call('GET', KEYS[1])
if not holder then return -1 end
if holder ~= ARGV[1] then return -2 end
return redis.call('DEL', KEYS[1])
`

void describe('parseScriptHeader', () => {
  void it('reads description, KEYS, ARGV and Returns, also several on one line', () => {
    assert.deepEqual(parseScriptHeader(RELEASE), {
      description: 'Release a lock if this owner holds it.',
      keys: ['lock key'],
      args: ['owner token'],
      returns: '1 released | -1 not held | -2 held by another owner',
    })
  })

  void it('accepts a shebang line before the header', () => {
    const header = parseScriptHeader(`#!lua flags=no-writes\n--[[ Read.\n Returns 1 ]]\nreturn 1`)
    assert.equal(header.description, 'Read.')
    assert.deepEqual(header.keys, [])
  })

  void it('rejects a missing header, description or Returns, and skipped indexes', () => {
    assert.throws(() => parseScriptHeader('return 1'), malformed)
    assert.throws(() => parseScriptHeader('-- Read.\nreturn 1'), malformed)
    assert.throws(() => parseScriptHeader('--[[ KEYS[1] k  Returns 1 ]]'), malformed)
    assert.throws(() => parseScriptHeader('--[[ Read. KEYS[1] k ]]'), malformed)
    assert.throws(() => parseScriptHeader('--[[ Read. KEYS[2] k Returns 1 ]]'), malformed)
  })
})

void describe('defineScript and loadScript', () => {
  void it('computes the SHA1 of the exact source up front', () => {
    const script = defineScript({ name: 'release-lock-1.lua', source: RELEASE })
    assert.equal(script.name, 'release-lock')
    assert.equal(script.numberOfKeys, 1)
    assert.equal(script.sha, createHash('sha1').update(RELEASE).digest('hex'))
    assert.match(script.sha, /^[0-9a-f]{40}$/)
  })

  void it('takes numberOfKeys from the options or the name, and checks it against the header and body', () => {
    assert.equal(defineScript({ name: 'release-lock', source: RELEASE, numberOfKeys: 1 }).numberOfKeys, 1)
    assert.throws(() => defineScript({ name: 'release-lock', source: RELEASE }), malformed)
    assert.throws(() => defineScript({ name: 'release-lock-2', source: RELEASE }), malformed)
    const readsKey2 = RELEASE.replace("redis.call('DEL', KEYS[1])", "redis.call('DEL', KEYS[2])")
    assert.throws(() => defineScript({ name: 'release-lock-1', source: readsKey2 }), malformed)
    assert.throws(() => defineScript({ name: 'Bad Name!', source: RELEASE }), malformed)
  })

  void it('loads a .lua file relative to import.meta.url (URL or path)', () => {
    const fromUrl = loadScript(FIXTURE)
    assert.equal(fromUrl.name, 'incr-capped')
    assert.equal(fromUrl.numberOfKeys, 1)
    assert.deepEqual(fromUrl.header.args.length, 2)
    assert.equal(fromUrl.sha, createHash('sha1').update(readFileSync(FIXTURE)).digest('hex'))
    assert.equal(loadScript(FIXTURE.pathname).sha, fromUrl.sha)
    assert.throws(() => loadScript(new URL('./missing-1.lua', FIXTURE)), malformed)
  })
})

void describe('runScript (without a server)', () => {
  const script = defineScript({ name: 'release-lock-1', source: RELEASE })
  const unused: ScriptTarget = {
    command: () => Promise.reject(new Error('no command should be sent')),
  }

  void it('rejects a wrong number of keys before sending anything', async () => {
    await assert.rejects(runScript(unused, script, [], []), (err) =>
      isValkitError(err, 'VALKIT_INVALID_ARGUMENT'),
    )
    await assert.rejects(runScript(unused, script, ['a', 'b'], []), (err) =>
      isValkitError(err, 'VALKIT_INVALID_ARGUMENT'),
    )
  })

  void it('lets transport errors classified by the connection layer through unchanged', async () => {
    // Stands for valkit's connection while the server is down; error replies are covered by
    // test/integration/scripts.test.ts against real servers.
    const down = new ValkitError('VALKIT_UNAVAILABLE', 'The server is not reachable.')
    const offline: ScriptTarget = { command: () => Promise.reject(down) }
    await assert.rejects(runScript(offline, script, ['k'], ['t']), (err) => err === down)
  })
})
