// The audit retention's background pass (the Lua side: prune_audit in redis-lua-ledger.ts). A
// reserve prunes its own agent's aged entries; this pass reaches every other agent, a few at
// a time, walking the agents index with a cursor, so an agent that is never called again
// still loses its aged entries, and no call waits for it: it runs after a reserve, off the
// caller's path, at most once per second of the store's clock, one at a time.

/** Agents visited per pass (each pruned by at most one batch of entries). */
const AGENTS_PER_PASS = 16
/** A pass starts at most this often (ms of the reserves' clock). */
const PASS_EVERY_MS = 1_000

export interface AuditRetentionContext {
  /** The handles at positions start..stop of the agents index (creation order). */
  agents(start: number, stop: number): Promise<string[]>
  /** Prunes one agent's aged entries (one batch); how many it deleted. */
  prune(handle: string, now: number): Promise<number>
}

export class AuditRetentionPass {
  readonly #context: AuditRetentionContext
  #cursor = 0
  #next = Number.NEGATIVE_INFINITY
  #running: Promise<void> | undefined

  constructor(context: AuditRetentionContext) {
    this.#context = context
  }

  /** After a reserve at `now`: starts a pass when one is due and none is running. */
  after(now: number): void {
    if (this.#running || !Number.isSafeInteger(now) || now < this.#next) return
    this.#next = now + PASS_EVERY_MS
    this.#running = this.#pass(now)
      // A failed pass (Redis unreachable) is retried by a later one: entries only wait longer.
      .catch(() => {})
      .finally(() => {
        this.#running = undefined
      })
  }

  /** Resolves once no pass is running (close() waits for it). */
  async idle(): Promise<void> {
    await this.#running
  }

  async #pass(now: number): Promise<void> {
    const start = this.#cursor
    const handles = await this.#context.agents(start, start + AGENTS_PER_PASS - 1)
    // Past the last agent: the next pass starts over.
    this.#cursor = handles.length < AGENTS_PER_PASS ? 0 : start + handles.length
    await Promise.all(handles.map((handle) => this.#context.prune(handle, now)))
  }
}
