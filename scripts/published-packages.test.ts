// What a user of the published packages gets, as npm would give it to them: every package
// loads from CommonJS (`require`, Node 22.12+ loads ESM without top-level await) as well as
// from ESM, and its tarball holds its built code, not only a README (dist/ is not in git: a
// pack from a fresh clone builds first). Needs the packages built (`npm test` builds them).
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, posix } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const PACKAGES = fileURLToPath(new URL('../packages/', import.meta.url))
const packages = readdirSync(PACKAGES).map((dir) => {
  const manifest = JSON.parse(readFileSync(join(PACKAGES, dir, 'package.json'), 'utf8')) as {
    name: string
    exports: Record<string, string | Record<string, string>>
    scripts: Record<string, string>
  }
  return { dir: join(PACKAGES, dir), manifest }
})
// A CommonJS user's require, resolved from the repository's root as from a user's project.
const userRequire = createRequire(new URL('../package.json', import.meta.url))

describe.each(packages.map((p) => [p.manifest.name, p] as const))('%s as published', (_, pkg) => {
  // Not the conformance suite: it is made of vitest tests, and loads only where vitest runs.
  const entries = Object.keys(pkg.manifest.exports).filter(
    (entry) => entry !== './package.json' && entry !== './conformance',
  )

  it.each(entries)('%s loads with require() from CommonJS, as with import', async (entry) => {
    const specifier = entry === '.' ? pkg.manifest.name : `${pkg.manifest.name}/${entry.slice(2)}`
    const required = userRequire(specifier) as Record<string, unknown>
    const imported = (await import(userRequire.resolve(specifier))) as Record<string, unknown>
    expect(Object.keys(required).sort()).toEqual(Object.keys(imported).sort())
    expect(Object.keys(required).length).toBeGreaterThan(0)
  })

  it('packs its built code and types, and builds before it packs', () => {
    expect(pkg.manifest.scripts.prepack).toBe('npm run build')
    const [packed] = JSON.parse(
      execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
        cwd: pkg.dir,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }),
    ) as [{ files: { path: string }[] }]
    const files = packed.files.map((file) => file.path)
    expect(files).toContain('README.md')
    expect(files).toContain('dist/index.js')
    expect(files).toContain('dist/index.d.ts')
    // Every relative link of the README (as npm shows it) reaches a file in the tarball.
    const readme = readFileSync(join(pkg.dir, 'README.md'), 'utf8')
    for (const [, target] of readme.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^(?:[a-z]+:|#)/i.test(target as string)) continue
      const path = posix.normalize((target as string).replace(/#.*$/, ''))
      expect(files, `README link ${target}`).toContain(path)
    }
  })
})
