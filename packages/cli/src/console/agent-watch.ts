// Watches the store for the console: one poll (ks.agents.list every `intervalMs`) shared by
// every open page, running only while a page listens. Polling the store, rather than this
// process's events, sees changes made by any process (another kill switch on the same
// sqlite file, a Redis fleet). Each poll is compared with the last, and only the agents that
// changed are pushed (an agent changes too when a budget it draws on does: another agent's
// spend can use it up). It also keeps a short history of each agent's spend for the spend-rate
// sparkline.

import { type AgentSnapshot, type AuditEntry, auditCharge, type KillSwitch } from '@killswitch/core'
import type { AdminKillSwitch } from '../admin-kill-switch.js'
import { type ConsoleRow, toConsoleRow, usd } from './console-rows.js'
import { displaySafe, displayText } from './display-text.js'
import { type BudgetsById, readBudgets } from './spend-left.js'

/** A pending approval, with its amount as the CLI writes money. */
type Approval = Awaited<ReturnType<KillSwitch['approvals']['list']>>[number] & {
  requestedText: string
}

/**
 * What the watch adds to a row: spend per sparkline bucket (dollars, oldest first) and their
 * total, formatted; and its calls refused lately, in words, when there were any.
 */
export interface RateView {
  rate: number[]
  rateText: string
  /** `throttled by slow-loop: 44 calls refused in the last minute`. */
  refusedText?: string
}

/** What a poll found changed. */
export interface WatchUpdate {
  /** Agents new or changed since the last poll, with their spend-rate points. */
  changed: Array<ConsoleRow & RateView>
  removed: string[]
  total: number
  /** Which read of the store this is (increasing): rows and approvals, as `snapshot()` and `approvals()` say of theirs. */
  version?: number
  /** The pending approvals, when they changed. */
  approvals?: Approval[]
  /** A poll that failed (the store is unreachable): shown, never silently stale. */
  error?: string
}

/** Sparkline: spend per bucket over the last RATE_BUCKETS x RATE_BUCKET_MS. */
export const RATE_BUCKETS = 30
export const RATE_BUCKET_MS = 10_000
const MAX_SAMPLES = 64
/** Refused calls are counted over this long, read again this often (shown agents only). */
export const REFUSALS_WINDOW_MS = 60_000
export const REFUSALS_EVERY_MS = 5_000
const REFUSALS_ENTRIES = 100

/**
 * An agent's refused calls since `since`, in words (undefined when none): a throttled
 * runaway's calls are all refused while its spend stands still, so its row looked healthy
 * (red team r24). Each refused call is one `denied` entry; the latest enforced `runaway`
 * entry, or a runaway refusal naming its detector, names the detector that refused them (a
 * trip is audited once: a long throttle's refusals outlast its `runaway` entry).
 */
export function refusalsText(
  entries: readonly AuditEntry[],
  since: number,
  limit = Number.POSITIVE_INFINITY,
): string | undefined {
  let refused = 0
  let rule = ''
  let runaway: AuditEntry | undefined
  for (const entry of entries) {
    if (entry.at < since) continue
    if (entry.type === 'denied' && entry.data.rule !== 'revoked') {
      refused++
      rule = String(entry.data.rule)
      if (rule === 'runaway' && entry.data.detector !== undefined) runaway = entry
    }
    if (entry.type === 'runaway' && entry.data.enforced === true && entry.data.action !== 'warn')
      runaway = entry
  }
  if (refused === 0) return undefined
  // A page of `limit` entries all in the window may not reach back to its start.
  const atLeast = entries.length >= limit && (entries[0]?.at ?? 0) >= since ? 'at least ' : ''
  const calls = `${atLeast}${refused} call${refused === 1 ? '' : 's'} refused in the last minute`
  if (runaway === undefined) return `${calls} (${rule})`
  const action = RUNAWAY_ACTIONS[String(runaway.data.action)] ?? 'refused'
  return displayText(`${action} by ${String(runaway.data.detector)}: ${calls}`)
}

const RUNAWAY_ACTIONS: Record<string, string> = {
  block: 'throttled',
  stop: 'stopped',
  revoke: 'revoked',
}

/**
 * Everything an agent's row is made from, as text to compare polls by: its snapshot, the
 * budgets it draws on, and which of its grants are live (one expiring changes what it can
 * spend while its snapshot stays the same until the store sweeps it).
 */
function rowSource(agent: AgentSnapshot, budgetJson: Map<string, string>, now: number): string {
  const json = JSON.stringify(agent)
  if (agent.budgets.length === 0 && agent.grants.length === 0) return json
  const live = agent.grants.filter((grant) => Date.parse(grant.expiresAt) > now).length
  return [json, live, ...agent.budgets.map((id) => budgetJson.get(id) ?? 'missing')].join('\n')
}

export interface AgentWatchOptions {
  intervalMs?: number
  now?: () => number
}

