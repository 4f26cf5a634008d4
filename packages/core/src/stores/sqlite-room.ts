// Room kept on disk for revocations. sqlite cannot write a revocation where no byte is free,
// and a runaway agent's own output (logs, files) is what fills a disk: red team rt41b filled
// the disk under a store, and `killswitch revoke` failed for 20 s while the agent's streams
// ran on; once space was freed, the agent was still active. So the revocations file keeps a
// reserve beside it, `<path>-revocations-room`: a revocation that finds the disk full deletes
// it and is written in the space it leaves. The next open that has the space makes it again.
import { closeSync, openSync, rmSync, writeSync } from 'node:fs'

/** The reserve's size: room for a revocation, its WAL frames and a checkpoint many times. */
export const ROOM_BYTES = 1 << 20

/** The reserve of the revocations file at `path`. */
export const roomPath = (path: string) => `${path}-room`

/**
 * Makes the reserve unless it exists. Best effort: a disk with no room for it leaves none
 * (the revocation then meets the full disk as before this file), and no half-written one.
 */
export function keepRoom(path: string): void {
  let fd: number
  try {
    fd = openSync(path, 'wx', 0o600)
  } catch {
    return // it exists (or the folder is not writable: the store's own open says so)
  }
  try {
    // Written, not sparse: a hole frees nothing when deleted.
    writeSync(fd, Buffer.alloc(ROOM_BYTES))
    closeSync(fd)
  } catch {
    closeSync(fd)
    rmSync(path, { force: true })
  }
}

/** Deletes the reserve; true when there was one to free. */
export function freeRoom(path: string): boolean {
  try {
    rmSync(path)
    return true
  } catch {
    return false
  }
}

/** sqlite's "database or disk is full" (SQLITE_FULL, 13), or the system's ENOSPC. */
export function isDiskFull(error: unknown): boolean {
  const code = (error as { errcode?: number; code?: string } | undefined)?.errcode
  if (typeof code === 'number' && (code & 0xff) === 13) return true
  if ((error as { code?: unknown } | undefined)?.code === 'ENOSPC') return true
  return (
    error instanceof Error && /database or disk is full|SQLITE_FULL|ENOSPC/i.test(error.message)
  )
}
