// Spans around guarded calls, built from the kill switch's events: a span opens when a hold
// is reserved and ends when that hold is settled or released. A hold that lapses (its owner
// vanished) sends no event, so open spans are bounded: past `maxOpen` the oldest is ended
// with outcome `untracked` rather than kept forever.
import type { KillSwitchEvents } from '../events.js'
import {
  SPAN_KIND_INTERNAL,
  SPAN_STATUS_ERROR,
  SPAN_STATUS_OK,
  type SpanLike,
  type TracerLike,
} from './otel-types.js'

export const ATTR_AGENT = 'killswitch.agent'
export const ATTR_MODEL = 'killswitch.model'
export const ATTR_OUTCOME = 'killswitch.outcome'
export const ATTR_KIND = 'killswitch.kind'

/** Tracks one span per live hold id. */
export class CallSpans {
  readonly #tracer: TracerLike
  readonly #maxOpen: number
  // Insertion order is age order: the first key is the oldest open span.
  readonly #open = new Map<string, SpanLike>()

  constructor(tracer: TracerLike, maxOpen: number) {
    this.#tracer = tracer
    this.#maxOpen = maxOpen
  }

  get openCount(): number {
    return this.#open.size
  }

  reserved(event: KillSwitchEvents['reserved']): void {
    const span = this.#tracer.startSpan(`killswitch ${event.kind}`, {
      kind: SPAN_KIND_INTERNAL,
      attributes: {
        [ATTR_AGENT]: event.handle,
        [ATTR_KIND]: event.kind,
        'killswitch.hold_id': event.holdId,
        'killswitch.hold_usd': event.amount,
      },
    })
    this.#open.get(event.holdId)?.end()
    this.#open.set(event.holdId, span)
    while (this.#open.size > this.#maxOpen) {
      const oldest = this.#open.keys().next().value
      if (oldest === undefined) break
      this.#finish(oldest, 'untracked')
    }
  }

  settled(event: KillSwitchEvents['settled']): void {
    const span = this.#open.get(event.holdId)
    if (!span) return
    if (event.model !== undefined) span.setAttribute(ATTR_MODEL, event.model)
    span.setAttribute('killswitch.cost_usd', event.cost)
    this.#finish(event.holdId, 'settled')
  }

  released(event: KillSwitchEvents['released']): void {
    const span = this.#open.get(event.holdId)
    if (!span) return
    span.setAttribute('killswitch.release_reason', event.reason)
    this.#finish(event.holdId, 'released')
  }

  /** A refused call never holds anything: it gets a span of its own, ended at once, in error. */
  denied(event: KillSwitchEvents['denied']): void {
    const span = this.#tracer.startSpan('killswitch denied', {
      kind: SPAN_KIND_INTERNAL,
      attributes: {
        ...(event.handle === undefined ? {} : { [ATTR_AGENT]: event.handle }),
        ...(event.model === undefined ? {} : { [ATTR_MODEL]: event.model }),
        [ATTR_OUTCOME]: 'denied',
        'killswitch.denial_reason': event.rule,
        'killswitch.error_code': event.code,
      },
    })
    span.setStatus({ code: SPAN_STATUS_ERROR, message: event.code })
    span.end()
  }

  /** Ends every open span (instrumentation stopped): their calls' endings will not be seen. */
  endAll(): void {
    for (const holdId of [...this.#open.keys()]) this.#finish(holdId, 'unfinished')
  }

  #finish(holdId: string, outcome: 'settled' | 'released' | 'untracked' | 'unfinished'): void {
    const span = this.#open.get(holdId)
    if (!span) return
    this.#open.delete(holdId)
    span.setAttribute(ATTR_OUTCOME, outcome)
    if (outcome === 'settled' || outcome === 'released') span.setStatus({ code: SPAN_STATUS_OK })
    span.end()
  }
}
