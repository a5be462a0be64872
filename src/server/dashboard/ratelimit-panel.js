// The Rate limiting panel: one card per limiter of the process (snapshot.ratelimit.limiters) with
// decisions per second (allowed and refused) over time, decisions per second by rule, the most
// refused keys, outcomes and sources; then the LLM budgets (dollars spent, reservations).

import { chart } from './chart.js'
import { fmtNumber, fmtPercent, fmtRate, fmtUsd } from './format.js'
import {
  barList,
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

const OUTCOMES = [
  ['allowed', 'Allowed'],
  ['limited', 'Limited'],
  ['blocked', 'Blocked'],
  ['denied', 'Denied'],
  ['too-large', 'Too large'],
  ['unavailable', 'Unavailable'],
]

const share = (part, whole) => (whole > 0 ? part / whole : null)

/** One bar per rule: its decisions per second over the last interval (totals before there is one), allowed and refused. */
function rulesRows(rules) {
  const rated = rules.some((r) => r.decisions.perSecond !== null)
  return rules.map((r) => {
    const d = r.decisions
    const all = rated ? (d.perSecond ?? 0) : d.total
    const refused = rated ? (r.refused.perSecond ?? 0) : r.refused.total
    const refusedShare = share(r.refused.total, d.total)
    return {
      label: r.rule,
      value: all,
      segments: [
        { value: all - refused, cls: '' },
        { value: refused, cls: 'refused' },
      ],
      text: `${rated ? fmtRate(d.perSecond ?? 0) : fmtNumber(d.total)} · ${refusedShare === null ? 'no decision yet' : `${fmtPercent(refusedShare)} refused`}`,
      title: `${r.rule}: ${fmtNumber(d.total)} decisions · ${breakdown(r.outcomes)}`,
    }
  })
}

function limiterCard(name) {
  const decisions = tile('decisions per second', 'ratelimit-rate')
  const checks = tile('checks', 'ratelimit-checks')
  const refused = tile('refused', 'ratelimit-refused')
  const c = chart(
    [
      { key: 'allowed', label: 'allowed/s', cls: 'c3', pick: (p) => p.allowed },
      { key: 'refused', label: 'refused/s', cls: 'c2', pick: (p) => p.refused },
    ],
    fmtRate,
    { points: () => history.get(name), emptyText: () => 'no checks yet', height: 170 },
  )
  const { dl, values } = kv([
    ...OUTCOMES,
    ['sources', 'Decided by'],
    ['storeErrors', 'Store errors'],
    ['adaptive', 'Adaptive factor'],
    ['rules', 'Rules version'],
  ])
  const rules = barList('rule-bars')
  const top = barList('top-bars')
  const topNote = h('p', { class: 'muted top-note' })
  const extras = extrasBlock('ratelimit_')
  const card = h(
    'article',
    { class: 'card-block rl-card', 'data-limiter': name },
    h(
      'header',
      { class: 'card-head' },
      h('h3', { class: 'card-name', text: name }),
      tiles(decisions, checks, refused),
    ),
    h('div', { class: 'card-body' }, h('div', { class: 'card-chart' }, c.legend, c.svg), dl),
    h(
      'div',
      { class: 'card-columns' },
      h('section', {}, h('h4', { text: 'Decisions by rule' }), rules.el),
      h(
        'section',
        { 'data-testid': 'ratelimit-top' },
        h('h4', { text: 'Top limited keys' }),
        top.el,
        topNote,
      ),
    ),
    extras.el,
  )
  return {
    card,
    update(l, ratelimit, state) {
      history.record(name, ratelimit.interval, state, {
        allowed: l.outcomes.allowed?.perSecond ?? (l.checks.perSecond === null ? null : 0),
        refused: l.refused.perSecond,
      })
      decisions.set(
        l.checks.perSecond === null ? '—' : fmtRate(l.checks.perSecond),
        l.refused.perSecond ? `${fmtRate(l.refused.perSecond)} refused` : 'last interval',
      )
      checks.set(big(l.checks.total), `${big(l.outcomes.allowed?.total ?? 0)} allowed`)
      const refusedShare = share(l.refused.total, l.checks.total)
      refused.set(
        big(l.refused.total),
        refusedShare === null ? 'no checks yet' : `${fmtPercent(refusedShare)} of checks`,
        l.refused.total > 0 ? 'warn' : '',
      )
      for (const [key] of OUTCOMES)
        setCounted(
          values[key],
          l.outcomes[key] ?? { total: 0, perSecond: l.checks.perSecond === null ? null : 0 },
        )
      values.unavailable.className = (l.outcomes.unavailable?.total ?? 0) > 0 ? 'bad' : ''
      setText(values.sources, breakdown(l.sources))
      setCounted(values.storeErrors, l.storeErrors, { bad: true })
      const codes = breakdown(l.storeErrorCodes)
      values.storeErrors.title = codes
      setText(values.adaptive, l.adaptiveFactor === null ? 'n/a' : `× ${fmtNumber(l.adaptiveFactor)}`)
      values.adaptive.className = l.adaptiveFactor === null ? 'na' : l.adaptiveFactor < 1 ? 'warn' : ''
      const updates = breakdown(l.rulesUpdates)
      setText(
        values.rules,
        l.rulesVersion === null
          ? 'n/a'
          : `${l.rulesVersion === 0 ? '0 (rules in code)' : `v${l.rulesVersion}`}${updates === '—' ? '' : ` · ${updates}`}`,
      )
      values.rules.className =
        l.rulesVersion === null ? 'na' : (l.rulesUpdates.rejected?.total ?? 0) > 0 ? 'warn' : ''
      rules.set(rulesRows(l.rules))
      if (l.topLimited === null) {
        top.set([])
        topNote.replaceChildren(
          'Top keys are not metrics. Pass this limiter to ',
          h('code', { text: 'createServer({ panels: { rateLimiters: [limiter] } })' }),
          ' to list them.',
        )
        topNote.hidden = false
      } else {
        top.set(
          l.topLimited.map((k) => ({
            label: k.key,
            value: k.count,
            text: `${fmtNumber(k.count)}×`,
            cls: 'refused',
          })),
        )
        setText(topNote, 'No key refused yet.')
        topNote.hidden = l.topLimited.length > 0
      }
      extras.set(l.extras)
      c.draw()
    },
  }
}

function budgetCard(name) {
  const spent = tile('spent', 'budget-spent')
  const rate = tile('per minute', 'budget-rate')
  const reservations = tile('reservations', 'budget-reservations')
  const by = barList('budget-bars')
  const card = h(
    'article',
    { class: 'card-block budget-card', 'data-budget': name },
    h(
      'header',
      { class: 'card-head' },
      h('h3', { class: 'card-name', text: name }),
      tiles(spent, rate, reservations),
    ),
    by.el,
  )
  return {
    card,
    update(b) {
      spent.set(fmtUsd(b.spentUsd.total), 'settled calls, this instance')
      rate.set(
        b.spentUsd.perSecond === null ? '—' : fmtUsd(b.spentUsd.perSecond * 60),
        'at the last interval’s rate',
      )
      const reserved = b.reservations.reserved?.total ?? 0
      const exceeded = b.reservations.exceeded?.total ?? 0
      const others = Object.entries(b.reservations)
        .filter(([k, c]) => k !== 'reserved' && c.total > 0)
        .map(([k, c]) => `${fmtNumber(c.total)} ${k}`)
      reservations.set(
        big(reserved),
        others.length > 0 ? others.join(' · ') : 'none refused',
        exceeded > 0 ? 'warn' : '',
      )
      by.set(
        b.budgets.map((x) => ({
          label: x.budget,
          value: x.spentUsd.total,
          text: x.spentUsd.perSecond
            ? `${fmtUsd(x.spentUsd.total)} · ${fmtUsd(x.spentUsd.perSecond * 60)}/min`
            : fmtUsd(x.spentUsd.total),
        })),
      )
    },
  }
}

/** Every rate limiter and LLM budget set of the process, or an empty state when it has none. */
export function ratelimitPanel() {
  const { section, body } = panel('ratelimit', 'Rate limiting', { size: 'full' })
  const empty = emptyState('ratelimit-empty', [
    'No rate limiter in this process — ',
    ['createRateLimiter(valkit, …)'],
    ' registers here (',
    ['createLlmBudget(valkit, …)'],
    ' for LLM budgets).',
  ])
  const list = h('div', { class: 'card-list' })
  const budgetsHead = h('h4', { class: 'sub-head', text: 'LLM budgets' })
  const budgets = h('div', { class: 'card-list budget-list' })
  const extras = extrasBlock('ratelimit_')
  body.append(empty, list, budgetsHead, budgets, extras.el)
  const cards = new Map()
  const budgetCards = new Map()
  return {
    section,
    update(snap) {
      const rl = snap.ratelimit ?? { interval: null, limiters: [], budgets: [], extras: [] }
      const names = syncCards(list, cards, rl.limiters, (l) => l.name, limiterCard)
      for (const l of rl.limiters) cards.get(l.name).update(l, rl, snap.state)
      history.forget(names)
      const budgetNames = syncCards(budgets, budgetCards, rl.budgets, (b) => b.name, budgetCard)
      for (const b of rl.budgets) budgetCards.get(b.name).update(b)
      budgetsHead.hidden = budgetNames.length === 0
      budgets.hidden = budgetNames.length === 0
      extras.set(rl.extras)
      empty.hidden = names.length > 0 || budgetNames.length > 0 || rl.extras.length > 0
    },
  }
}
