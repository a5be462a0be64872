// Runs the test suites with Node's test runner (TypeScript through tsx).
//   node scripts/test.mjs                 every suite
//   node scripts/test.mjs unit browser    only those folders under test/
// Integration suites run once per installed engine (redis-server, valkey-server); which engines
// are used can be narrowed with VALKIT_TEST_ENGINES=redis or =valkey.
//
// Two phases: unit, integration and browser files run a few at a time; the chaos files (which
// kill and freeze servers and count lost writes) run one at a time afterwards, so that another
// suite's load cannot starve a replica and blur what they measure. The last line sums both.
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const SUITES = ['unit', 'integration', 'conformance', 'browser', 'chaos']
const SEQUENTIAL = new Set(['chaos'])
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

const concurrent = suites.filter((s) => !SEQUENTIAL.has(s)).flatMap((s) => files(join('test', s)))
const sequential = suites.filter((s) => SEQUENTIAL.has(s)).flatMap((s) => files(join('test', s)))
if (concurrent.length + sequential.length === 0) {
  console.error('valkit tests: no test files found')
  process.exit(1)
}

const reports = mkdtempSync(join(tmpdir(), 'valkit-test-report-'))
const env = {
  // Tests kill and freeze servers on purpose: valkit's own warnings would drown the report.
  VALKIT_LOG_LEVEL: 'silent',
  ...process.env,
  VALKIT_TEST_ENGINES: engines.join(','),
}

function run(testFiles, concurrency, name) {
  if (testFiles.length === 0) return Promise.resolve({ code: 0, tap: '' })
  const tapFile = join(reports, `${name}.tap`)
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--test',
        `--test-concurrency=${concurrency}`,
        '--test-reporter=spec',
        '--test-reporter-destination=stdout',
        '--test-reporter=tap',
        `--test-reporter-destination=${tapFile}`,
        ...testFiles,
      ],
      { stdio: 'inherit', env },
    )
    child.on('exit', (code, signal) => {
      let tap = ''
      try {
        tap = readFileSync(tapFile, 'utf8')
      } catch {
        // no report: the runner died; the exit code says so
      }
      resolve({ code: code ?? (signal ? 1 : 0), tap })
    })
  })
}

const count = (tap, what) =>
  [...tap.matchAll(new RegExp(`^# ${what} (\\d+)$`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0)

const first = await run(concurrent, process.env.VALKIT_TEST_CONCURRENCY ?? '3', 'concurrent')
const second = await run(sequential, '1', 'sequential')
rmSync(reports, { recursive: true, force: true })

const tap = first.tap + second.tap
const passed = count(tap, 'pass')
const failed = count(tap, 'fail') + count(tap, 'cancelled')
const skipped = count(tap, 'skipped') + count(tap, 'todo')
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`)
process.exit(first.code !== 0 || second.code !== 0 || failed > 0 ? 1 : 0)
