// Small DOM helpers of the dashboard (text only: data never becomes HTML).

/** An element with attributes (`class`, `text`, others as attributes) and children. */
export function h(tag, attrs = {}, ...children) {
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

/** An SVG element with attributes. */
export function s(tag, attrs = {}) {
  const el = document.createElementNS(SVG_NS, tag)
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v))
  return el
}

/** Sets text only when it changed (no layout work for unchanged values). */
export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text
}

/** A panel's frame. `size`: 'one' (a quarter on wide screens), 'half', or 'full' width. */
export function panel(id, title, { size = 'one' } = {}) {
  const body = h('div', { class: 'panel-body' })
  const section = h('section', {
    class: `panel size-${size}`,
    id: `panel-${id}`,
    'aria-labelledby': `panel-${id}-title`,
  })
  section.append(h('h2', { id: `panel-${id}-title`, text: title }), body)
  return { section, body }
}

/** A definition list of `[key, label]` rows; `values[key]` is the `<dd>` to fill. */
export function kv(rows) {
  const dl = h('dl', { class: 'kv' })
  const values = {}
  for (const [key, label] of rows) {
    const dd = h('dd', { 'data-key': key, text: '—' })
    dl.append(h('dt', { text: label }), dd)
    values[key] = dd
  }
  return { dl, values }
}
