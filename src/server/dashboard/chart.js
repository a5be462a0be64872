// Time charts of the dashboard: lines, or stacked shares of a whole, over the last WINDOW_MS.

import { fmtSpan } from './format.js'
import { h, s, setText } from './ui.js'

export const WINDOW_MS = 10 * 60 * 1000 // charts show the last 10 minutes
export const MAX_POINTS = 900

function niceCeil(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)))
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p
  return 10 * p
}

const present = (v) => v !== null && v !== undefined

/**
 * A chart of the last WINDOW_MS. `lines` pick values from a point (`{ t, state, ... }`, oldest
 * first, from `options.points()`); `format` writes the legend's values, `options.axisFormat`
 * (default: `format`) the axis labels. `options.height` is the viewBox height
 * (180); its width follows the chart's box (`options.width`, 600, until it is laid out).
 *
 * With `stacked`, the lines are shares of one whole (0..1, summing to 1): each is drawn as an area
 * on top of the previous ones, one step per point from `p.from` to `p.t`; a point where any share
 * is missing leaves a gap.
 */
export function chart(
  lines,
  format,
  {
    points,
    emptyText = () => 'no data yet',
    stacked = false,
    axisFormat = format,
    width = 600,
    height = 180,
  },
) {
  const H = height
  const PAD = { l: 56, r: 10, t: 10, b: 22 }
  const svg = s('svg', { viewBox: `0 0 ${width} ${H}`, class: 'chart', role: 'img' })
  const legend = h('div', { class: 'legend' })
  const current = {}
  for (const line of lines) {
    const value = h('strong', { text: '—' })
    current[line.key] = value
    legend.append(
      h(
        'span',
        { class: 'legend-item' },
        h('span', { class: `swatch ${line.cls}` }),
        h('span', { text: line.label }),
        value,
      ),
    )
  }
  function draw() {
    // The SVG scales to its box: a viewBox as wide as the box keeps labels at their CSS size.
    const box = svg.parentNode?.clientWidth ?? 0
    const W = box > 0 ? Math.max(240, Math.round(box)) : width
    if (svg.getAttribute('viewBox') !== `0 0 ${W} ${H}`) svg.setAttribute('viewBox', `0 0 ${W} ${H}`)
    const now = Date.now()
    const all = points()
    // The window grows with the data: at least a minute, at most WINDOW_MS.
    const first = all[0] ? (stacked ? (all[0].from ?? all[0].t) : all[0].t) : now
    const span = Math.min(WINDOW_MS, Math.max(60_000, now - first))
    const from = now - span
    const pts = all.filter((p) => p.t >= from)
    let max = 1
    if (!stacked) {
      max = 0
      for (const p of pts) for (const line of lines) max = Math.max(max, line.pick(p) ?? 0)
      max = niceCeil(max || 1)
    }
    const x = (t) => PAD.l + ((Math.max(t, from) - from) / span) * (W - PAD.l - PAD.r)
    const y = (v) => PAD.t + (1 - v / max) * (H - PAD.t - PAD.b)
    const children = []
    // shade the periods that were not `ready`
    let start = null
    for (let i = 0; i <= pts.length; i++) {
      const p = pts[i]
      const bad = p && p.state !== 'ready'
      if (bad && start === null) start = stacked ? (p.from ?? p.t) : p.t
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
      label.textContent = axisFormat(v)
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
    if (stacked) children.push(...stackedAreas(lines, pts, x, y))
    else children.push(...linePaths(lines, pts, x, y))
    for (const line of lines) {
      const last = [...pts].reverse().find((p) => present(line.pick(p)))
      setText(current[line.key], last ? format(line.pick(last)) : '—')
    }
    if (!lines.some((line) => pts.some((p) => present(line.pick(p))))) {
      const empty = s('text', {
        x: (PAD.l + W - PAD.r) / 2,
        y: (PAD.t + H - PAD.b) / 2,
        class: 'empty',
        'text-anchor': 'middle',
      })
      empty.textContent = emptyText()
      children.push(empty)
    }
    svg.replaceChildren(...children)
  }
  return { svg, legend, draw }
}

function linePaths(lines, pts, x, y) {
  return lines.map((line) => {
    let d = ''
    let pen = false
    for (const p of pts) {
      const v = line.pick(p)
      if (!present(v)) {
        pen = false
        continue
      }
      d += `${pen ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(v).toFixed(1)}`
      pen = true
    }
    return s('path', { d, class: `line ${line.cls}` })
  })
}

/** Runs of consecutive points that have every share and follow each other without a gap. */
function runsOf(lines, pts) {
  const runs = []
  let run = null
  for (const p of pts) {
    const ok = lines.every((line) => present(line.pick(p)))
    if (!ok) {
      run = null
      continue
    }
    const prev = run?.[run.length - 1]
    if (!run || Math.abs((p.from ?? p.t) - prev.t) > 1) runs.push((run = []))
    run.push(p)
  }
  return runs
}

function stackedAreas(lines, pts, x, y) {
  const runs = runsOf(lines, pts)
  const below = (p, i) => lines.slice(0, i).reduce((sum, line) => sum + line.pick(p), 0)
  const out = []
  const edges = []
  lines.forEach((line, i) => {
    let area = ''
    let edge = ''
    for (const run of runs) {
      const top = []
      const bottom = []
      for (const p of run) {
        const lo = below(p, i)
        const hi = lo + line.pick(p)
        const x0 = x(p.from ?? p.t).toFixed(1)
        const x1 = x(p.t).toFixed(1)
        top.push(`${x0},${y(hi).toFixed(1)}`, `${x1},${y(hi).toFixed(1)}`)
        bottom.push(`${x0},${y(lo).toFixed(1)}`, `${x1},${y(lo).toFixed(1)}`)
      }
      area += `M${top.join('L')}L${bottom.reverse().join('L')}Z`
      edge += `M${top.join('L')}`
    }
    out.push(s('path', { d: area, class: `area ${line.cls}` }))
    if (i < lines.length - 1) edges.push(s('path', { d: edge, class: `line ${line.cls}` }))
  })
  return [...out, ...edges]
}
