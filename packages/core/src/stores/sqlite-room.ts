// Room kept on disk for revocations. sqlite cannot write a revocation where no byte is free,
// and a runaway agent's own output (logs, files) is what fills a disk: red team rt41b filled
// the disk under a store, and `killswitch revoke` failed for 20 s while the agent's streams
// ran on; once space was freed, the agent was still active. So the revocations file keeps a
// reserve beside it, `<path>-revocations-room`: a revocation that finds the disk full gives
// back one slice of it (ROOM_SLICE_BYTES) and is written in the space it leaves. Slice by
// slice, not all at once: a runaway refilling the disk takes whatever is freed, and each
// revocation needs room of its own (red team rt42a: one reserve freed whole let one
// revocation of three through). Every open tops the reserve up to its size, as room allows.
import { closeSync, fstatSync, ftruncateSync, openSync, writeSync } from 'node:fs'

/** The reserve's size when whole: ROOM_SLICES revocations on a full disk. */
export const ROOM_SLICE_BYTES = 128 * 1024
export const ROOM_SLICES = 8
export const ROOM_BYTES = ROOM_SLICE_BYTES * ROOM_SLICES

/** The reserve of the revocations file at `path`. */
export const roomPath = (path: string) => `${path}-room`

/**
 * Grows the reserve to ROOM_BYTES, as far as the disk allows (a reserve short of its size,
 * made on a nearly full disk, is topped up at the next open with room). Best effort: the
 * store works without it, only a full disk then refuses revocations again.
 */
export function keepRoom(path: string): void {
  let fd: number
  try {
    fd = openSync(path, 'a', 0o600)
  } catch {
    return // the folder is not writable: the store's own open says so
  }
  try {
    const zeros = Buffer.alloc(ROOM_SLICE_BYTES)
    // Written, not sparse: a hole frees nothing when given back.
    for (let size = fstatSync(fd).size; size < ROOM_BYTES; ) {
      size += writeSync(fd, zeros, 0, Math.min(zeros.length, ROOM_BYTES - size))
    }
  } catch {
    // The disk is full: the reserve keeps what it has.
  } finally {
    closeSync(fd)
  }
}

/** Gives one slice of the reserve back to the disk; false when none is left. */
export function freeRoom(path: string): boolean {
  let fd: number
  try {
    fd = openSync(path, 'r+')
  } catch {
    return false
  }
  try {
    const size = fstatSync(fd).size
    if (size === 0) return false
    ftruncateSync(fd, Math.max(0, size - ROOM_SLICE_BYTES))
    return true
  } catch {
    return false
  } finally {
    closeSync(fd)
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
