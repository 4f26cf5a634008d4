// A set of objects that join and leave all the time (one per call in flight) and are walked
// rarely (on a revocation, on a lease tick). A Set that goes from one member to none and
// back reallocates its table each time (about 120 bytes a call, and the GC work after it);
// a roster keeps its members in an array, each knowing its slot: joining and leaving
// allocate nothing.

/** A roster member: its slot is the roster's to keep (-1 when not in one). */
export interface RosterMember {
  slot: number
}

export class Roster<T extends RosterMember> {
  readonly #members: T[] = []

  get size(): number {
    return this.#members.length
  }

  add(member: T): void {
    member.slot = this.#members.push(member) - 1
  }

  /** Removes `member` (its slot goes to the last member). False when it was not in. */
  delete(member: T): boolean {
    const members = this.#members
    const slot = member.slot
    if (slot < 0 || members[slot] !== member) return false
    const last = members.pop() as T
    if (last !== member) {
      members[slot] = last
      last.slot = slot
    }
    member.slot = -1
    return true
  }

  /** The members now, as a copy: members may leave while it is walked. */
  members(): readonly T[] {
    return this.#members.slice()
  }
}
