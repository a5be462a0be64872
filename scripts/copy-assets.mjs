// Copies non-TypeScript assets (Lua scripts, dashboard files) from src/ to dist/ after tsc.
import { cpSync, readdirSync, statSync, mkdirSync } from 'node:fs'
import { join, dirname, extname } from 'node:path'

const ASSETS = new Set(['.lua', '.html', '.css', '.js', '.svg', '.ico'])
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) walk(path)
    else if (ASSETS.has(extname(name)) && !name.endsWith('.d.ts')) {
      const target = join('dist', path.slice('src/'.length))
      mkdirSync(dirname(target), { recursive: true })
      cpSync(path, target)
    }
  }
}
walk('src')
