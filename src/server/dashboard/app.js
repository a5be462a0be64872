// valkit dashboard: reads the admin API's event stream and draws it. No framework, no build.
// A panel is one function (here, or in its own module) returning { section, update }, plus one
// entry in PANELS.

import { cachePanel } from './cache-panel.js'
import { chart, MAX_POINTS, WINDOW_MS } from './chart.js'
import { coordPanel } from './coord-panel.js'
import { queuePanel } from './queue-panel.js'
import { ratelimitPanel } from './ratelimit-panel.js'
import { sessionPanel } from './session-panel.js'
import { fmtBytes, fmtDuration, fmtMs, fmtNumber, fmtTime } from './format.js'
import { h, kv, panel, setText } from './ui.js'

const TOKEN_KEY = 'valkit.adminToken'

/** Everything the panels draw from. */
const model = {
  snapshot: null,
  history: [],
  /** @type {{ t: number, p50: number|null, p99: number|null, ops: number|null, state: string }[]} */
  series: [],
}

function engineName(engine) {
  return engine === 'valkey' ? 'Valkey' : engine === 'redis' ? 'Redis' : 'unknown engine'
}

// ---------- panels ----------

/** Connection: engine, version, topology, backend, driver. */
function serverPanel() {
  const { section, body } = panel('server', 'Server')
  const title = h('div', { class: 'headline', text: '—' })
  const { dl, values } = kv([
    ['backend', 'Backend'],
    ['topology', 'Topology'],
    ['endpoint', 'Endpoint'],
    ['role', 'Role'],
    ['driver', 'Driver'],
    ['uptime', 'Uptime'],
    ['clients', 'Clients'],
    ['keys', 'Keys'],
  ])
  body.append(title, dl)
  return {
    section,
    update(snap) {
      const srv = snap.server
      setText(
        title,
        srv
          ? `${engineName(srv.engine)} ${srv.version}`
          : snap.backend === 'memory'
            ? 'In-process memory backend'
            : 'Server not reachable',
      )
      setText(values.backend, snap.backend === 'memory' ? 'memory backend' : 'redis')
      values.backend.className = snap.backend === 'memory' ? 'warn' : ''
      const topo = snap.topology
      let topoText = topo ? topo.kind : '—'
      if (topo?.cluster)
        topoText += ` · ${topo.cluster.masters} masters, ${topo.cluster.replicas} replicas · ${topo.cluster.slotsCovered}/16384 slots (${topo.cluster.state})`
      if (topo?.sentinel)
        topoText += ` · ${topo.sentinel.masterName} · ${topo.sentinel.sentinels} sentinels · ${topo.sentinel.failovers} failovers`
      setText(values.topology, topoText)
      setText(values.endpoint, topo?.endpoint ?? '—')
      setText(values.role, srv ? `${srv.role} (${srv.mode})` : '—')
      setText(values.driver, snap.driver ?? '—')
      setText(values.uptime, srv ? fmtDuration(srv.uptimeSeconds) : '—')
      setText(values.clients, srv ? fmtNumber(srv.connectedClients) : '—')
      setText(values.keys, srv ? fmtNumber(srv.totalKeys) : '—')
    },
  }
}

/** Supervisor state and its recent changes. */
function statePanel() {
  const { section, body } = panel('state', 'State history')
  const list = h('ol', { class: 'history' })
  const empty = h('p', { class: 'muted', text: 'No state change yet.' })
  body.append(list, empty)
  return {
    section,
    update() {
      const items = model.history.slice(-10).reverse()
      empty.hidden = items.length > 0
      list.replaceChildren(
        ...items.map((c) =>
          h(
            'li',
            {},
            h('time', { text: fmtTime(c.at) }),
            h('span', { class: `pill pill-${c.to}`, text: c.to, title: `from ${c.from}` }),
            h('span', { class: 'reason', text: c.reason, title: c.reason }),
          ),
        ),
      )
    },
  }
}

const seriesChart = (lines, format) =>
  chart(lines, format, {
    points: () => model.series,
    emptyText: () => (model.snapshot?.backend === 'memory' ? 'no data: memory backend' : 'no data yet'),
  })

/** PING latency p50/p99. */
function latencyPanel() {
  const { section, body } = panel('latency', 'Latency (PING)', { size: 'half' })
  const c = seriesChart(
    [
      { key: 'p50', label: 'p50', cls: 'c1', pick: (p) => p.p50 },
      { key: 'p99', label: 'p99', cls: 'c2', pick: (p) => p.p99 },
    ],
    fmtMs,
  )
  body.append(c.legend, c.svg)
  return { section, update: c.draw }
}

/** Server operations per second. */
function opsPanel() {
  const { section, body } = panel('ops', 'Operations per second', { size: 'half' })
  const c = seriesChart([{ key: 'ops', label: 'ops/s', cls: 'c3', pick: (p) => p.ops }], fmtNumber)
  body.append(c.legend, c.svg)
  return { section, update: c.draw }
}

