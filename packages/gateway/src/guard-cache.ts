// One guard per credential, kept between requests: a guard remembers its agent and the runs
// a runaway detector stopped, and shares its revocation signal. Keyed by a hash, so the map
// holds no credential; bounded, the least recently used dropped first.
import { createHash } from 'node:crypto'
import type { AgentGuard, KillSwitch } from '@killswitch/core'

export class GuardCache {
  readonly #killSwitch: Pick<KillSwitch, 'guard'>
  readonly #max: number
  readonly #guards = new Map<string, AgentGuard>()

  constructor(killSwitch: Pick<KillSwitch, 'guard'>, max = 10_000) {
    this.#killSwitch = killSwitch
    this.#max = max
  }

  get(credential: string): AgentGuard {
    const key = createHash('sha256').update(credential).digest('base64url')
    let guard = this.#guards.get(key)
    if (guard) {
      this.#guards.delete(key)
    } else {
      guard = this.#killSwitch.guard(credential)
      if (this.#guards.size >= this.#max) {
        const oldest = this.#guards.keys().next().value
        if (oldest !== undefined) this.#guards.delete(oldest)
      }
    }
    this.#guards.set(key, guard)
    return guard
  }
}
