import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isValkitError } from '../../src/core/errors.js'
import { createMetricsRegistry, QuantileSketch } from '../../src/core/telemetry/index.js'
import type { MetricSnapshot } from '../../src/core/telemetry/index.js'

interface ParsedSample {
  name: string
  labels: Record<string, string>
  value: number
}
interface ParsedFamily {
  help: string
  type: string
  samples: ParsedSample[]
}

/** A strict parser of the Prometheus text format 0.0.4 (the subset valkit writes). */
function parsePrometheus(text: string): Map<string, ParsedFamily> {
  assert.ok(text.endsWith('\n'), 'output ends with a newline')
  const families = new Map<string, ParsedFamily>()
  let current: { name: string; family: ParsedFamily } | undefined
  for (const line of text.slice(0, -1).split('\n')) {
    let m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line)
    if (m) {
      const help = m[2]!.replace(/\\(\\|n)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'))
      current = { name: m[1]!, family: { help, type: '', samples: [] } }
      assert.ok(!families.has(m[1]!), `family ${m[1]} appears once`)
      families.set(m[1]!, current.family)
      continue
    }
    m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line)
    if (m) {
      assert.equal(m[1], current?.name, 'TYPE follows its HELP')
      current!.family.type = m[2]!
      continue
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(line)
    assert.ok(m, `sample line is well formed: ${JSON.stringify(line)}`)
    const [, name, rawLabels, rawValue] = m
    assert.ok(current && name!.startsWith(current.name), `sample ${name} belongs to ${current?.name}`)
    const labels: Record<string, string> = {}
    if (rawLabels !== undefined) {
      const body = rawLabels.slice(1, -1)
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/gy
      let pos = 0
      let lm: RegExpExecArray | null
      while ((lm = re.exec(body)) !== null) {
        labels[lm[1]!] = lm[2]!.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c))
        pos = re.lastIndex
        if (lm[3] === '') break
      }
      assert.equal(pos, body.length, `labels parse fully: ${rawLabels}`)
    }
    const value = rawValue === '+Inf' ? Infinity : rawValue === '-Inf' ? -Infinity : Number(rawValue)
    assert.ok(rawValue === 'NaN' || !Number.isNaN(value), `value is a number: ${rawValue}`)
    current.family.samples.push({ name: name!, labels, value })
  }
  return families
}

/** The samples a snapshot implies, in Prometheus form, to compare with the parsed output. */
function samplesOf(snapshot: MetricSnapshot): ParsedSample[] {
  const out: ParsedSample[] = []
  for (const s of snapshot.samples) {
    if ('value' in s) {
      out.push({ name: snapshot.name, labels: { ...s.labels }, value: s.value })
      continue
    }
    for (const b of s.buckets)
      out.push({ name: `${snapshot.name}_bucket`, labels: { ...s.labels, le: String(b.le) }, value: b.count })
    out.push({ name: `${snapshot.name}_bucket`, labels: { ...s.labels, le: '+Inf' }, value: s.count })
    out.push({ name: `${snapshot.name}_sum`, labels: { ...s.labels }, value: s.sum })
    out.push({ name: `${snapshot.name}_count`, labels: { ...s.labels }, value: s.count })
  }
  return out
}

