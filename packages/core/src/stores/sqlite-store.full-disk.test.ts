// A revocation is written on a full disk (red team rt41b: a sqlite store's disk filled up, a
// runaway agent's logs being what fills disks; the revoke failed for 20 s while the agent's
// streams ran on, and the agent was still active once space was freed). The revocations file
// keeps a reserve beside it (sqlite-room.ts). A real full disk: a 4 MiB tmpfs, mounted in a
// mount namespace of the worker's own (`unshare`, util-linux; as root, or with user
// namespaces on).
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'

const worker = fileURLToPath(new URL('./sqlite-worker.ts', import.meta.url))
const folder = mkdtempSync(join(tmpdir(), 'killswitch-full-disk-'))
afterAll(() => rmSync(folder, { recursive: true, force: true }))

const MOUNT_HINT =
  'This test mounts a 4 MiB tmpfs in a mount namespace of its own: it needs `unshare` (util-linux) and root, or unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1).'

describe('sqliteStore on a full disk', () => {
  it('writes every revocation, the disk refilled before each, in force after it is freed and the store reopened', () => {
    const script = `mount -t tmpfs -o size=4m tmpfs "$0" && exec "$1" --disable-warning=ExperimentalWarning "$2" "$0/state.db" full-disk`
    const run = spawnSync(
      'unshare',
      ['--mount', '--map-root-user', 'sh', '-c', script, folder, process.execPath, worker],
      { encoding: 'utf8', timeout: 60_000 },
    )
    if (run.error || (run.status !== 0 && /mount|unshare/i.test(run.stderr))) {
      throw new Error(`${MOUNT_HINT}\n${run.error?.message ?? run.stderr}`)
    }
    expect(run.stderr).not.toMatch(/Error/)
    const seen = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}')

    // The disk was full: the ledger took nothing.
    expect(seen.filled).toBeGreaterThan(0)
    expect(seen.full).toBe('store_unavailable')
    // The revocation was written (in force in every process that reads the revocations file;
    // the ledger records it at its next write), and it survived: refused after a reopen.
    // Each revocation was written, the disk refilled before each (red team rt42a: one reserve
    // freed whole let one of three through): in force in every process that reads the
    // revocations file, the ledger recording it at its next write; and after a reopen.
    expect(seen.revoke).toHaveLength(3)
    for (const revoke of seen.revoke)
      expect(['revoked', 'revocation_unreplicated']).toContain(revoke)
    expect(seen.status).toEqual(['revoked', 'revoked', 'revoked'])
    expect(seen.verified).toEqual([{ active: false }, { active: false }, { active: false }])
  })
})
