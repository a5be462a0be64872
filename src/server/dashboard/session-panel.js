// The Sessions panel: one card per session store of the process (snapshot.sessions.stores) with
// active sessions, sessions created, destroyed and rotated per minute (over time, and in the
// last minute), quarantined records, refused cookies and reads by result.

import { chart } from './chart.js'
import { fmtNumber, fmtPerMinute, fmtSpan } from './format.js'
import {
  big,
  breakdown,
  emptyState,
  extrasBlock,
  histories,
  setCounted,
  syncCards,
  tile,
  tiles,
} from './panel-kit.js'
import { h, kv, panel, setText } from './ui.js'

const history = histories()
const MINUTE = 60_000
const FIELDS = ['created', 'destroyed', 'rotated']

/** Each point carries what the store did in its interval and, over the trailing minute, per minute. */
function record(name, sessions, state, s) {
  const iv = sessions.interval
  if (!iv) return
  const seconds = (iv.to - iv.from) / 1000
  const counts = {}
  for (const f of FIELDS) counts[`n_${f}`] = s[f].perSecond === null ? null : s[f].perSecond * seconds
  const point = history.record(name, iv, state, counts)
  if (!point) return
  // per minute over the trailing minute of history (over what there is, during the first minute)
  const pts = history.get(name)
  const since = point.t - MINUTE
  let span = 0
  const sums = Object.fromEntries(FIELDS.map((f) => [f, 0]))
  for (let i = pts.length - 1; i >= 0 && pts[i].t > since; i--) {
    const p = pts[i]
    if (FIELDS.some((f) => p[`n_${f}`] === null)) break
    const overlap = Math.min(p.t, point.t) - Math.max(p.from, since)
    const part = p.t > p.from ? overlap / (p.t - p.from) : 1
    span += overlap
    for (const f of FIELDS) sums[f] += p[`n_${f}`] * part
  }
  for (const f of FIELDS) point[f] = span > 0 ? (sums[f] / span) * MINUTE : null
}

function storeCard(name) {
  const active = tile('active sessions', 'session-active')
  const created = tile('created', 'session-created')
  const destroyed = tile('destroyed', 'session-destroyed')
  const rotated = tile('rotated', 'session-rotated')
  const quarantined = tile('quarantined', 'session-quarantined')
  const c = chart(
    [
      { key: 'created', label: 'created', cls: 'c3', pick: (p) => p.created },
      { key: 'destroyed', label: 'destroyed', cls: 'c2', pick: (p) => p.destroyed },
      { key: 'rotated', label: 'rotated', cls: 'c1', pick: (p) => p.rotated },
    ],
    fmtPerMinute,
    { points: () => history.get(name), emptyText: () => 'no readings yet', height: 170 },
  )
  const { dl, values } = kv([
    ['reads', 'Reads'],
    ['destroyedBy', 'Ended by'],
    ['quarantinedBy', 'Quarantined by'],
    ['rejected', 'Refused cookies'],
    ['conflicts', 'Write conflicts'],
    ['errors', 'Backend errors'],
    ['localReads', 'Local-copy reads'],
  ])
  const extras = extrasBlock('session_')
  const card = h(
    'article',
    { class: 'card-block session-card', 'data-store': name },
    h(
      'header',
      { class: 'card-head' },
      h('h3', { class: 'card-name', text: name }),
      tiles(active, created, destroyed, rotated, quarantined),
    ),
    h(
      'div',
      { class: 'card-body' },
      h(
        'div',
        { class: 'card-chart' },
        h('p', { class: 'chart-title', text: 'per minute, over the trailing minute' }),
        c.legend,
        c.svg,
      ),
      dl,
    ),
    extras.el,
  )
  return {
    card,
    update(s, sessions, state) {
      record(name, sessions, state, s)
      active.set(
        s.active === null ? 'n/a' : big(s.active),
        s.active === null ? 'not counted yet' : 'records in the store',
        s.active === null ? 'na' : '',
      )
      const m = s.lastMinute
      const win = sessions.minute
      const span = win ? win.to - win.from : 0
      const minuteNote = (total) =>
        `${span >= MINUTE - 1000 || !win ? 'in the last minute' : `in the last ${fmtSpan(span)}`} · ${fmtNumber(total)} total`
      created.set(m ? fmtNumber(m.created) : '—', minuteNote(s.created.total))
      destroyed.set(m ? fmtNumber(m.destroyed) : '—', minuteNote(s.destroyed.total))
      rotated.set(m ? fmtNumber(m.rotated) : '—', minuteNote(s.rotated.total))
      quarantined.set(
        big(s.quarantined.total),
        m?.quarantined ? `${fmtNumber(m.quarantined)} in the last minute` : 'records moved aside',
        s.quarantined.total > 0 ? 'bad' : '',
      )
      setText(values.reads, breakdown(s.reads))
      setText(values.destroyedBy, breakdown(s.destroyedBy))
      setText(values.quarantinedBy, breakdown(s.quarantinedBy))
      values.quarantinedBy.className = s.quarantined.total > 0 ? 'bad' : ''
      setText(values.rejected, s.rejectedTokens.total > 0 ? breakdown(s.rejectedTokensBy) : '0')
      values.rejected.className = s.rejectedTokens.total > 0 ? 'warn' : ''
      setCounted(values.conflicts, s.conflicts)
      setCounted(values.errors, s.backendErrors, { bad: true })
      setCounted(values.localReads, s.localReads)
      extras.set(s.extras)
      c.draw()
    },
  }
}

/** Every session store of the process, or an empty state when it has none. */
export function sessionPanel() {
  const { section, body } = panel('sessions', 'Sessions', { size: 'full' })
  const empty = emptyState('sessions-empty', [
    'No session store in this process — ',
    ['createSessionStore(valkit, …)'],
    ' registers here.',
  ])
  const list = h('div', { class: 'card-list' })
  const extras = extrasBlock('session_')
  body.append(empty, list, extras.el)
  const cards = new Map()
  return {
    section,
    update(snap) {
      const sessions = snap.sessions ?? { interval: null, minute: null, stores: [], extras: [] }
      const names = syncCards(list, cards, sessions.stores, (s) => s.store, storeCard)
      for (const s of sessions.stores) cards.get(s.store).update(s, sessions, snap.state)
      history.forget(names)
      extras.set(sessions.extras)
      empty.hidden = names.length > 0 || sessions.extras.length > 0
    },
  }
}
