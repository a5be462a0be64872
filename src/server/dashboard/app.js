// valkit dashboard: reads the admin API's event stream and draws it. No framework, no build.
// A panel is one function below (returning { section, update }) plus one entry in PANELS.

const TOKEN_KEY = 'valkit.adminToken'
const WINDOW_MS = 10 * 60 * 1000 // charts show the last 10 minutes
const MAX_POINTS = 900

/** Everything the panels draw from. */
const model = {
  snapshot: null,
  history: [],
  /** @type {{ t: number, p50: number|null, p99: number|null, ops: number|null, state: string }[]} */
  series: [],
}

// ---------- small DOM helpers (text only: data never becomes HTML) ----------

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue
    if (k === 'class') el.className = v
    else if (k === 'text') el.textContent = v
    else el.setAttribute(k, v === true ? '' : String(v))
  }
  for (const c of children) if (c !== null && c !== undefined) el.append(c)
  return el
}

const SVG_NS = 'http://www.w3.org/2000/svg'
function s(tag, attrs = {}) {
  const el = document.createElementNS(SVG_NS, tag)
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v))
  return el
}

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text
}

// ---------- formatting ----------

function fmtBytes(n) {
  if (n === null || n === undefined) return '—'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024
    i++
  }
  return `${n >= 100 || i === 0 ? Math.round(n) : +n.toFixed(1)} ${units[i]}`
}
function fmtMs(ms) {
  if (ms === null || ms === undefined) return '—'
  if (ms === 0) return '0'
  if (ms < 1) return `${(ms * 1000).toFixed(0)} µs`
  if (ms < 10) return `${+ms.toFixed(2)} ms`
  return `${+ms.toFixed(ms < 100 ? 1 : 0)} ms`
}
function fmtNumber(n) {
  if (n === null || n === undefined) return '—'
  return new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 }).format(n)
}
function fmtDuration(sec) {
  if (sec === null || sec === undefined) return '—'
  const d = Math.floor(sec / 86400)
  const hh = Math.floor((sec % 86400) / 3600)
  const mm = Math.floor((sec % 3600) / 60)
  if (d > 0) return `${d}d ${hh}h`
  if (hh > 0) return `${hh}h ${mm}m`
  if (mm > 0) return `${mm}m ${Math.floor(sec % 60)}s`
  return `${Math.floor(sec)}s`
}
function fmtTime(at) {
  return new Date(at).toLocaleTimeString(undefined, { hour12: false })
}
function engineName(engine) {
  return engine === 'valkey' ? 'Valkey' : engine === 'redis' ? 'Redis' : 'unknown engine'
}

// ---------- panels ----------

/** A panel's frame. `size`: 'one' (a quarter on wide screens), 'half', or 'full' width. */
function panel(id, title, { size = 'one' } = {}) {
  const body = h('div', { class: 'panel-body' })
  const section = h('section', {
    class: `panel size-${size}`,
    id: `panel-${id}`,
    'aria-labelledby': `panel-${id}-title`,
  })
  section.append(h('h2', { id: `panel-${id}-title`, text: title }), body)
  return { section, body }
}

function kv(rows) {
  const dl = h('dl', { class: 'kv' })
  const values = {}
  for (const [key, label] of rows) {
    const dd = h('dd', { 'data-key': key, text: '—' })
    dl.append(h('dt', { text: label }), dd)
    values[key] = dd
  }
  return { dl, values }
}

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

