// Number, size, duration and time formatting of the dashboard.

export function fmtBytes(n) {
  if (n === null || n === undefined) return '—'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024
    i++
  }
  return `${n >= 100 || i === 0 ? Math.round(n) : +n.toFixed(1)} ${units[i]}`
}

export function fmtMs(ms) {
  if (ms === null || ms === undefined) return '—'
  if (ms === 0) return '0'
  if (ms < 1) return `${(ms * 1000).toFixed(0)} µs`
  if (ms < 10) return `${+ms.toFixed(2)} ms`
  if (ms < 1000) return `${+ms.toFixed(ms < 100 ? 1 : 0)} ms`
  if (ms < 60_000) return `${+(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`
  return `${+(ms / 60_000).toFixed(1)} min`
}

export function fmtNumber(n) {
  if (n === null || n === undefined) return '—'
  return new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 }).format(n)
}

/** A ratio (0..1) as a percentage with one decimal. */
export function fmtPercent(r) {
  if (r === null || r === undefined) return '—'
  return `${(r * 100).toFixed(1)}%`
}

/** A per-second rate: `12.5/s`. */
export function fmtRate(n) {
  if (n === null || n === undefined) return '—'
  const digits = n >= 10 ? 0 : n >= 1 ? 1 : 2
  return `${new Intl.NumberFormat(undefined, { maximumFractionDigits: digits }).format(n)}/s`
}

export function fmtDuration(sec) {
  if (sec === null || sec === undefined) return '—'
  const d = Math.floor(sec / 86400)
  const hh = Math.floor((sec % 86400) / 3600)
  const mm = Math.floor((sec % 3600) / 60)
  if (d > 0) return `${d}d ${hh}h`
  if (hh > 0) return `${hh}h ${mm}m`
  if (mm > 0) return `${mm}m ${Math.floor(sec % 60)}s`
  return `${Math.floor(sec)}s`
}

export function fmtTime(at) {
  return new Date(at).toLocaleTimeString(undefined, { hour12: false })
}

export function fmtSpan(ms) {
  return ms >= 60_000 ? `${+(ms / 60_000).toFixed(1)} min` : `${Math.round(ms / 1000)} s`
}

/** A large count in a few characters: `12.3K`, `4.5M`. */
export function fmtCompact(n) {
  if (n === null || n === undefined) return '—'
  return new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 }).format(n)
}

/** Dollars: `$12.34`, `$0.0042` (small amounts keep two significant digits). */
export function fmtUsd(n) {
  if (n === null || n === undefined) return '—'
  if (n === 0) return '$0'
  const abs = Math.abs(n)
  const opts =
    abs >= 1 ? { minimumFractionDigits: 2, maximumFractionDigits: 2 } : { maximumSignificantDigits: 2 }
  return `$${new Intl.NumberFormat('en-US', opts).format(n)}`
}

/** A per-minute count: `12/min`. */
export function fmtPerMinute(n) {
  if (n === null || n === undefined) return '—'
  const digits = n >= 10 ? 0 : n >= 1 ? 1 : 2
  return `${new Intl.NumberFormat(undefined, { maximumFractionDigits: digits }).format(n)}/min`
}
