#!/usr/bin/env node
// The `killswitch` command. This stub is committed (dist/ is built), so npm links it into
// node_modules/.bin on install, also in a fresh clone where nothing is built yet: after
// `npm run setup`, `npx killswitch` works. It loads the built CLI, or says how to build it.
import { existsSync } from 'node:fs'

const built = new URL('../dist/bin.js', import.meta.url)
if (!existsSync(built)) {
  process.stderr.write(
    'error: the killswitch CLI is not built yet: run `npm run setup` in the repository, then `npx killswitch` again.\n',
  )
  process.exit(1)
}
await import(built.href)
