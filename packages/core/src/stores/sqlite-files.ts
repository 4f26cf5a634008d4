// Owner-only files for the sqlite store: its database, its -wal and -shm, its revocations.
import { chmodSync, closeSync, existsSync, openSync, statSync } from 'node:fs'

/**
 * The files of the sqlite store at `path`: its database, the database's `-wal` and `-shm`,
 * and its revocations file with its own, and the space kept for a revocation. Back them up, move or delete them together: a
 * revocations file kept when its ledger is deleted belongs to no ledger, and is refused.
 *
 * @example
 * for (const file of sqliteStoreFiles('.killswitch/state.db')) rmSync(file, { force: true })
 */
export function sqliteStoreFiles(path: string): string[] {
  const database = ['', '-wal', '-shm']
  return [
    ...database.map((end) => `${path}${end}`),
    ...database.map((end) => `${path}-revocations${end}`),
    // The space kept for a revocation on a full disk (sqlite-room.ts).
    `${path}-revocations-room`,
  ]
}

/** A sqlite path that names no file: `:memory:`, or a `file:` URI (in-memory in this store). */
export const inMemoryPath = (path: string) => path === ':memory:' || path.startsWith('file:')

/** State files hold webhook secrets and credential hashes: owner-only (0600). */
export function restrictToOwner(path: string): void {
  if (path.startsWith(':memory:') || path.startsWith('file:') || !existsSync(path)) return
  try {
    chmodSync(path, 0o600)
  } catch {
    // A file we do not own (opened read-write by its owner's group): leave it as it is.
  }
}

/**
 * Creates a new database file readable by its owner only, before sqlite opens it. Created by
 * sqlite, it would be readable by everyone under the usual umask until the chmod after it
 * opened, and a handle another user opened meanwhile keeps reading it (webhook secrets, the
 * audit log) whatever the mode becomes. sqlite gives its -wal and -shm files the database
 * file's mode. An existing file is left to `restrictToOwner`.
 */
export function createOwnerOnly(path: string): void {
  if (inMemoryPath(path)) return
  try {
    closeSync(openSync(path, 'wx', 0o600))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  }
}

/** Device and inode of a file, or undefined for in-memory databases and missing files. */
export function fileIdentity(path: string): string | undefined {
  if (inMemoryPath(path)) return undefined
  try {
    const stats = statSync(path)
    return `${stats.dev}:${stats.ino}`
  } catch {
    return 'missing'
  }
}
