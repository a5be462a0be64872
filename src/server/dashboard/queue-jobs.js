// The job browser of a queue card: tabs per state, a page of jobs, one job's detail (data,
// attempts, error history, progress, result) and the operator actions. Every read and action
// goes through the admin API with the dashboard's token (`api`).

import { fmtDuration, fmtNumber } from './format.js'
import { h, kv, setText } from './ui.js'

export const TABS = ['waiting', 'delayed', 'active', 'dead', 'completed']
const PAGE = 20
/** Longest JSON shown in the detail view, in characters. */
const MAX_JSON = 20_000

const path = (queue, ...rest) =>
  `/api/queues/${encodeURIComponent(queue)}${rest.map((p) => `/${encodeURIComponent(p)}`).join('')}`

/** `12s ago` / `in 5m 3s` from an epoch ms. */
function relative(at) {
  if (at === undefined || at === null) return '—'
  const sec = Math.round((at - Date.now()) / 1000)
  if (Math.abs(sec) < 1) return 'now'
  return sec > 0 ? `in ${fmtDuration(sec)}` : `${fmtDuration(-sec)} ago`
}

const fullTime = (at) => (at === undefined || at === null ? '—' : new Date(at).toLocaleString())

function json(value) {
  let text
  try {
    text = JSON.stringify(value, null, 2) ?? String(value)
  } catch {
    text = String(value)
  }
  return text.length > MAX_JSON
    ? `${text.slice(0, MAX_JSON)}\n… (${fmtNumber(text.length - MAX_JSON)} more characters)`
    : text
}

/** One line of a value: its JSON cut short. */
function preview(value, max = 60) {
  const text = json(value).replace(/\s+/g, ' ')
  return text.length > max ? `${text.slice(0, max - 1)}…` : text
}

/** What the last column of the list says for a job in `state`. */
function info(job, state) {
  const last = job.errors[job.errors.length - 1]
  if (state === 'dead') return last ? last.message : 'no error recorded'
  if (state === 'completed') return job.result === undefined ? '—' : preview(job.result)
  if (state === 'active')
    return job.progress === undefined ? 'running' : `progress ${preview(job.progress, 30)}`
  const parts = []
  if (job.priority > 0) parts.push(`priority ${job.priority}`)
  if (last) parts.push(`last error: ${last.message}`)
  return parts.length > 0 ? parts.join(' · ') : '—'
}

function when(job, state) {
  if (state === 'delayed') return `runs ${relative(job.runAt)}`
  if (state === 'completed' || state === 'dead') return `finished ${relative(job.finishedAt)}`
  return `added ${relative(job.createdAt)}`
}

/** A button that asks once more (`Confirm remove`) before it acts. */
function confirmButton(label, confirmLabel, attrs, act) {
  const button = h('button', { type: 'button', class: 'btn btn-danger', ...attrs, text: label })
  let timer = null
  button.addEventListener('click', () => {
    if (timer === null) {
      setText(button, confirmLabel)
      button.classList.add('btn-confirm')
      timer = setTimeout(() => {
        timer = null
        setText(button, label)
        button.classList.remove('btn-confirm')
      }, 4000)
      return
    }
    clearTimeout(timer)
    timer = null
    setText(button, label)
    button.classList.remove('btn-confirm')
    act()
  })
  return button
}

/**
 * The browser of one queue. `api(path, { method })` calls the admin API; `onChange()` runs after
 * an action changed the queue (the card refreshes its counts). Returns `{ el, update(counts) }`:
 * `update` redraws the tab counts and reloads the page shown when the queue's counts moved.
 */
