// Opening a sqlite store that exists but fails for now (a full disk, an I/O error, a lock
// held too long) is "the store is unavailable" (exit 5: scripts retry), not a bad path
// (exit 1). A full disk cannot be made on demand here: the open error is injected.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as core from '@killswitch/core'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { EXIT_CODES } from './exit-codes.js'
import { runCli } from './run-cli.js'
import { buffer } from './test-helpers.js'

const failure: { next?: Error } = {}
vi.mock('@killswitch/core', async (importOriginal) => {
  const actual = await importOriginal<typeof core>()
  return {
    ...actual,
    // The real store, unless a test set the error its next open fails with.
    sqliteStore: (...args: Parameters<typeof actual.sqliteStore>) => {
      const error = failure.next
      failure.next = undefined
      if (error) throw error
      return actual.sqliteStore(...args)
    },
  }
})

const dir = mkdtempSync(join(tmpdir(), 'ks-cli-open-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** What sqliteStore throws when opening fails: StoreUnavailableError, the cause attached. */
function openFailure(path: string, cause: Record<string, unknown>): Error {
  const error = Object.assign(new Error(String(cause.errstr ?? cause.code)), cause)
  return new core.StoreUnavailableError(
    `The sqlite store at ${path} could not open the file (${error.message})`,
    { cause: error },
  )
}

async function cli(argv: string[]) {
  const stdout = buffer()
  const stderr = buffer()
  const code = await runCli(argv, { stdout, stderr, env: {}, cwd: dir })
  return { code, stderr: stderr.text() }
}

let files = 0
/** A new store file with agent `ag` in it. */
async function existingStore(): Promise<string> {
  const path = join(dir, `state-${files++}.db`)
  expect(
    (await cli(['agents', 'create', 'ag', '--cap', '1', '--store', `sqlite:${path}`])).code,
  ).toBe(0)
  return path
}

describe('opening a sqlite store that fails', () => {
  it.each([
    ['a disk I/O error (SQLITE_IOERR)', 10, 'disk I/O error'],
    ['an extended I/O error (SQLITE_IOERR_WRITE)', 778, 'disk I/O error'],
    ['a full disk (SQLITE_FULL)', 13, 'database or disk is full'],
    ['a lock held past the busy timeout (SQLITE_BUSY)', 5, 'database is locked'],
  ])('on an existing file, %s: exit 5, and a retry revokes', async (_, errcode, errstr) => {
    const path = await existingStore()
    const argv = ['revoke', 'ag', '--reason', 'diskfull', '--store', `sqlite:${path}`]
    failure.next = openFailure(path, { code: 'ERR_SQLITE_ERROR', errcode, errstr })
    const failed = await cli(argv)
    expect(failure.next).toBeUndefined()
    expect(failed.code).toBe(EXIT_CODES.storeUnavailable)
    expect(failed.stderr).toContain(
      `The sqlite store at ${path} could not open the file (${errstr})`,
    )
    expect(failed.stderr).not.toContain('Invalid store')
    // As a script does on exit 5: the file was fine all along, the retry revokes.
    expect(await cli(argv)).toMatchObject({ code: 0 })
  })

  it('a file that cannot be created (no space for it) is still an invalid store (exit 1)', async () => {
    const missing = join(dir, 'never', 'state.db')
    failure.next = openFailure(missing, { code: 'ENOSPC' })
    const listed = await cli(['agents', 'list', '--store', `sqlite:${missing}`])
    expect(listed.code).toBe(EXIT_CODES.usage)
    expect(listed.stderr).toContain(`Invalid store sqlite:${missing}: cannot create or open it`)
    expect(listed.stderr).toContain('ENOSPC: no space left on the device')
  })

  it('an existing file that is not a database is still an invalid store (exit 1)', async () => {
    const path = await existingStore()
    const errstr = 'file is not a database'
    failure.next = openFailure(path, { code: 'ERR_SQLITE_ERROR', errcode: 26, errstr })
    const listed = await cli(['agents', 'list', '--store', `sqlite:${path}`])
    expect(listed.code).toBe(EXIT_CODES.usage)
    expect(listed.stderr).toContain(`Invalid store sqlite:${path}: cannot create or open it`)
  })
})
