// A worker for the full-disk test (not part of the package): run inside a small tmpfs of its
// own (`unshare --mount`), `node sqlite-full-disk-worker.ts <folder>`. It fills the disk under
// a sqlite store, revokes its agent, frees the disk and reopens the store: it prints what it
// saw as one JSON line. TypeScript source run directly, as sqlite-worker.ts explains.
import { openSync, rmSync, writeSync } from 'node:fs'
import { registerHooks } from 'node:module'
import { join } from 'node:path'

registerHooks({
  resolve(specifier, context, nextResolve) {
    try {
      return nextResolve(specifier, context)
    } catch (error) {
      if (!specifier.startsWith('.') || !specifier.endsWith('.js')) throw error
      return nextResolve(`${specifier.slice(0, -3)}.ts`, context)
    }
  },
})

const { sqliteStore } = await import('./sqlite-store.js')
const { createKillSwitch } = await import('../kill-switch.js')

const folder = process.argv[2] as string
const path = join(folder, 'state.db')
const filler = join(folder, 'filler')
const code = (error: unknown) => (error as { code?: string }).code ?? String(error)

const ks = createKillSwitch({ store: sqliteStore(path) })
const handles = ['a', 'b', 'c']
const credentials: string[] = []
for (const handle of handles) {
  credentials.push((await ks.agents.create({ handle, spendingCap: 5 })).credential)
}

/** The disk fills up (a runaway agent's logs), to the last byte: again after each revoke. */
const fd = openSync(filler, 'a')
const chunk = Buffer.alloc(4096)
let filled = 0
const fill = () => {
  try {
    for (;;) filled += writeSync(fd, chunk)
  } catch (error) {
    if (code(error) !== 'ENOSPC') throw error
  }
}
fill()
const full = await ks.agents.update('a', { spendingCap: 6 }).then(
  () => 'written',
  (error: unknown) => code(error),
)
const revoke: string[] = []
for (const handle of handles) {
  fill()
  revoke.push(
    await ks.agents.revoke(handle, { reason: 'disk full' }).then(
      () => 'revoked',
      (error: unknown) => code(error),
    ),
  )
}
// The disk is freed; nothing of this process is trusted: a new kill switch reads the files.
rmSync(filler)
await ks.close().catch(() => undefined)
const later = createKillSwitch({ store: sqliteStore(path) })
const status: string[] = []
const verified: unknown[] = []
for (const [i, handle] of handles.entries()) {
  status.push((await later.agents.get(handle)).status)
  verified.push(await later.verify(credentials[i] as string))
}
await later.close()
process.stdout.write(`${JSON.stringify({ filled, full, revoke, status, verified })}\n`)