/** Memory used against maxmemory, and the eviction policy. */
function memoryPanel() {
  const { section, body } = panel('memory', 'Memory')
  const big = h('div', { class: 'headline', text: '—' })
  const bar = h('div', { class: 'bar' }, h('span'))
  const note = h('p', { class: 'muted', text: '' })
  body.append(big, bar, note)
  return {
    section,
    update(snap) {
      const m = snap.memory
      if (!m) {
        setText(big, '—')
        bar.firstChild.style.width = '0%'
        setText(
          note,
          snap.backend === 'memory' ? 'memory backend: no server memory to report' : 'server not reachable',
        )
        return
      }
      setText(big, `${fmtBytes(m.usedBytes)} used`)
      const ratio = m.maxBytes > 0 ? m.usedBytes / m.maxBytes : 0
      bar.firstChild.style.width = `${Math.min(100, ratio * 100).toFixed(1)}%`
      bar.className = `bar${ratio > 0.9 ? ' bad' : ratio > 0.75 ? ' warn' : ''}`
      const policy = snap.server?.maxMemoryPolicy ?? '—'
      setText(
        note,
        m.maxBytes > 0
          ? `${(ratio * 100).toFixed(1)}% of ${fmtBytes(m.maxBytes)} maxmemory · policy ${policy}`
          : `no maxmemory limit · policy ${policy}`,
      )
    },
  }
}

/** Keyspace hit rate (since the server started). */
function hitRatePanel() {
  const { section, body } = panel('hitrate', 'Keyspace hit rate')
  const big = h('div', { class: 'headline', text: '—' })
  const bar = h('div', { class: 'bar good' }, h('span'))
  const note = h('p', { class: 'muted', text: 'keyspace hits / (hits + misses) since the server started' })
  body.append(big, bar, note)
  return {
    section,
    update(snap) {
      const r = snap.hitRate
      setText(big, r === null || r === undefined ? '—' : `${(r * 100).toFixed(1)}%`)
      bar.firstChild.style.width = `${r ? (r * 100).toFixed(1) : 0}%`
    },
  }
}

/** Findings with their recommendations, worst first. */
function findingsPanel() {
  const { section, body } = panel('findings', 'Findings', { size: 'full' })
  const list = h('ul', { class: 'findings' })
  const empty = h('p', { class: 'muted', text: 'Nothing to report.' })
  body.append(list, empty)
  const rank = { critical: 0, warning: 1, info: 2 }
  return {
    section,
    update(snap) {
      const items = [...(snap.findings ?? [])].sort((a, b) => rank[a.severity] - rank[b.severity])
      empty.hidden = items.length > 0
      list.replaceChildren(
        ...items.map((f) =>
          h(
            'li',
            { class: `finding sev-${f.severity}` },
            h('span', { class: 'sev', text: f.severity }),
            h(
              'div',
              {},
              h('p', { class: 'msg', text: f.message }),
              f.recommendation ? h('p', { class: 'rec', text: `→ ${f.recommendation}` }) : null,
              h('code', { class: 'fid', text: f.id }),
            ),
          ),
        ),
      )
    },
  }
}

const PANELS = [
  serverPanel,
  statePanel,
  memoryPanel,
  hitRatePanel,
  latencyPanel,
  opsPanel,
  cachePanel,
  ratelimitPanel,
  coordPanel,
  sessionPanel,
  () => queuePanel({ api }),
  findingsPanel,
]

// ---------- admin API ----------

/**
 * Calls the admin API with this tab's token (the queue actions, the job browser). Resolves with
 * the JSON body; rejects with the server's message. A refused token signs out.
 */
async function api(path, { method = 'GET' } = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY)
  if (!token) {
    showLogin()
    throw new Error('Signed out.')
  }
  const res = await fetch(path, {
    method,
    headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
    cache: 'no-store',
  })
  const body = await res.json().catch(() => null)
  if (res.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY)
    const message = body?.error?.message ?? 'The token was refused.'
    showLogin(message)
    throw new Error(message)
  }
  if (!res.ok) throw new Error(body?.error?.message ?? `HTTP ${res.status}`)
  return body
}

// ---------- state badge ----------

const badge = document.getElementById('state-badge')
const backendLabel = document.getElementById('backend-label')
const memoryNotice = document.getElementById('memory-notice')

function showState(state, backend) {
  setText(badge, state)
  badge.className = `badge badge-${state}`
  setText(backendLabel, backend === 'memory' ? 'memory backend' : 'redis backend')
  backendLabel.className = `backend${backend === 'memory' ? ' warn' : ''}`
  memoryNotice.hidden = backend !== 'memory'
  document.title = `${state} · valkit`
}

// ---------- stream ----------

