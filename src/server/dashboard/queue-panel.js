// The Queues panel: one card per queue (snapshot.queues.queues) with jobs per state, completed
// and failed per second over time, wait and processing times and a paused badge; for a queue
// given to the server (panels.queues), the operator actions and a job browser (queue-jobs.js),
// which call the admin API with the token the dashboard holds.

import { chart } from './chart.js'
import { fmtMs, fmtNumber, fmtRate, fmtTime } from './format.js'
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
import { jobBrowser } from './queue-jobs.js'
import { h, kv, panel, setText } from './ui.js'

const history = histories()

const VERBS = { retry: 'retried', promote: 'promoted', remove: 'removed' }

const ms = (v) => (v === 0 ? '0 ms' : fmtMs(v))

function latencyText(l) {
  if (!l || l.observed.total === 0) return '—'
  return `p50 ${ms(l.p50Ms)} · p95 ${ms(l.p95Ms)} · p99 ${ms(l.p99Ms)}`
}

/** What an action's answer says, in one sentence. */
function doneText(body) {
  if (body.action === 'retry-all')
    return body.changed === 0
      ? 'No dead job to retry.'
      : `${fmtNumber(body.changed)} dead jobs back to waiting.`
  if (body.action === 'pause') return 'Paused: workers stop fetching; running jobs finish.'
  if (body.action === 'resume') return 'Resumed: workers fetch again.'
  return `Job ${body.id} ${VERBS[body.action] ?? body.action}${body.job ? ` (now ${body.job.state})` : ''}.`
}

/** The line under a card's actions: what an action is doing, did, or why it failed. */
function statusLine() {
  const el = h('p', { class: 'queue-status muted small', role: 'status', 'data-testid': 'queue-status' })
  const set = (text, cls) => {
    setText(el, text)
    el.className = `queue-status small ${cls}`
  }
  return {
    el,
    busy: (text) => set(text, 'muted'),
    done: (body) => set(doneText(body), 'good'),
    failed: (message) => set(message, 'bad'),
  }
}

