// The Cache panel: one card per cache namespace of the process (snapshot.caches), with the
// share of reads answered by L1, by L2 and missed over time, sizes and counters.

import { chart, MAX_POINTS, WINDOW_MS } from './chart.js'
import { fmtBytes, fmtMs, fmtNumber, fmtPercent, fmtRate } from './format.js'
import { h, kv, panel, setText } from './ui.js'

/** Per namespace, oldest first: `{ from, t, state, reads, l1, l2, miss }` (shares of the reads of one interval). */
const history = new Map()

/** Appends each namespace's point for the snapshot's interval (once per interval). */
function record(caches, state) {
  const interval = caches.interval
  if (!interval) return
  const cutoff = Date.now() - WINDOW_MS
  for (const ns of caches.namespaces) {
    const r = ns.perSecond
    if (!r) continue
    let pts = history.get(ns.namespace)
    if (!pts) history.set(ns.namespace, (pts = []))
    if (pts.length > 0 && pts[pts.length - 1].t >= interval.to) continue
    const reads = r.hitsL1 + r.hitsL2 + r.misses
    const share = (n) => (reads > 0 ? n / reads : null)
    pts.push({
      from: interval.from,
      t: interval.to,
      state,
      reads,
      l1: share(r.hitsL1),
      l2: share(r.hitsL2),
      miss: share(r.misses),
    })
    while (pts.length > MAX_POINTS || (pts[0] && pts[0].t < cutoff)) pts.shift()
  }
}

const axisPercent = (v) => `${Math.round(v * 100)}%`
const entries = (n) => `${fmtNumber(n)} ${n === 1 ? 'entry' : 'entries'}`

/** `12 · 3/s`: a total with its rate over the last interval when it moved; `n/a` when not reported. */
function totalWithRate(total, perSecond) {
  if (total === null || total === undefined) return 'n/a'
  return perSecond ? `${fmtNumber(total)} · ${fmtRate(perSecond)}` : fmtNumber(total)
}

