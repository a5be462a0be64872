// Runs the test suites with Node's test runner (TypeScript through tsx).
//   node scripts/test.mjs                 every suite
//   node scripts/test.mjs unit browser    only those folders under test/
// Integration suites run once per installed engine (redis-server, valkey-server); which engines
// are used can be narrowed with VALKIT_TEST_ENGINES=redis or =valkey.
import { spawnSync, spawn } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

const SUITES = ['unit', 'integration', 'chaos', 'browser']
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'))
const suites = wanted.length > 0 ? wanted : SUITES

const has = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0
const engines = (process.env.VALKIT_TEST_ENGINES ?? 'redis,valkey')
  .split(',')
  .map((e) => e.trim())
  .filter((e) => e && has(`${e}-server`))

if (suites.some((s) => s !== 'unit') && engines.length === 0) {
  console.error(
    'valkit tests: no redis-server or valkey-server found on PATH.\n' +
      '  Debian/Ubuntu: apt-get install redis-server redis-sentinel redis-tools\n' +
      '  Valkey (Debian bookworm-backports): apt-get install -t bookworm-backports valkey-server valkey-sentinel valkey-tools\n' +
      '  or run `bash .ci/run`, which installs them.',
  )
  process.exit(1)
}
console.log(`valkit tests: suites ${suites.join(', ')}; engines ${engines.join(', ') || '(none: unit only)'}`)

function files(dir) {
  let out = []
  let entries = []
  try {
    entries = readdirSync(dir)
  } catch {
    return out
  }
  for (const name of entries.sort()) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out = out.concat(files(path))
    else if (name.endsWith('.test.ts')) out.push(path)
  }
  return out
}

const testFiles = suites.flatMap((s) => files(join('test', s)))
if (testFiles.length === 0) {
  console.error('valkit tests: no test files found')
  process.exit(1)
}
const concurrency = process.env.VALKIT_TEST_CONCURRENCY ?? '3'
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...testFiles],
  { stdio: 'inherit', env: { ...process.env, VALKIT_TEST_ENGINES: engines.join(',') } },
)
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)))