void describe('metrics registry', () => {
  void it('prints counters, gauges and histograms with labels and escaping that parse back exactly', () => {
    const registry = createMetricsRegistry()
    const commands = registry.counter({
      name: 'commands_total',
      help: 'Commands sent.\nSecond line with a \\ backslash.',
      labelNames: ['op', 'result'],
    })
    commands.labels({ op: 'get', result: 'ok' }).inc()
    commands.labels({ op: 'get', result: 'ok' }).inc(2)
    commands.labels({ op: 'we"ird\\va\nlue', result: 'error' }).inc(0.5)
    const connections = registry.gauge({ name: 'connections', help: 'Open connections.' })
    connections.set(3)
    connections.dec()
    const latency = registry.histogram({
      name: 'command_duration_seconds',
      help: 'Command latency.',
      labelNames: ['op'],
      buckets: [0.001, 0.01, 0.1],
    })
    for (const v of [0.0005, 0.001, 0.005, 0.05, 2]) latency.labels({ op: 'get' }).observe(v)

    const text = registry.toPrometheus()
    const families = parsePrometheus(text)
    assert.deepEqual(
      [...families.keys()],
      ['valkit_commands_total', 'valkit_connections', 'valkit_command_duration_seconds'],
    )
    const c = families.get('valkit_commands_total')!
    assert.equal(c.type, 'counter')
    assert.equal(c.help, 'Commands sent.\nSecond line with a \\ backslash.')
    assert.deepEqual(c.samples, [
      { name: 'valkit_commands_total', labels: { op: 'get', result: 'ok' }, value: 3 },
      { name: 'valkit_commands_total', labels: { op: 'we"ird\\va\nlue', result: 'error' }, value: 0.5 },
    ])
    assert.ok(text.includes('op="we\\"ird\\\\va\\nlue"'), 'label value escaped as \\" \\\\ \\n')
    assert.deepEqual(families.get('valkit_connections')!.samples, [
      { name: 'valkit_connections', labels: {}, value: 2 },
    ])
    const h = families.get('valkit_command_duration_seconds')!
    assert.equal(h.type, 'histogram')
    const bucketLines = h.samples.filter((s) => s.name.endsWith('_bucket')).map((s) => [s.labels.le, s.value])
    assert.deepEqual(bucketLines, [
      ['0.001', 2],
      ['0.01', 3],
      ['0.1', 4],
      ['+Inf', 5],
    ])
    assert.equal(h.samples.find((s) => s.name.endsWith('_count'))!.value, 5)
    assert.ok(Math.abs(h.samples.find((s) => s.name.endsWith('_sum'))!.value - 2.0565) < 1e-12)
    assert.ok(text.includes('valkit_command_duration_seconds_bucket{op="get",le="+Inf"} 5\n'))
  })

  void it('snapshot() holds the same numbers toPrometheus() prints', () => {
    const registry = createMetricsRegistry({ prefix: 'app_' })
    const hits = registry.counter({ name: 'hits_total', help: 'Hits.', labelNames: ['tier'] })
    hits.labels({ tier: 'l1' }).inc(5)
    hits.labels({ tier: 'l2' }).inc()
    let entries = 41
    registry.gauge({ name: 'entries', help: 'Entries.', collect: () => ++entries })
    const sizes = registry.histogram({ name: 'value_bytes', help: 'Sizes.', buckets: [10, 100, 1000] })
    for (const v of [5, 50, 500, 5000, 7]) sizes.observe(v)

    const snapshot = registry.snapshot()
    const parsed = parsePrometheus(registry.toPrometheus())
    // collect() runs once per scrape: the snapshot saw 42, the text 43.
    for (const metric of snapshot) {
      const family = parsed.get(metric.name)!
      assert.equal(family.type, metric.type)
      assert.equal(family.help, metric.help)
      const expected = samplesOf(metric)
      if (metric.name === 'app_entries') {
        assert.deepEqual(expected, [{ name: 'app_entries', labels: {}, value: 42 }])
        assert.deepEqual(family.samples, [{ name: 'app_entries', labels: {}, value: 43 }])
      } else {
        assert.deepEqual(family.samples, expected)
      }
    }
    const histogram = snapshot.find((m) => m.name === 'app_value_bytes')!
    assert.equal(histogram.type, 'histogram')
    const sample = histogram.samples[0]!
    assert.ok('percentiles' in sample && sample.percentiles !== undefined)
    assert.ok(Math.abs(sample.percentiles.p50 - 50) <= 1, `p50 ${sample.percentiles.p50}`)
    assert.equal(JSON.parse(JSON.stringify(snapshot)).length, 3, 'snapshot is JSON-safe')
  })

  void it('collect() can set labelled series; a throwing collect keeps the scrape going', () => {
    const errors: string[] = []
    const registry = createMetricsRegistry({ onCollectError: (_e, name) => errors.push(name) })
    registry.gauge({
      name: 'queue_jobs',
      help: 'Jobs by state.',
      labelNames: ['state'],
      collect: (g) => {
        g.labels({ state: 'waiting' }).set(7)
        g.labels({ state: 'active' }).set(2)
      },
    })
    registry.gauge({
      name: 'broken',
      help: 'Broken.',
      collect: () => {
        throw new Error('nope')
      },
    })
    const parsed = parsePrometheus(registry.toPrometheus())
    assert.deepEqual(
      parsed.get('valkit_queue_jobs')!.samples.map((s) => [s.labels.state, s.value]),
      [
        ['waiting', 7],
        ['active', 2],
      ],
    )
    assert.deepEqual(parsed.get('valkit_broken')!.samples, [{ name: 'valkit_broken', labels: {}, value: 0 }])
    assert.deepEqual(errors, ['valkit_broken'])
  })

  void it('caches children: the same labels give the same child object', () => {
    const registry = createMetricsRegistry()
    const c = registry.counter({ name: 'x_total', help: 'X.', labelNames: ['a', 'b'] })
    const child = c.labels({ a: '1', b: '2' })
    assert.equal(c.labels({ b: '2', a: '1' }), child)
    assert.equal(c.labels({ a: 1, b: '2' }), child, 'numbers are stringified')
    assert.notEqual(c.labels({ a: '1', b: '3' }), child)
  })

  void it('validates names, labels, values and conflicting declarations', () => {
    const registry = createMetricsRegistry()
    const invalid = (fn: () => unknown) =>
      assert.throws(fn, (e) => isValkitError(e, 'VALKIT_INVALID_ARGUMENT'))
    invalid(() => registry.counter({ name: 'bad-name', help: 'x' }))
    invalid(() => registry.counter({ name: 'ok_total', help: '' }))
    invalid(() => registry.counter({ name: 'ok_total', help: 'x', labelNames: ['__reserved'] }))
    invalid(() => registry.counter({ name: 'ok_total', help: 'x', labelNames: ['a-b'] }))
    invalid(() => registry.counter({ name: 'ok_total', help: 'x', labelNames: ['a', 'a'] }))
    invalid(() => registry.histogram({ name: 'h', help: 'x', labelNames: ['le'] }))
    invalid(() => registry.histogram({ name: 'h2', help: 'x', buckets: [1, 1] }))
    const c = registry.counter({ name: 'c_total', help: 'x', labelNames: ['op'] })
    invalid(() => c.labels({ op: 'a', extra: 'b' } as never))
    invalid(() => c.labels({} as never))
    invalid(() => c.inc())
    invalid(() => c.labels({ op: 'a' }).inc(-1))
    invalid(() => registry.gauge({ name: 'c_total', help: 'x' }))
    assert.equal(
      registry.counter({ name: 'c_total', help: 'x', labelNames: ['op'] }),
      c,
      'same declaration, same metric',
    )
    invalid(() => registry.counter({ name: 'c_total', help: 'x', labelNames: ['other'] }))
    assert.throws(
      () => createMetricsRegistry({ prefix: 'bad prefix' }),
      (e) => isValkitError(e, 'VALKIT_INVALID_OPTION'),
    )
  })
})

void describe('quantile sketch', () => {
  void it('gives percentiles within its relative accuracy', () => {
    const sketch = new QuantileSketch(0.01)
    const values = Array.from({ length: 10_000 }, (_, i) => (i + 1) / 1000) // 0.001 .. 10
    for (const v of values.slice().reverse()) sketch.add(v)
    for (const q of [0.5, 0.9, 0.99]) {
      const exact = values[Math.floor(q * (values.length - 1))]!
      const got = sketch.quantile(q)
      assert.ok(Math.abs(got - exact) / exact <= 0.011, `q${q}: ${got} vs ${exact}`)
    }
    assert.equal(sketch.quantile(0), 0.001)
    assert.equal(sketch.quantile(1), 10)
    const other = new QuantileSketch(0.01)
    other.add(-5)
    sketch.merge(other)
    assert.equal(sketch.quantile(0), -5)
    sketch.reset()
    assert.ok(Number.isNaN(sketch.quantile(0.5)))
  })
})
