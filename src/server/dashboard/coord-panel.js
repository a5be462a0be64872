// The Coordination panel: this process's held locks, waiters, leaders per group and deadlocks
// broken (snapshot.coord), with held/waiting over time, acquires, waits, and the resources and
// stuck locks of a coord given to the server.

import { chart } from './chart.js'
import { fmtDuration, fmtMs, fmtNumber, fmtTime } from './format.js'
import { big, breakdown, emptyState, extrasBlock, histories, setCounted, tile, tiles } from './panel-kit.js'
import { h, kv, panel, setText } from './ui.js'

const history = histories()
const KEY = 'process'

function kindsNote(counts, none) {
  const parts = Object.entries(counts.byKind)
    .filter(([, n]) => n > 0)
    .map(([kind, n]) => `${kind} ${fmtNumber(n)}`)
  return parts.length > 0 ? parts.join(' · ') : none
}

function shortOwner(owner) {
  return owner.length > 14 ? `${owner.slice(0, 6)}…${owner.slice(-6)}` : owner
}

function leaderRow(l) {
  return h(
    'li',
    { 'data-group': l.group },
    h('span', {
      class: `pill ${l.leading ? 'pill-ready' : 'pill-idle'}`,
      text: l.leading ? 'leader' : 'follower',
    }),
    h('code', { class: 'group', text: l.group }),
    h('span', {
      class: 'muted small',
      text: `elected ${fmtNumber(l.elected.total)} · demoted ${fmtNumber(l.demoted.total)}`,
    }),
  )
}

function resourceRow(r) {
  if (r.error) {
    return h(
      'tr',
      { 'data-resource': r.resource },
      h('td', {}, h('code', { text: r.resource })),
      h('td', { class: 'bad', colspan: '3', text: r.error }),
    )
  }
  const holders =
    r.holders.length === 0
      ? h('span', { class: 'muted', text: 'free' })
      : h(
          'span',
          {},
          ...r.holders.map((x, i) =>
            h(
              'span',
              { class: 'holder', title: `owner ${x.owner} · token ${x.token}` },
              i > 0 ? ', ' : '',
              h('code', { text: shortOwner(x.owner) }),
              ` ${fmtMs(x.expiresInMs)} left`,
            ),
          ),
        )
  return h(
    'tr',
    { 'data-resource': r.resource },
    h('td', {}, h('code', { text: r.resource })),
    h('td', {}, holders),
    h('td', { class: 'num', text: fmtNumber(r.queued) }),
    h('td', { class: 'num', text: r.lastToken > 0 ? `#${r.lastToken}` : '—' }),
  )
}

function stuckRow(s) {
  return h(
    'li',
    {},
    h('time', { text: fmtTime(s.at) }),
    h('code', { text: `${s.kind}:${s.resource}` }),
    h('span', {
      class: 'muted small',
      text: `agent ${s.agent} · held ${fmtDuration(s.heldMs / 1000)}${s.recovered ? ' · taken back' : ' · released meanwhile'}`,
    }),
  )
}