export function jobBrowser(queue, { api, onChange, status }) {
  let state = 'waiting'
  let start = 0
  let counts = null
  let selected = null
  let loading = false
  let again = false

  const tabButtons = TABS.map((s) => {
    const label = h('span', { text: s })
    const count = h('span', { class: 'tab-count', text: '' })
    const button = h(
      'button',
      { type: 'button', class: 'tab', role: 'tab', 'data-state': s, 'aria-selected': 'false' },
      label,
      count,
    )
    button.addEventListener('click', () => {
      if (state === s) return
      state = s
      start = 0
      drawTabs()
      load()
    })
    return { s, button, count }
  })
  const tabs = h('div', { class: 'tabs', role: 'tablist' }, ...tabButtons.map((t) => t.button))

  const rows = h('tbody')
  const table = h(
    'table',
    { class: 'resource-table job-table', 'data-testid': 'queue-jobs' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { text: 'job' }),
        h('th', { text: 'name' }),
        h('th', { class: 'num', text: 'attempts' }),
        h('th', { text: 'when' }),
        h('th', { text: '' }),
        h('th', { text: '' }),
      ),
    ),
    rows,
  )
  const listNote = h('p', { class: 'muted', 'data-testid': 'queue-jobs-note' })
  const prev = h('button', { type: 'button', class: 'btn', text: '‹ newer' })
  const next = h('button', { type: 'button', class: 'btn', text: 'older ›' })
  const pageText = h('span', { class: 'muted small' })
  prev.addEventListener('click', () => {
    start = Math.max(0, start - PAGE)
    load()
  })
  next.addEventListener('click', () => {
    start += PAGE
    load()
  })
  const pager = h('div', { class: 'pager' }, prev, pageText, next)

  const detail = h('div', { class: 'job-detail', 'data-testid': 'queue-job-detail', hidden: true })
  const detailHint = h('p', { class: 'muted', text: 'Select a job to see its data, attempts and errors.' })

  const el = h(
    'section',
    { class: 'queue-jobs' },
    tabs,
    h(
      'div',
      { class: 'queue-jobs-body' },
      h('div', { class: 'job-list' }, table, listNote, pager),
      h('div', { class: 'job-side' }, detail, detailHint),
    ),
  )

  function drawTabs() {
    for (const t of tabButtons) {
      t.button.setAttribute('aria-selected', String(t.s === state))
      setText(t.count, counts ? fmtNumber(counts[t.s]) : '')
    }
  }

  /** Runs an action; says what it did or why it failed, then reloads. */
  async function act(label, method, url) {
    status.busy(`${label}…`)
    try {
      const body = await api(url, { method })
      status.done(body)
    } catch (err) {
      status.failed(err.message)
    }
    onChange()
    await load()
  }

  function jobActions(job) {
    const out = []
    if (job.state === 'dead') {
      const retry = h('button', { type: 'button', class: 'btn', 'data-action': 'retry', text: 'Retry' })
      retry.addEventListener('click', () =>
        act(`Retrying ${job.id}`, 'POST', path(queue, 'jobs', job.id, 'retry')),
      )
      out.push(retry)
    }
    if (job.state === 'delayed') {
      const promote = h('button', { type: 'button', class: 'btn', 'data-action': 'promote', text: 'Promote' })
      promote.addEventListener('click', () =>
        act(`Promoting ${job.id}`, 'POST', path(queue, 'jobs', job.id, 'promote')),
      )
      out.push(promote)
    }
    out.push(
      confirmButton('Remove', 'Confirm remove', { 'data-action': 'remove' }, () => {
        if (selected === job.id) selected = null
        return act(`Removing ${job.id}`, 'POST', path(queue, 'jobs', job.id, 'remove'))
      }),
    )
    return h('span', { class: 'job-actions' }, ...out)
  }

  function row(job) {
    const open = h('button', { type: 'button', class: 'link job-id', title: job.id, text: job.id })
    open.addEventListener('click', () => {
      selected = job.id
      showDetail()
    })
    return h(
      'tr',
      { 'data-job': job.id, class: selected === job.id ? 'selected' : '' },
      h('td', {}, open),
      h('td', { class: 'job-name' }, h('code', { text: job.name, title: job.name })),
      h('td', { class: 'num', text: fmtNumber(job.attemptsMade) }),
      h('td', { class: 'nowrap', text: when(job, state), title: fullTime(job.createdAt) }),
      h('td', { class: state === 'dead' ? 'job-info bad' : 'job-info', text: info(job, state) }),
      h('td', { class: 'num nowrap' }, jobActions(job)),
    )
  }

  async function load() {
    if (loading) {
      again = true
      return
    }
    loading = true
    const shown = state
    try {
      const body = await api(`${path(queue, 'jobs')}?state=${shown}&start=${start}&count=${PAGE}`)
      if (shown !== state) return
      rows.replaceChildren(...body.jobs.map(row))
      table.hidden = body.jobs.length === 0
      setText(listNote, body.jobs.length === 0 ? (start > 0 ? 'No more jobs.' : `No ${state} job.`) : '')
      listNote.hidden = body.jobs.length > 0
      const total = counts?.[state]
      prev.disabled = start === 0
      next.disabled = body.jobs.length < PAGE || (total !== undefined && start + PAGE >= total)
      pager.hidden = prev.disabled && next.disabled
      setText(
        pageText,
        body.jobs.length === 0
          ? ''
          : `${fmtNumber(start + 1)}–${fmtNumber(start + body.jobs.length)}${total === undefined ? '' : ` of ${fmtNumber(total)}`}`,
      )
    } catch (err) {
      rows.replaceChildren()
      table.hidden = true
      listNote.hidden = false
      setText(listNote, `The jobs could not be read: ${err.message}`)
    } finally {
      loading = false
    }
    if (selected !== null) await showDetail()
    if (again) {
      again = false
      await load()
    }
  }

  async function showDetail() {
    const id = selected
    if (id === null) return
    for (const tr of rows.children) tr.classList.toggle('selected', tr.dataset.job === id)
    let job
    try {
      job = (await api(path(queue, 'jobs', id))).job
    } catch (err) {
      if (selected !== id) return
      detail.replaceChildren(
        h('header', { class: 'detail-head' }, h('code', { class: 'job-title', text: id }), closeButton()),
        h('p', { class: 'muted', text: err.message }),
      )
      detail.hidden = false
      detailHint.hidden = true
      return
    }
    if (selected !== id) return
    drawDetail(job)
  }

  function closeButton() {
    const close = h('button', { type: 'button', class: 'link', 'data-action': 'close', text: 'close' })
    close.addEventListener('click', () => {
      selected = null
      detail.hidden = true
      detailHint.hidden = false
      for (const tr of rows.children) tr.classList.remove('selected')
    })
    return close
  }

  function drawDetail(job) {
    const { dl, values } = kv([
      ['state', 'State'],
      ['name', 'Name'],
      ['attempts', 'Attempts made'],
      ['priority', 'Priority'],
      ['created', 'Added'],
      ['runAt', 'Runs at'],
      ['finished', 'Finished'],
      ['stalls', 'Stalls'],
      ['schedule', 'Schedule'],
    ])
    setText(values.state, job.state)
    values.state.className = job.state === 'dead' ? 'bad' : ''
    setText(values.name, job.name)
    setText(values.attempts, fmtNumber(job.attemptsMade))
    setText(values.priority, fmtNumber(job.priority))
    setText(values.created, `${fullTime(job.createdAt)} (${relative(job.createdAt)})`)
    setText(values.runAt, job.runAt === undefined ? '—' : `${fullTime(job.runAt)} (${relative(job.runAt)})`)
    setText(values.finished, job.finishedAt === undefined ? '—' : fullTime(job.finishedAt))
    setText(values.stalls, fmtNumber(job.stalls))
    setText(values.schedule, job.schedule ?? '—')
    const errors =
      job.errors.length === 0
        ? h('p', { class: 'muted small', text: 'No error recorded.' })
        : h(
            'ol',
            { class: 'job-errors', 'data-testid': 'queue-job-errors' },
            ...job.errors.map((e) =>
              h(
                'li',
                {},
                h('span', {
                  class: 'muted small',
                  text: `attempt ${e.attempt ?? '?'} · ${fullTime(e.at)}${e.code ? ` · ${e.code}` : ''}`,
                }),
                h('span', { class: 'error-message', text: e.message }),
              ),
            ),
          )
    const block = (title, value, testid) =>
      value === undefined
        ? null
        : h(
            'div',
            {},
            h('h5', { class: 'sub-head', text: title }),
            h('pre', { class: 'json', 'data-testid': testid, text: json(value) }),
          )
    const parts = [
      h(
        'header',
        { class: 'detail-head' },
        h('code', { class: 'job-title', text: job.id }),
        jobActions(job),
        closeButton(),
      ),
      dl,
      h('h5', { class: 'sub-head', text: `Errors (${job.errors.length}, oldest first)` }),
      errors,
      block('Data', job.data, 'queue-job-data'),
      block('Progress', job.progress, 'queue-job-progress'),
      block('Result', job.result, 'queue-job-result'),
    ]
    detail.replaceChildren(...parts.filter((p) => p !== null))
    detail.dataset.job = job.id
    detail.hidden = false
    detailHint.hidden = true
  }

  drawTabs()
  let key = null
  return {
    el,
    /** The queue's counts from the snapshot: the tab counts, and a reload when they moved. */
    update(next) {
      counts = next
      drawTabs()
      const k = JSON.stringify(next)
      if (k === key) return
      key = k
      void load()
    },
    reload: () => load(),
  }
}