function extraLabel(e) {
  const head = e.group === 'other' ? 'cache_' : `cache_${e.group}_`
  let name = e.name.startsWith(head) ? e.name.slice(head.length) : e.name
  name = name.replace(/_total$/, '').replace(/_/g, ' ')
  const labels = Object.entries(e.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ')
  return labels ? `${name} {${labels}}` : name
}

function extraValue(e) {
  let text
  if (e.name.endsWith('_bytes')) text = fmtBytes(e.value)
  else if (e.name.endsWith('_seconds')) text = fmtMs(e.value * 1000)
  else text = fmtNumber(e.value)
  if (e.type === 'histogram') text += ' observed'
  if (e.perSecond) text += ` (${fmtRate(e.perSecond)})`
  return text
}

/** One compact line per helper group (`http`, `llm`, `query`, ...). */
function extraLines(extras) {
  const groups = new Map()
  for (const e of extras) {
    if (!groups.has(e.group)) groups.set(e.group, [])
    groups.get(e.group).push(e)
  }
  return [...groups].map(([group, items]) =>
    h(
      'p',
      { class: 'cache-extra', 'data-group': group },
      h('span', { class: 'cache-extra-group', text: group }),
      ...items.flatMap((e, i) => [
        i > 0 ? h('span', { class: 'sep', text: '·' }) : null,
        h('span', { text: `${extraLabel(e)} ` }),
        h('strong', { text: extraValue(e) }),
      ]),
    ),
  )
}

function namespaceCard(name) {
  const rate = h('div', { class: 'cache-rate', 'data-testid': 'cache-hit-rate', text: '—' })
  const rateNote = h('div', { class: 'muted cache-rate-note', text: '' })
  const c = chart(
    [
      { key: 'l1', label: 'L1 hits', cls: 'c1', pick: (p) => p.l1 },
      { key: 'l2', label: 'L2 hits', cls: 'c3', pick: (p) => p.l2 },
      { key: 'miss', label: 'misses', cls: 'c2', pick: (p) => p.miss },
    ],
    fmtPercent,
    {
      points: () => history.get(name) ?? [],
      stacked: true,
      axisFormat: axisPercent,
      emptyText: () => 'no reads yet',
      height: 190,
    },
  )
  const { dl, values } = kv([
    ['reads', 'Reads'],
    ['hits', 'Hits L1 / L2'],
    ['misses', 'Misses'],
    ['loaderRuns', 'Loader runs'],
    ['l1', 'L1 size'],
    ['l2', 'L2 size'],
    ['staleServed', 'Stale served'],
    ['evictions', 'L1 evictions'],
    ['invalidations', 'Invalidations'],
    ['leaseWaits', 'Lease waits'],
    ['corrupt', 'Corrupt'],
    ['l2Errors', 'L2 errors'],
  ])
  const extras = h('div', { class: 'cache-extras' })
  const card = h(
    'article',
    { class: 'cache-ns', 'data-namespace': name },
    h(
      'header',
      { class: 'cache-ns-head' },
      h('h3', { class: 'cache-ns-name', text: name }),
      h('div', { class: 'cache-ns-rate' }, rate, rateNote),
    ),
    h('div', { class: 'cache-ns-body' }, h('div', { class: 'cache-chart' }, c.legend, c.svg), dl),
    extras,
  )
  let extrasKey = ''
  return {
    card,
    update(ns) {
      const t = ns.totals
      const r = ns.perSecond
      setText(rate, fmtPercent(ns.hitRate.overall))
      setText(
        rateNote,
        ns.hitRate.overall === null
          ? 'hit rate · no reads yet'
          : `hit rate overall · last interval ${ns.hitRate.interval === null ? 'idle' : fmtPercent(ns.hitRate.interval)}`,
      )
      const reads = t.hitsL1 + t.hitsL2 + t.misses
      setText(
        values.reads,
        r ? `${fmtRate(r.hitsL1 + r.hitsL2 + r.misses)} · ${fmtNumber(reads)} total` : fmtNumber(reads),
      )
      setText(values.hits, `${fmtNumber(t.hitsL1)} / ${fmtNumber(t.hitsL2)}`)
      setText(values.misses, fmtNumber(t.misses))
      setText(
        values.loaderRuns,
        r ? `${fmtRate(r.loaderRuns)} · ${fmtNumber(t.loaderRuns)} total` : fmtNumber(t.loaderRuns),
      )
      setText(values.l1, ns.l1 ? `${entries(ns.l1.entries)} · ${fmtBytes(ns.l1.bytes)}` : 'n/a')
      setText(values.l2, ns.l2 ? entries(ns.l2.entries) : 'n/a')
      for (const key of ['staleServed', 'evictions', 'invalidations', 'leaseWaits', 'corrupt', 'l2Errors']) {
        setText(values[key], totalWithRate(t[key], r?.[key]))
      }
      for (const key of ['corrupt', 'l2Errors']) values[key].className = t[key] > 0 ? 'bad' : ''
      for (const key of ['l1', 'l2', 'staleServed', 'evictions', 'leaseWaits']) {
        if (values[key].textContent === 'n/a') values[key].className = 'na'
        else if (values[key].className === 'na') values[key].className = ''
      }
      // rebuild the extra lines only when their text changes
      const lines = extraLines(ns.extras)
      const key = lines.map((l) => l.textContent).join('\n')
      if (key !== extrasKey) {
        extrasKey = key
        extras.replaceChildren(...lines)
      }
      extras.hidden = lines.length === 0
      c.draw()
    },
  }
}

/** Every cache namespace of the process, or an empty state when it has no cache. */
export function cachePanel() {
  const { section, body } = panel('cache', 'Cache', { size: 'full' })
  const empty = h(
    'p',
    { class: 'empty-state', 'data-testid': 'cache-empty' },
    'No cache in this process — ',
    h('code', { text: 'createCache(valkit, …)' }),
    ' registers here.',
  )
  const list = h('div', { class: 'cache-list' })
  const processWide = h('div', { class: 'cache-extras cache-process' })
  body.append(empty, list, processWide)
  const cards = new Map()
  return {
    section,
    update(snap) {
      const caches = snap.caches ?? { interval: null, namespaces: [], extras: [] }
      record(caches, snap.state)
      const names = caches.namespaces.map((ns) => ns.namespace)
      for (const [name] of cards) if (!names.includes(name)) cards.delete(name)
      for (const ns of caches.namespaces) {
        let card = cards.get(ns.namespace)
        if (!card) cards.set(ns.namespace, (card = namespaceCard(ns.namespace)))
        card.update(ns)
      }
      const order = names.map((name) => cards.get(name).card)
      if (order.length !== list.children.length || order.some((el, i) => list.children[i] !== el))
        list.replaceChildren(...order)
      processWide.replaceChildren(...extraLines(caches.extras ?? []))
      processWide.hidden = processWide.children.length === 0
      empty.hidden = names.length > 0 || !processWide.hidden
    },
  }
}