let mounted = null
let abort = null
let retryTimer = null

function mount() {
  if (mounted) return mounted
  const grid = document.getElementById('panels')
  mounted = PANELS.map((make) => make())
  grid.replaceChildren(...mounted.map((p) => p.section))
  return mounted
}

function render() {
  const snap = model.snapshot
  if (!snap) return
  for (const p of mount()) {
    try {
      p.update(snap)
    } catch (err) {
      console.error('panel failed', err)
    }
  }
  setText(document.getElementById('updated-at'), `updated ${fmtTime(snap.at)}`)
}

function onSnapshot(snap) {
  model.snapshot = snap
  model.history = snap.history ?? model.history
  model.series.push({
    t: snap.at,
    p50: snap.latency?.p50Ms ?? null,
    p99: snap.latency?.p99Ms ?? null,
    ops: snap.opsPerSecond,
    state: snap.state,
  })
  const cutoff = Date.now() - WINDOW_MS
  while (model.series.length > MAX_POINTS || (model.series[0] && model.series[0].t < cutoff))
    model.series.shift()
  showState(snap.state, snap.backend)
  render()
}

function onState(change) {
  model.history = [...model.history, change].slice(-100)
  if (model.snapshot)
    model.snapshot = {
      ...model.snapshot,
      state: change.to,
      backend: change.backend ?? model.snapshot.backend,
    }
  showState(change.to, change.backend ?? model.snapshot?.backend)
  render()
}

function setStream(status, label) {
  document.getElementById('stream-dot').className = `dot dot-${status}`
  setText(document.getElementById('stream-label'), label)
}

function showLogin(message) {
  if (abort) abort.abort()
  clearTimeout(retryTimer)
  document.getElementById('login').hidden = false
  document.getElementById('panels').hidden = true
  document.getElementById('footer').hidden = true
  document.getElementById('sign-out').hidden = true
  const err = document.getElementById('login-error')
  err.hidden = !message
  setText(err, message ?? '')
  setStream('off', 'not connected')
  document.getElementById('token-input').focus()
}

function showDashboard() {
  document.getElementById('login').hidden = true
  document.getElementById('panels').hidden = false
  document.getElementById('footer').hidden = false
  document.getElementById('sign-out').hidden = false
}

/** Parses a Server-Sent Events byte stream and calls onEvent(name, data). */
async function readEvents(body, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return
    buffer += value
    let m
    while ((m = /\r?\n\r?\n/.exec(buffer)) !== null) {
      const block = buffer.slice(0, m.index)
      buffer = buffer.slice(m.index + m[0].length)
      let event = 'message'
      const data = []
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith(':') || line === '') continue
        const colon = line.indexOf(':')
        const field = colon < 0 ? line : line.slice(0, colon)
        const val = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
        if (field === 'event') event = val
        else if (field === 'data') data.push(val)
      }
      if (data.length > 0) onEvent(event, data.join('\n'))
    }
  }
}

async function connect(attempt = 0) {
  const token = sessionStorage.getItem(TOKEN_KEY)
  if (!token) return showLogin()
  abort = new AbortController()
  setStream('wait', attempt === 0 ? 'connecting…' : `reconnecting (attempt ${attempt})…`)
  try {
    const res = await fetch('/api/events', {
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
      signal: abort.signal,
      cache: 'no-store',
    })
    if (res.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY)
      const body = await res.json().catch(() => null)
      return showLogin(body?.error?.message ?? 'The token was refused.')
    }
    if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`)
    showDashboard()
    setStream('live', 'live')
    attempt = 0
    await readEvents(res.body, (event, data) => {
      const parsed = JSON.parse(data)
      if (event === 'snapshot') onSnapshot(parsed)
      else if (event === 'state') onState(parsed)
    })
    throw new Error('stream ended')
  } catch (err) {
    if (abort.signal.aborted) return
    const delay = Math.min(10_000, 500 * 2 ** Math.min(attempt, 5))
    setStream('down', `valkit server unreachable — retrying in ${Math.round(delay / 1000)}s`)
    console.warn('event stream failed', err)
    retryTimer = setTimeout(() => connect(attempt + 1), delay)
  }
}

document.getElementById('login-form').addEventListener('submit', (ev) => {
  ev.preventDefault()
  const input = document.getElementById('token-input')
  const token = input.value.trim()
  if (!token) return
  sessionStorage.setItem(TOKEN_KEY, token)
  input.value = ''
  document.getElementById('login-error').hidden = true
  connect()
})

document.getElementById('sign-out').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY)
  showLogin()
})

// Redraw after a resize, so the charts' labels keep their size.
let resizeTimer = null
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer)
  resizeTimer = setTimeout(render, 150)
})

// Redraw the charts so the time axis moves even between snapshots.
setInterval(() => {
  if (model.snapshot && document.visibilityState === 'visible') render()
}, 5000)

connect()