/** This process's coordination, or an empty state when it has no coord. */
export function coordPanel() {
  const { section, body } = panel('coord', 'Coordination', { size: 'full' })
  const empty = emptyState('coord-empty', [
    'No coordination in this process — ',
    ['createCoord(valkit)'],
    ' registers here.',
  ])
  const held = tile('held locks', 'coord-held')
  const waiting = tile('waiters', 'coord-waiting')
  const leaders = tile('leaders', 'coord-leaders')
  const deadlocks = tile('deadlocks broken', 'coord-deadlocks')
  const recovered = tile('locks recovered', 'coord-recovered')
  const c = chart(
    [
      { key: 'held', label: 'held locks', cls: 'c1', pick: (p) => p.held },
      { key: 'waiting', label: 'waiters', cls: 'c2', pick: (p) => p.waiting },
    ],
    fmtNumber,
    { points: () => history.get(KEY), emptyText: () => 'no readings yet', height: 170 },
  )
  const { dl, values } = kv([
    ['granted', 'Granted'],
    ['busy', 'Busy'],
    ['timeout', 'Timed out'],
    ['aborted', 'Aborted'],
    ['error', 'Failed'],
    ['wait', 'Wait p50 / p99'],
    ['releases', 'Released'],
    ['lost', 'Leases lost'],
    ['fenced', 'Fenced writes'],
    ['atomic', 'CAS / idempotent'],
    ['transactions', 'Transactions'],
  ])
  const leaderList = h('ul', { class: 'leader-list' })
  const leaderEmpty = h('p', { class: 'muted', text: 'No election in this process.' })
  const resourceBody = h('tbody')
  const resourceTable = h(
    'table',
    { class: 'resource-table' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { text: 'resource' }),
        h('th', { text: 'holders' }),
        h('th', { class: 'num', text: 'queued' }),
        h('th', { class: 'num', text: 'last token' }),
      ),
    ),
    resourceBody,
  )
  const resourceNote = h('p', { class: 'muted' })
  const stuckList = h('ul', { class: 'stuck-list' })
  const stuckNote = h('p', { class: 'muted' })
  const extras = extrasBlock('coord_')
  const content = h(
    'div',
    { class: 'coord-content' },
    tiles(held, waiting, leaders, deadlocks, recovered),
    h('div', { class: 'card-body' }, h('div', { class: 'card-chart' }, c.legend, c.svg), dl),
    h(
      'div',
      { class: 'card-columns three' },
      h(
        'section',
        { 'data-testid': 'coord-leader-list' },
        h('h4', { text: 'Leaders per group' }),
        leaderList,
        leaderEmpty,
      ),
      h(
        'section',
        { 'data-testid': 'coord-resources' },
        h('h4', { text: 'Resources' }),
        resourceTable,
        resourceNote,
      ),
      h('section', { 'data-testid': 'coord-stuck' }, h('h4', { text: 'Stuck locks' }), stuckList, stuckNote),
    ),
    extras.el,
  )
  body.append(empty, content)
  let leadersKey = ''
  let resourcesKey = ''
  let stuckKey = ''
  return {
    section,
    update(snap) {
      const co = snap.coord
      const present = Boolean(co?.present)
      empty.hidden = present
      content.hidden = !present
      if (!present) return
      // leaderships are leases too (kind `leader`); the panel counts them under Leaders
      const locks = co.held.total - (co.held.byKind.leader ?? 0)
      history.record(KEY, co.interval, snap.state, { held: locks, waiting: co.waiting.total })

      held.set(big(locks), kindsNote({ byKind: { ...co.held.byKind, leader: 0 } }, 'none held'))
      waiting.set(
        big(co.waiting.total),
        kindsNote(co.waiting, 'nobody waits'),
        co.waiting.total > 0 ? 'warn' : '',
      )
      const leading = co.leaders.filter((l) => l.leading).length
      leaders.set(
        co.leaders.length === 0 ? '—' : `${fmtNumber(leading)} / ${fmtNumber(co.leaders.length)}`,
        co.leaders.length === 0 ? 'no election' : 'groups led by this process',
        leading > 0 ? 'good' : '',
      )
      const d = co.deadlocksBroken
      deadlocks.set(
        d === null ? 'n/a' : big(d.total),
        d?.perSecond ? 'in the last interval' : 'since start',
        d === null ? 'na' : d.total > 0 ? 'warn' : '',
      )
      const r = co.locksRecovered
      recovered.set(
        r === null ? 'n/a' : big(r.total),
        'held past deadlock.maxHold',
        r === null ? 'na' : r.total > 0 ? 'warn' : '',
      )

      for (const key of ['granted', 'busy', 'timeout', 'aborted', 'error']) {
        setCounted(values[key], co.acquires[key] ?? { total: 0, perSecond: null }, { bad: key === 'error' })
      }
      const waits = co.waits.filter((w) => w.grants.total > 0)
      setText(
        values.wait,
        waits.length === 0
          ? '—'
          : waits.map((w) => `${w.kind} ${fmtMs(w.p50Ms)} / ${fmtMs(w.p99Ms)}`).join(' · '),
      )
      setCounted(values.releases, co.releases)
      setCounted(values.lost, co.leasesLost, { bad: true })
      setText(values.fenced, breakdown(co.fencedWrites))
      values.fenced.className = (co.fencedWrites.stale?.total ?? 0) > 0 ? 'warn' : ''
      const atomic = [breakdown(co.cas), breakdown(co.idempotent)].filter((x) => x !== '—')
      setText(values.atomic, atomic.length === 0 ? '—' : atomic.join(' · '))
      setText(values.transactions, breakdown(co.transactions))

      const lk = JSON.stringify(co.leaders.map((l) => [l.group, l.leading, l.elected.total, l.demoted.total]))
      if (lk !== leadersKey) {
        leadersKey = lk
        leaderList.replaceChildren(...co.leaders.map(leaderRow))
      }
      leaderEmpty.hidden = co.leaders.length > 0

      const rk = JSON.stringify(co.resources)
      if (rk !== resourcesKey) {
        resourcesKey = rk
        resourceBody.replaceChildren(...(co.resources ?? []).map(resourceRow))
      }
      resourceTable.hidden = !co.resources || co.resources.length === 0
      if (co.resources === null) {
        resourceNote.replaceChildren(
          'Holders across every instance, for resources you name: ',
          h('code', { text: "panels: { coord: { coord, resources: ['…'] } }" }),
          '.',
        )
      } else resourceNote.replaceChildren()
      resourceNote.hidden = co.resources !== null

      const sk = JSON.stringify(co.stuckLocks)
      if (sk !== stuckKey) {
        stuckKey = sk
        stuckList.replaceChildren(...(co.stuckLocks ?? []).map(stuckRow))
      }
      if (co.stuckLocks === null) {
        stuckNote.replaceChildren(
          'Reported by ',
          h('code', { text: 'onStuckLock' }),
          ' when the coord is given in ',
          h('code', { text: 'panels.coord' }),
          '.',
        )
      } else setText(stuckNote, 'No lock held past deadlock.maxHold.')
      stuckNote.hidden = (co.stuckLocks?.length ?? 0) > 0

      extras.set(co.extras)
      c.draw()
    },
  }
}
