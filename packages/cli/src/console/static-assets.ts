// The console's page, script and style: plain files shipped in the package, read once. From
// source they sit in ./assets; in the built package tsdown copies them to dist/console.

import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export interface StaticAsset {
  body: string
  type: string
}

const TYPES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
}

function assetsDir(): string {
  const candidates = [new URL('./assets/', import.meta.url), new URL('./console/', import.meta.url)]
  for (const candidate of candidates) {
    const dir = fileURLToPath(candidate)
    if (existsSync(`${dir}index.html`)) return dir
  }
  throw new Error(
    `The console's files are missing (looked in ${candidates.map((c) => fileURLToPath(c)).join(' and ')}): reinstall @killswitch/cli.`,
  )
}

let loaded: Map<string, StaticAsset> | undefined

/** The console's files by name (index.html, app.js, app.css). */
export function consoleAssets(): Map<string, StaticAsset> {
  if (loaded) return loaded
  const dir = assetsDir()
  loaded = new Map(
    Object.entries(TYPES).map(([name, type]) => [
      name,
      { body: readFileSync(`${dir}${name}`, 'utf8'), type },
    ]),
  )
  return loaded
}
