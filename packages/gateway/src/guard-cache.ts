// One guard per credential, kept between requests: a guard remembers its agent and the runs
// a runaway detector stopped, and shares its revocation signal. Keyed by a hash, so the map
// holds no credential; bounded, the least recently used dropped first. Only a credential the
// kill switch admitted is kept: a flood of made-up keys cannot push real agents' guards out
// (and what they remember with them).
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

  /**
   * The credential's guard, admitted (`guard.check()`: it rejects with the typed error of an
   * unknown, revoked or refused agent), and its agent's handle.
   */
  async admit(credential: string): Promise<{ guard: AgentGuard; handle: string }> {
    const key = createHash('sha256').update(credential).digest('base64url')
    const guard = this.#guards.get(key) ?? this.#killSwitch.guard(credential)
    const handle = await guard.check()
    this.#guards.delete(key)
    if (this.#guards.size >= this.#max) {
      const oldest = this.#guards.keys().next().value
      if (oldest !== undefined) this.#guards.delete(oldest)
    }
    this.#guards.set(key, guard)
    return { guard, handle }
  }

  /** How many guards are kept. */
  get size(): number {
    return this.#guards.size
  }
}
