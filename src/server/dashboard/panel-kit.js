// Pieces the rate limiting, coordination and sessions panels share: big-number tiles, bar lists,
// per-card histories of one point per snapshot interval, and lines for series a panel does not know.

import { MAX_POINTS, WINDOW_MS } from './chart.js'
import { fmtBytes, fmtCompact, fmtMs, fmtNumber, fmtRate } from './format.js'
import { h, setText } from './ui.js'

/** `12 · 3/s`: a counted total with its rate when it moved; `n/a` when the series is absent. */
export function fmtCounted(c) {
  if (c === null || c === undefined) return 'n/a'
  return c.perSecond ? `${fmtNumber(c.total)} · ${fmtRate(c.perSecond)}` : fmtNumber(c.total)
}

/** Sets a `<dd>` to a counted value, `n/a` in grey, and red when `bad` and not zero. */
export function setCounted(dd, c, { bad = false } = {}) {
  setText(dd, fmtCounted(c))
  dd.className = c === null || c === undefined ? 'na' : bad && c.total > 0 ? 'bad' : ''
}

/** The total of one key of a `{ [label]: Counted }` record (0 when absent). */
export const totalOf = (record, key) => record?.[key]?.total ?? 0

/** `a 3 · b 1`: the labels of a `{ [label]: Counted }` record with their totals, most first. */
export function breakdown(record, { skipZero = true } = {}) {
  const items = Object.entries(record ?? {})
    .filter(([, c]) => !skipZero || c.total > 0)
    .sort((a, b) => b[1].total - a[1].total)
  return items.length === 0 ? '—' : items.map(([k, c]) => `${k} ${fmtNumber(c.total)}`).join(' · ')
}

/**
 * A big number with a label under it. `set(value, note?, cls?)`: value is text; `cls` is '',
 * 'good', 'warn', 'bad' or 'na'.
 */
export function tile(label, testid) {
  const value = h('div', { class: 'tile-value', 'data-testid': testid, text: '—' })
  const note = h('div', { class: 'tile-note', text: '' })
  const el = h('div', { class: 'tile' }, value, h('div', { class: 'tile-label', text: label }), note)
  return {
    el,
    set(text, noteText = '', cls = '') {
      setText(value, text)
      setText(note, noteText)
      el.className = `tile${cls ? ` tile-${cls}` : ''}`
    },
  }
}

/** A row of tiles. */
export const tiles = (...items) => h('div', { class: 'tiles' }, ...items.map((t) => t.el))

/** A number for a tile: compact above 10,000 (`12.3K`), with separators below. */
export const big = (n) => (n === null || n === undefined ? 'n/a' : n >= 10_000 ? fmtCompact(n) : fmtNumber(n))

/**
 * A list of labelled horizontal bars: `rows` of `{ label, value, text, title?, cls? }`, or with
 * `segments: [{ value, cls }]` for a bar split in parts (value is then their sum). Bars are
 * scaled to the largest value (or `max`). Rebuilt only when its text changes.
 */
export function barList(className) {
  const el = h('ol', { class: `bars ${className ?? ''}` })
  let key = ''
  return {
    el,
    set(rows, { max } = {}) {
      const top = max ?? Math.max(0, ...rows.map((r) => r.value))
      const next = JSON.stringify([top, rows])
      if (next === key) return
      key = next
      const fills = []
      el.replaceChildren(
        ...rows.map((r) => {
          const parts = r.segments ?? [{ value: r.value, cls: r.cls ?? '' }]
          const track = h('span', { class: 'bar-track' })
          for (const part of parts) {
            const fill = h('span', { class: `bar-fill ${part.cls ?? ''}` })
            fills.push([fill, top > 0 ? part.value / top : 0])
            track.append(fill)
          }
          return h(
            'li',
            { title: r.title ?? r.label },
            h('span', { class: 'bar-label', text: r.label }),
            track,
            h('span', { class: 'bar-value', text: r.text }),
          )
        }),
      )
      // widths through the CSSOM (the page's CSP forbids inline style attributes)
      for (const [fill, share] of fills) fill.style.width = `${Math.max(0, Math.min(100, share * 100))}%`
    },
  }
}

/**
 * Histories of one point per snapshot interval, per card name, for the last WINDOW_MS:
 * `record(name, interval, state, fields)` appends `{ from, t, state, ...fields }` once per interval.
 */
export function histories() {
  const byName = new Map()
  return {
    get: (name) => byName.get(name) ?? [],
    record(name, interval, state, fields) {
      if (!interval) return null
      let pts = byName.get(name)
      if (!pts) byName.set(name, (pts = []))
      if (pts.length > 0 && pts[pts.length - 1].t >= interval.to) return null
      const point = { from: interval.from, t: interval.to, state, ...fields }
      pts.push(point)
      const cutoff = Date.now() - WINDOW_MS
      while (pts.length > MAX_POINTS || (pts[0] && pts[0].t < cutoff)) pts.shift()
      return point
    },
    forget(names) {
      for (const name of [...byName.keys()]) if (!names.includes(name)) byName.delete(name)
    },
  }
}

function extraLabel(e, head) {
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

/**
 * One compact line for the series a panel does not know (`extras` of a section or card), so a
 * series added later shows up without a change here. `head`: the name prefix to drop (`coord_`).
 */
export function extrasBlock(head, label = 'other') {
  const el = h('div', { class: 'extras' })
  let key = ''
  return {
    el,
    set(extras) {
      const list = extras ?? []
      const next = list.map((e) => `${extraLabel(e, head)}=${extraValue(e)}`).join('\n')
      el.hidden = list.length === 0
      if (next === key) return
      key = next
      el.replaceChildren(
        h(
          'p',
          { class: 'extra-line' },
          h('span', { class: 'extra-group', text: label }),
          ...list.flatMap((e, i) => [
            i > 0 ? h('span', { class: 'sep', text: '·' }) : null,
            h('span', { text: `${extraLabel(e, head)} ` }),
            h('strong', { text: extraValue(e) }),
          ]),
        ),
      )
    },
  }
}

/**
 * Keeps `list`'s children in the order of `items`, creating a card per new name (`make(name)`)
 * and dropping the others; returns the names. The caller updates the cards.
 */
export function syncCards(list, cards, items, nameOf, make) {
  const names = items.map(nameOf)
  for (const name of [...cards.keys()]) if (!names.includes(name)) cards.delete(name)
  for (const name of names) if (!cards.has(name)) cards.set(name, make(name))
  const order = names.map((name) => cards.get(name).card)
  if (order.length !== list.children.length || order.some((el, i) => list.children[i] !== el))
    list.replaceChildren(...order)
  return names
}

/** An empty state: text with `code` parts (`['No limiter — ', ['createRateLimiter(…)'], ' registers here.']`). */
export function emptyState(testid, parts) {
  return h(
    'p',
    { class: 'empty-state', 'data-testid': testid },
    ...parts.map((p) => (Array.isArray(p) ? h('code', { text: p[0] }) : p)),
  )
}