/** A line chart of the last WINDOW_MS; `lines` pick values from a series point. */
function chart(lines, format) {
  const W = 600
  const H = 180
  const PAD = { l: 56, r: 10, t: 10, b: 22 }
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img' })
  const legend = h('div', { class: 'legend' })
  const current = {}
  for (const line of lines) {
    const value = h('strong', { text: '—' })
    current[line.key] = value
    legend.append(h('span', { class: `swatch ${line.cls}` }), h('span', { text: `${line.label} ` }), value)
  }
  function draw() {
    const now = Date.now()
    // The window grows with the data: at least a minute, at most WINDOW_MS.
    const first = model.series[0]?.t ?? now
    const span = Math.min(WINDOW_MS, Math.max(60_000, now - first))
    const from = now - span
    const pts = model.series.filter((p) => p.t >= from)
    let max = 0
    for (const p of pts) for (const line of lines) max = Math.max(max, line.pick(p) ?? 0)
    max = niceCeil(max || 1)
    const x = (t) => PAD.l + ((t - from) / span) * (W - PAD.l - PAD.r)
    const y = (v) => PAD.t + (1 - v / max) * (H - PAD.t - PAD.b)
    const children = []
    // shade the periods that were not `ready`
    let start = null
    for (let i = 0; i <= pts.length; i++) {
      const p = pts[i]
      const bad = p && p.state !== 'ready'
      if (bad && start === null) start = p.t
      if ((!bad || i === pts.length) && start !== null) {
        const end = p ? p.t : now
        children.push(
          s('rect', {
            x: x(start),
            y: PAD.t,
            width: Math.max(2, x(end) - x(start)),
            height: H - PAD.t - PAD.b,
            class: 'outage',
          }),
        )
        start = null
      }
    }
    for (let i = 0; i <= 4; i++) {
      const v = (max / 4) * i
      children.push(s('line', { x1: PAD.l, x2: W - PAD.r, y1: y(v), y2: y(v), class: 'grid' }))
      const label = s('text', { x: PAD.l - 6, y: y(v) + 4, class: 'axis', 'text-anchor': 'end' })
      label.textContent = format(v)
      children.push(label)
    }
    for (const [t, text] of [
      [from, `−${fmtSpan(span)}`],
      [from + span / 2, `−${fmtSpan(span / 2)}`],
      [now, 'now'],
    ]) {
      const label = s('text', {
        x: x(t),
        y: H - 4,
        class: 'axis',
        'text-anchor': t === from ? 'start' : t === now ? 'end' : 'middle',
      })
      label.textContent = text
      children.push(label)
    }
    for (const line of lines) {
      let d = ''
      let pen = false
      for (const p of pts) {
        const v = line.pick(p)
        if (v === null || v === undefined) {
          pen = false
          continue
        }
        d += `${pen ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(v).toFixed(1)}`
        pen = true
      }
      children.push(s('path', { d, class: `line ${line.cls}` }))
      const last = [...pts].reverse().find((p) => line.pick(p) !== null && line.pick(p) !== undefined)
      setText(current[line.key], last ? format(line.pick(last)) : '—')
    }
    if (!lines.some((line) => pts.some((p) => line.pick(p) !== null && line.pick(p) !== undefined))) {
      const empty = s('text', {
        x: (PAD.l + W - PAD.r) / 2,
        y: (PAD.t + H - PAD.b) / 2,
        class: 'empty',
        'text-anchor': 'middle',
      })
      empty.textContent = model.snapshot?.backend === 'memory' ? 'no data: memory backend' : 'no data yet'
      children.push(empty)
    }
    svg.replaceChildren(...children)
  }
  return { svg, legend, draw }
}

function fmtSpan(ms) {
  return ms >= 60_000 ? `${+(ms / 60_000).toFixed(1)} min` : `${Math.round(ms / 1000)} s`
}

function niceCeil(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)))
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p
  return 10 * p
}

/** PING latency p50/p99. */
function latencyPanel() {
  const { section, body } = panel('latency', 'Latency (PING)', { size: 'half' })
  const c = chart(
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
  const c = chart([{ key: 'ops', label: 'ops/s', cls: 'c3', pick: (p) => p.ops }], fmtNumber)
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
  const { section, body } = panel('hitrate', 'Hit rate')
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

const PANELS = [serverPanel, statePanel, memoryPanel, hitRatePanel, latencyPanel, opsPanel, findingsPanel]

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

// Redraw the charts so the time axis moves even between snapshots.
setInterval(() => {
  if (model.snapshot && document.visibilityState === 'visible') render()
}, 5000)

connect()
