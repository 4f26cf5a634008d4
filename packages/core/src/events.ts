// Typed events. Listeners run synchronously after the action; a listener that throws (or
// rejects) is reported to `onListenerError` and never breaks the guarded call.

/** What each event carries. Amounts in dollars; never a credential. */
export interface KillSwitchEvents {
  created: { handle: string; spendingCap: number }
  cap_changed: { handle: string; from: number; to: number }
  revoked: { handle: string; reason: string; at: number }
  denied: {
    handle: string | undefined
    code: string
    rule:
      | 'revoked'
      | 'spending_cap'
      | 'unknown_price'
      | 'runaway'
      | 'store_unavailable'
      | 'spend_rule'
    message: string
    model?: string
  }
  reserved: { handle: string; holdId: string; amount: number; kind: string }
  settled: {
    handle: string
    holdId: string
    kind: string
    cost: number
    spent: number
    spendingCap: number
    model?: string
  }
  released: { handle: string; holdId: string; kind: string; reason: string }
  threshold: { handle: string; thresholdPct: number; spent: number; spendingCap: number }
  runaway: {
    handle: string
    detector: string
    action: string
    enforced: boolean
    summary: string
  }
  /** An agent with approvals on reached its cap: a person is asked to decide. */
  approval_requested: ApprovalEvent
  /** A person approved or denied a request. */
  approval_decided: ApprovalEvent
}

export type KillSwitchEventName = keyof KillSwitchEvents
export type Listener<Name extends KillSwitchEventName> = (event: KillSwitchEvents[Name]) => unknown

/** A small typed emitter; emitting with no listener costs one map lookup. */
export class EventHub {
  readonly #listeners = new Map<KillSwitchEventName, Set<Listener<never>>>()
  readonly #onListenerError: (error: unknown) => void

  constructor(onListenerError: (error: unknown) => void) {
    this.#onListenerError = onListenerError
  }

  on<Name extends KillSwitchEventName>(name: Name, listener: Listener<Name>): () => void {
    let set = this.#listeners.get(name)
    if (!set) {
      set = new Set()
      this.#listeners.set(name, set)
    }
    set.add(listener as Listener<never>)
    return () => set.delete(listener as Listener<never>)
  }

  has(name: KillSwitchEventName): boolean {
    return (this.#listeners.get(name)?.size ?? 0) > 0
  }

  emit<Name extends KillSwitchEventName>(name: Name, event: KillSwitchEvents[Name]): void {
    const set = this.#listeners.get(name)
    if (!set) return
    for (const listener of set) {
      try {
        const result = (listener as Listener<Name>)(event)
        if (result instanceof Promise) result.catch(this.#onListenerError)
      } catch (error) {
        this.#onListenerError(error)
      }
    }
  }
}

/** An approval request as events and webhooks carry it. Amounts in dollars, times ISO. */
export interface ApprovalEvent {
  id: string
  handle: string
  status: 'pending' | 'approved' | 'denied' | 'expired'
  requested: number
  reason: string
  createdAt: string
  expiresAt: string
  decidedBy?: string
  decisionReason?: string
  grant?: { amount: number; expiresAt: string }
}