export class AgentWatch {
  readonly #ks: AdminKillSwitch & { approvals?: KillSwitch['approvals'] }
  readonly #intervalMs: number
  readonly #now: () => number
  readonly #listeners = new Set<(update: WatchUpdate) => void>()
  // Each agent's row, and the snapshot it was made from (to skip unchanged agents cheaply).
  #rows = new Map<string, { row: ConsoleRow; json: string }>()
  #approvalsJson = '[]'
  #approvals: Approval[] = []
  #version = 0
  #polledAt = Number.NEGATIVE_INFINITY
  #timer: NodeJS.Timeout | undefined
  #inFlight: Promise<void> | undefined
  // Spend samples per agent, taken when its spend changed: [at, spent].
  readonly #samples = new Map<string, Array<[number, number]>>()
  // Charges from the audit log before this server first saw the agent: [at, usd]. So a
  // console opened during an incident shows the burn that led to it at once.
  readonly #history = new Map<string, Array<[number, number]>>()
  // The agents a page was last served (their audit logs are read for refusals: never the
  // whole fleet's), and what each one's say.
  #shown: readonly string[] = []
  readonly #refusals = new Map<string, string>()
  #refusalsReadAt = Number.NEGATIVE_INFINITY

  constructor(ks: AdminKillSwitch, options: AgentWatchOptions = {}) {
    this.#ks = ks
    this.#intervalMs = options.intervalMs ?? 500
    this.#now = options.now ?? Date.now
  }