function queueCard(name, api) {
  const waiting = tile('waiting', 'queue-waiting')
  const delayed = tile('delayed', 'queue-delayed')
  const active = tile('active', 'queue-active')
  const completed = tile('completed', 'queue-completed')
  const dead = tile('dead', 'queue-dead')
  const paused = h('span', {
    class: 'pill pill-paused',
    'data-testid': 'queue-paused',
    text: 'paused',
    hidden: true,
  })
  const c = chart(
    [
      { key: 'completed', label: 'completed/s', cls: 'c3', pick: (p) => p.completed },
      { key: 'failed', label: 'failed/s', cls: 'c2', pick: (p) => p.failed },
    ],
    fmtRate,
    { points: () => history.get(name), emptyText: () => 'no readings yet', height: 170 },
  )
  const chartTitle = h('p', { class: 'chart-title' })
  const { dl, values } = kv([
    ['throughput', 'Throughput'],
    ['wait', 'Wait'],
    ['processing', 'Processing'],
    ['added', 'Added'],
    ['failed', 'Failed attempts'],
    ['stalled', 'Stalled'],
    ['refused', 'Refused / dropped'],
    ['workers', 'Workers here'],
    ['read', 'Counts read'],
  ])
  const status = statusLine()
  const retryAll = h('button', {
    type: 'button',
    class: 'btn',
    'data-action': 'retry-all',
    text: 'Retry all dead',
  })
  const pause = h('button', { type: 'button', class: 'btn', 'data-action': 'pause', text: 'Pause' })
  const actions = h('div', { class: 'queue-actions' }, retryAll, pause, status.el)
  const note = h(
    'p',
    { class: 'muted' },
    'Its workers run in this process. Give the queue to the server — ',
    h('code', { text: 'panels: { queues: [queue] }' }),
    ' — to see its counts and jobs and act on them.',
  )
  const extras = extrasBlock('queue_')

  /** Reads the queue's stats again after an action (the counts are then read anew). */
  async function refresh() {
    try {
      const section = await api('/api/queues')
      const q = section.queues.find((x) => x.queue === name)
      if (q) update(q, section, null)
    } catch {
      // the next snapshot shows it
    }
  }

  async function act(label, url) {
    status.busy(`${label}…`)
    try {
      status.done(await api(url, { method: 'POST' }))
    } catch (err) {
      status.failed(err.message)
    }
    await refresh()
  }
  const base = `/api/queues/${encodeURIComponent(name)}`
  retryAll.addEventListener('click', () => act('Retrying every dead job', `${base}/retry-all`))
  pause.addEventListener('click', () => {
    const resume = pause.dataset.action === 'resume'
    act(resume ? 'Resuming' : 'Pausing', `${base}/${resume ? 'resume' : 'pause'}`)
  })

  const jobs = jobBrowser(name, { api, status, onChange: () => void refresh() })

  const card = h(
    'article',
    { class: 'card-block queue-card', 'data-queue': name },
    h(
      'header',
      { class: 'card-head' },
      h('div', { class: 'queue-title' }, h('h3', { class: 'card-name', text: name }), paused),
      tiles(waiting, delayed, active, completed, dead),
    ),
    h('div', { class: 'card-body' }, h('div', { class: 'card-chart' }, chartTitle, c.legend, c.svg), dl),
    actions,
    jobs.el,
    note,
    extras.el,
  )

  function update(q, section, state) {
    const tp = q.throughput
    const interval = tp.scope === 'queue' ? q.totalsInterval : section.interval
    if (state !== null)
      history.record(name, interval, state, {
        completed: tp.completed.perSecond,
        failed: tp.failed.perSecond,
      })
    setText(
      chartTitle,
      tp.scope === 'queue' ? 'per second, every instance' : 'per second, this process’s workers',
    )
    const n = q.counts
    const set = (t, value, noteText, cls = '') =>
      t.set(n ? big(value) : 'n/a', n ? noteText : q.managed ? 'not read yet' : 'not known', n ? cls : 'na')
    set(waiting, n?.waiting, 'ready to run')
    set(delayed, n?.delayed, 'run later')
    set(active, n?.active, 'running now', n?.active > 0 ? 'good' : '')
    set(completed, n?.completed, 'kept')
    set(dead, n?.dead, 'dead letters', n?.dead > 0 ? 'bad' : '')
    paused.hidden = q.paused !== true

    setText(
      values.throughput,
      `completed ${fmtRate(tp.completed.perSecond ?? 0)} · failed ${fmtRate(tp.failed.perSecond ?? 0)}`,
    )
    values.throughput.className = (tp.failed.perSecond ?? 0) > 0 ? 'warn' : ''
    setText(values.wait, latencyText(q.wait))
    setText(values.processing, latencyText(q.processing))
    const t = q.totals
    setCounted(values.added, t?.added)
    setCounted(values.failed, t?.failed ?? (q.workers ? tp.failed : null))
    setCounted(values.stalled, t?.stalled, { bad: true })
    setText(values.refused, t ? `${fmtNumber(t.refused.total)} / ${fmtNumber(t.dropped.total)}` : 'n/a')
    values.refused.className = t ? (t.refused.total + t.dropped.total > 0 ? 'warn' : '') : 'na'
    const settled = q.workers ? breakdown(q.workers) : null
    setText(
      values.workers,
      settled === null ? 'none in this process' : settled === '—' ? 'no attempt yet' : settled,
    )
    values.workers.className = q.workers ? '' : 'na'
    setText(
      values.read,
      q.error
        ? `failed: ${q.error}`
        : q.countsAt
          ? fmtTime(q.countsAt)
          : q.counts
            ? 'from this process'
            : '—',
    )
    values.read.className = q.error ? 'bad' : ''

    actions.hidden = !q.managed
    jobs.el.hidden = !q.managed
    note.hidden = q.managed
    if (q.managed) {
      retryAll.disabled = !n || n.dead === 0
      const isPaused = q.paused === true
      pause.dataset.action = isPaused ? 'resume' : 'pause'
      setText(pause, isPaused ? 'Resume' : 'Pause')
      if (n) jobs.update(n)
    }
    extras.set(q.extras)
    c.draw()
  }

  return { card, update }
}

/**
 * Every queue of the process, or an empty state when it has none. `api(path, { method })`
 * calls the admin API with the dashboard's token.
 */
export function queuePanel({ api }) {
  const { section, body } = panel('queues', 'Queues', { size: 'full' })
  const empty = emptyState('queues-empty', [
    'No queue in this process — ',
    ['createQueue(valkit, …)'],
    ' registers here when given to the server (',
    ['panels: { queues }'],
    '); a queue a worker runs here (',
    ['createWorker'],
    ') shows by itself.',
  ])
  const list = h('div', { class: 'card-list queue-list' })
  const extras = extrasBlock('queue_')
  body.append(empty, list, extras.el)
  const cards = new Map()
  return {
    section,
    update(snap) {
      const queues = snap.queues ?? { interval: null, queues: [], extras: [] }
      const names = syncCards(
        list,
        cards,
        queues.queues,
        (q) => q.queue,
        (name) => queueCard(name, api),
      )
      for (const q of queues.queues) cards.get(q.queue).update(q, queues, snap.state)
      history.forget(names)
      extras.set(queues.extras)
      empty.hidden = names.length > 0 || queues.extras.length > 0
    },
  }
}
