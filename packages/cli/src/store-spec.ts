// Which store the CLI opens: `--store`, else KILLSWITCH_STORE, else the embedded sqlite file
// `.killswitch/state.db` under the working directory, so that `agents create` in one shell
// and `revoke` in another act on the same agents.

import { existsSync } from 'node:fs'
import { isAbsolute, join, resolve } from 'node:path'
import { InvalidConfigError, memoryStore, type Store, sqliteStore } from '@killswitch/core'

/** A parsed store location. */
export type StoreSpec =
  | { kind: 'memory' }
  | { kind: 'sqlite'; path: string }
  | { kind: 'redis'; url: string }

/**
 * Where the default sqlite store lives, relative to the working directory.
 *
 * @example
 * sqliteStore(DEFAULT_SQLITE_PATH) // .killswitch/state.db under the working directory
 */
export const DEFAULT_SQLITE_PATH = join('.killswitch', 'state.db')

/**
 * Parses a store location: `sqlite:PATH` (relative to `cwd`), `redis://...` or
 * `rediss://...`, or `memory` (this process only: for trying things out). Undefined or
 * empty means the default sqlite file.
 *
 * @example
 * parseStoreSpec('sqlite:./ks.db', '/srv') // { kind: 'sqlite', path: '/srv/ks.db' }
 * parseStoreSpec(process.env.KILLSWITCH_STORE, process.cwd())
 */
export function parseStoreSpec(value: string | undefined, cwd: string): StoreSpec {
  const spec = value?.trim() ?? ''
  if (spec === '') return { kind: 'sqlite', path: resolve(cwd, DEFAULT_SQLITE_PATH) }
  if (spec === 'memory') return { kind: 'memory' }
  if (spec.startsWith('sqlite:')) {
    const path = spec.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '')
    if (path === '')
      throw storeError('sqlite: needs a file path, e.g. sqlite:./.killswitch/state.db')
    return { kind: 'sqlite', path: isAbsolute(path) ? path : resolve(cwd, path) }
  }
  if (/^rediss?:\/\//.test(spec)) {
    if (!URL.canParse(spec)) throw storeError('the redis URL does not parse')
    return { kind: 'redis', url: spec }
  }
  throw storeError('unknown kind of store')
}

function storeError(problem: string): InvalidConfigError {
  return new InvalidConfigError(
    'store',
    `Invalid store (${problem}). Use sqlite:PATH, redis://[user:password@]host:port[/db], rediss://... or memory (via --store or KILLSWITCH_STORE).`,
  )
}

/**
 * The store for messages: a redis password is never printed.
 *
 * @example
 * describeStoreSpec({ kind: 'redis', url: 'redis://:s3cret@cache:6379' }) // 'redis://cache:6379'
 */
export function describeStoreSpec(spec: StoreSpec): string {
  if (spec.kind === 'memory') return 'memory (this process only)'
  if (spec.kind === 'sqlite') return `sqlite:${spec.path}`
  const url = new URL(spec.url)
  return `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`
}

// The OS reasons a path the operator gave cannot hold the state, in words.
const OS_REASONS: Readonly<Record<string, string>> = {
  ENOTDIR: 'a part of the path is a file, not a folder',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  EISDIR: 'it is a folder, not a file',
  ENAMETOOLONG: 'the path is too long',
  ELOOP: 'too many symbolic links',
  ENOSPC: 'no space left on the device',
  EEXIST: 'a part of the path exists and is not a folder',
}

// SQLite's primary result codes (the low byte of `errcode`) of a failure that passes.
const SQLITE_TRANSIENT = new Set([
  5, // SQLITE_BUSY: another process holds the lock
  6, // SQLITE_LOCKED
  10, // SQLITE_IOERR: disk I/O error (as the -wal and -shm files are made on a full disk)
  13, // SQLITE_FULL: database or disk is full
])

function isTransient(error: { code?: unknown; errcode?: unknown }): boolean {
  if (error.code === 'ENOSPC' || error.code === 'EIO') return true
  return typeof error.errcode === 'number' && SQLITE_TRANSIENT.has(error.errcode & 0xff)
}

/**
 * A sqlite path the CLI cannot prepare is the store the operator gave (exit 1), not a bug:
 * the error names the path and the OS reason, never a stack trace.
 */
function unusablePath(path: string, what: string, error: unknown): InvalidConfigError {
  const code = (error as { code?: unknown } | undefined)?.code
  const reason =
    typeof code === 'string'
      ? `${code}: ${OS_REASONS[code] ?? (error as Error).message}`
      : String(error)
  return new InvalidConfigError(
    'store',
    `Invalid store sqlite:${path}: ${what} (${reason}). Give a path under a folder you can write, with --store sqlite:PATH or KILLSWITCH_STORE.`,
  )
}

/**
 * Opens the store a spec names. The redis client is loaded only when a redis store is asked
 * for, so sqlite users never pay for it.
 *
 * @example
 * const store = await openStore(parseStoreSpec(undefined, process.cwd()))
 */
export async function openStore(spec: StoreSpec): Promise<Store> {
  if (spec.kind === 'memory') return memoryStore()
  if (spec.kind === 'sqlite') {
    // The store creates what is missing, owner-only: its folder 0700 with a `.gitignore`
    // that ignores it all, the file 0600 (SQLite gives its -wal and -shm files the file's
    // permissions); existing ones are left as the operator set them.
    try {
      return sqliteStore(spec.path)
    } catch (error) {
      const cause = (error as { cause?: { code?: unknown } }).cause
      // A full disk, an I/O error or a lock held too long on a file that exists: the store
      // is unavailable for now (exit 5: scripts retry), not a path the operator got wrong.
      if (typeof cause?.code !== 'string' || (isTransient(cause) && existsSync(spec.path))) {
        throw error
      }
      throw unusablePath(spec.path, 'cannot create or open it', cause)
    }
  }
  // Loaded here, not at the top: sqlite users never load the redis client.
  const { redisStore } = await import('@killswitch/redis')
  return redisStore({ url: spec.url })
}
