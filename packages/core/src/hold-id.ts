// Hold ids: unique across every process sharing a store, and cheap, since one is made per
// guarded call. A random 128-bit prefix drawn once per process, then a counter: the same
// uniqueness as a random UUID per call (two processes collide only if their prefixes do),
// without the random draw and its buffer on the hot path.
import { randomBytes } from 'node:crypto'

// Never a leading "-" (1 process in 64 drew one): `killswitch reconcile <handle> <hold-id>`
// read such an id as an option (red team rt34).
const prefix = `${randomBytes(16).toString('base64url').replace(/^-/, '_')}.`
let next = 0

/**
 * A fresh hold id.
 *
 * @example
 * newHoldId() // 'q3V0m1cXkR2T8a9bYw4Zfg.1a'
 */
export function newHoldId(): string {
  next++
  return prefix + next.toString(36)
}
