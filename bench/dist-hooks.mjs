// Module hooks for bench/use-dist.mjs: a module resolved inside src/ is replaced by its build in dist/.
const src = new URL('../src/', import.meta.url).href
const dist = new URL('../dist/', import.meta.url).href

export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context)
  if (!resolved.url.startsWith(src)) return resolved
  const url = dist + resolved.url.slice(src.length).replace(/\.(ts|mts)$/, '.js')
  return { ...resolved, url, format: 'module' }
}