  /** Listens for changes; the poll runs while anyone listens. Returns the unsubscribe. */
  subscribe(listener: (update: WatchUpdate) => void): () => void {
    this.#listeners.add(listener)
    if (this.#timer === undefined) this.#schedule()
    return () => {
      this.#listeners.delete(listener)
      if (this.#listeners.size === 0 && this.#timer !== undefined) {
        clearTimeout(this.#timer)
        this.#timer = undefined
      }
    }
  }

  /** Every agent's row, fresh to within one poll interval. */
  async rows(): Promise<ConsoleRow[]> {
    return (await this.snapshot()).rows
  }

  /**
   * Every agent's row and which read of the store they are: a page's request answered from
   * an older read than a live update it already applied must not put older rows back (a
   * slow answer under load: a revoked agent shown active again, with nothing left to change).
   */
  async snapshot(): Promise<{ rows: ConsoleRow[]; version: number }> {
    if (this.#now() - this.#polledAt > this.#intervalMs) await this.poll()
    return { rows: [...this.#rows.values()].map((entry) => entry.row), version: this.#version }
  }

  /**
   * The pending approvals, fresh to within one poll interval, and which read they are: an
   * answer to a page's request can reach it after a newer live update did (a slow response
   * under load), and must not put back a list the update replaced.
   */
  async approvals(): Promise<{ approvals: Approval[]; version: number }> {
    if (this.#now() - this.#polledAt > this.#intervalMs) await this.poll()
    return { approvals: this.#approvals, version: this.#version }
  }

  /** Spend per bucket (dollars), oldest first, for the sparkline. */
  rate(handle: string): number[] {
    const buckets = new Array<number>(RATE_BUCKETS).fill(0)
    const end = this.#now()
    const add = (at: number, usd: number) => {
      const bucket = RATE_BUCKETS - 1 - Math.floor((end - at) / RATE_BUCKET_MS)
      if (bucket >= 0 && bucket < RATE_BUCKETS) buckets[bucket] = (buckets[bucket] ?? 0) + usd
    }
    for (const [at, usd] of this.#history.get(handle) ?? []) add(at, usd)
    const samples = this.#samples.get(handle) ?? []
    for (let i = 1; i < samples.length; i++) {
      const [at, spent] = samples[i] as [number, number]
      add(at, Math.max(0, spent - (samples[i - 1]?.[1] ?? spent)))
    }
    return buckets.map((value) => Math.round(value * 1e6) / 1e6)
  }

  /** The sparkline's points and their total, as the CLI writes money; its refusals. */
  rateView(handle: string): RateView {
    const rate = this.rate(handle)
    const refusedText = this.#refusals.get(handle)
    return {
      rate,
      rateText: usd(rate.reduce((sum, value) => sum + value, 0)),
      ...(refusedText === undefined ? {} : { refusedText }),
    }
  }

  /**
   * Reads the recent charges of agents about to be shown from their audit logs (once per
   * agent), for spend this server was not watching. Only the shown page's agents: never the
   * whole fleet.
   */
  async seed(handles: readonly string[]): Promise<void> {
    this.#shown = handles
    const since = this.#now() - RATE_BUCKETS * RATE_BUCKET_MS
    await Promise.all(
      handles
        .filter((handle) => !this.#history.has(handle))
        .map(async (handle) => {
          this.#history.set(handle, [])
          const firstSeen = this.#samples.get(handle)?.[0]?.[0] ?? this.#now()
          const entries = await this.#ks.audit(handle, { limit: 200 }).catch(() => [])
          this.#noteRefusals(handle, entries, 200)
          const charges: Array<[number, number]> = []
          for (const entry of entries) {
            const usd = auditCharge(entry)
            if (usd > 0 && entry.at >= since && entry.at <= firstSeen) charges.push([entry.at, usd])
          }
          this.#history.set(handle, charges)
        }),
    )
  }

  /** Reads the store once and tells listeners what changed. Concurrent callers share one read. */
  poll(): Promise<void> {
    this.#inFlight ??= this.#read().finally(() => {
      this.#inFlight = undefined
    })
    return this.#inFlight
  }

  async #read(): Promise<void> {
    let agents: AgentSnapshot[]
    let budgets: BudgetsById
    let approvals: Approval[] | undefined
    try {
      agents = await this.#ks.agents.list()
      budgets = await readBudgets(this.#ks, agents)
      const pending = this.#ks.approvals ? await this.#ks.approvals.list({ status: 'pending' }) : []
      // Its reason may quote what the agent asked to spend on: escaped like the rest.
      approvals = pending.map((approval) => ({
        ...displaySafe(approval),
        requestedText: usd(approval.requested),
      }))
    } catch (error) {
      this.#emit({
        changed: [],
        removed: [],
        total: this.#rows.size,
        error: error instanceof Error ? error.message : String(error),
      })
      throw error
    }
    const at = this.#now()
    this.#polledAt = at
    const refusalsChanged = await this.#readRefusals(at)
    const next = new Map<string, { row: ConsoleRow; json: string }>()
    const changed: WatchUpdate['changed'] = []
    const budgetJson = new Map(
      [...budgets].map(([id, budget]) => [id, JSON.stringify(budget.limits)]),
    )
    // Grants are compared by the kill switch's clock, not this watch's (a test's may differ).
    const wallClock = Date.now()
    for (const agent of agents) {
      const json = rowSource(agent, budgetJson, wallClock)
      const before = this.#rows.get(agent.handle)
      this.#sample(agent.handle, at, agent.spent)
      if (before?.json === json) {
        next.set(agent.handle, before)
        continue
      }
      const row = toConsoleRow(agent, budgets)
      next.set(agent.handle, { row, json })
      changed.push({ ...row, ...this.rateView(row.handle) })
    }
    // Refused calls change no snapshot: the shown agents' logs are read every few seconds.
    for (const handle of refusalsChanged) {
      const entry = next.get(handle)
      if (entry && !changed.some((row) => row.handle === handle))
        changed.push({ ...entry.row, ...this.rateView(handle) })
    }
    const removed = [...this.#rows.keys()].filter((handle) => !next.has(handle))
    for (const handle of removed) {
      this.#samples.delete(handle)
      this.#history.delete(handle)
      this.#refusals.delete(handle)
    }
    this.#rows = next
    this.#version++
    const update: WatchUpdate = { changed, removed, total: next.size, version: this.#version }
    const approvalsJson = JSON.stringify(approvals)
    if (approvalsJson !== this.#approvalsJson) {
      this.#approvalsJson = approvalsJson
      this.#approvals = approvals
      update.approvals = approvals
    }
    if (changed.length > 0 || removed.length > 0 || update.approvals) this.#emit(update)
  }

  /** Records what `entries` say of the agent's refusals; true when that changed. */
  #noteRefusals(handle: string, entries: readonly AuditEntry[], limit: number): boolean {
    const text = refusalsText(entries, this.#now() - REFUSALS_WINDOW_MS, limit)
    if (text === this.#refusals.get(handle)) return false
    if (text === undefined) this.#refusals.delete(handle)
    else this.#refusals.set(handle, text)
    return true
  }

  /** The shown agents whose refusals changed, their logs read at most every few seconds. */
  async #readRefusals(at: number): Promise<string[]> {
    if (at - this.#refusalsReadAt < REFUSALS_EVERY_MS) return []
    this.#refusalsReadAt = at
    const changed = await Promise.all(
      this.#shown.map(async (handle) => {
        const entries = await this.#ks.audit(handle, { limit: REFUSALS_ENTRIES }).catch(() => [])
        return this.#noteRefusals(handle, entries, REFUSALS_ENTRIES) ? [handle] : []
      }),
    )
    return changed.flat()
  }

  #sample(handle: string, at: number, spent: number): void {
    let samples = this.#samples.get(handle)
    if (!samples) {
      samples = []
      this.#samples.set(handle, samples)
    }
    const last = samples.at(-1)
    if (last !== undefined && last[1] === spent) return
    samples.push([at, spent])
    if (samples.length > MAX_SAMPLES) samples.shift()
  }

  #emit(update: WatchUpdate): void {
    for (const listener of this.#listeners) listener(update)
  }

  // The next poll starts an interval after this one ended, and never sooner than this one
  // took: a fleet large enough to make listing slow is polled less often rather than
  // keeping a core busy while a console is open.
  #schedule(delayMs = this.#intervalMs): void {
    this.#timer = setTimeout(() => {
      const started = performance.now()
      void this.poll()
        .catch(() => {})
        .finally(() => {
          const took = performance.now() - started
          if (this.#timer !== undefined) this.#schedule(Math.max(this.#intervalMs, took))
        })
    }, delayMs)
    this.#timer.unref?.()
  }
}
