// Concurrency is not a loop. A loop is one thread: each call waits for the last one's result.
// An agent serving many conversations without run ids, a worker pool, a fan-out: their calls
// overlap, and in one window they cannot be told apart from a loop's (a pool's steady state,
// result then call, looks like a loop's). So this process tracks, per scope (a run, or the
// agent for calls without a run id), the calls in flight, and remembers when a call last
// started while another of its kind was still in flight: for a minute after that, the scope
// is concurrent, and the loop detectors do not count its calls as repetitions.
//
// Calls in flight are start times, removed newest first when a result comes, and dropped
// when older than a bound: a call whose result never comes (refused after it was observed)
// counts for that long only, not for ever.
//
// The tool calls of one step (started with nothing in between: the parallel tool calls of
// one model answer, a Promise.all) are one thread's, not several: a loop whose model asks for
// the same 3 calls at once every lap would otherwise be concurrent for ever. So a tool call
// overlaps only with calls of its tool started in earlier steps; any other event of the scope
// (a model call, a result) starts a new step. Model calls in parallel are always concurrency.

/** Model calls take seconds to minutes; tools seconds. Past these, a call is forgotten. */
const MODEL_CALL_MS = 120_000
const TOOL_CALL_MS = 30_000
/** How long a scope stays concurrent after its last overlap. */
export const CONCURRENT_FOR_MS = 60_000
/** Scopes (runs) one agent keeps; cleared when full. */
const MAX_SCOPES = 1_000
/** Tools tracked per scope. */
const MAX_TOOLS = 64
/** Calls in flight kept per tool and scope (the oldest go first). */
const MAX_IN_FLIGHT = 256

interface Flow {
  model: number[]
  tools: Map<string, ToolFlow>
  overlapAt: number
  /** Events of the scope other than tool calls starting: each starts a new step. */
  step: number
}

/** A tool's calls in flight in one scope, and how many of them the current step started. */
interface ToolFlow {
  calls: number[]
  step: number
  inStep: number
  /**
   * Whether a result of this tool came in this scope. Some adapters report only the call (the
   * AI SDK middleware sees the model's tool calls, not their execution), or report the result
   * in another scope (guardTools given another run id): then calls in flight here cannot be
   * known, so they never count as overlapping (red teams rt36, rt37: a tool "reported" in
   * one scope made its result-less calls in another pile up as concurrent, and that scope's
   * loop went unjudged for 113 calls).
   */
  reported: boolean
}

/**
 * @example
 * const flows = new Concurrency()
 * flows.started('model_call', undefined, undefined, now)
 * flows.started('model_call', undefined, undefined, now + 5) // overlaps the first
 * flows.concurrent(undefined, now + 10) // true
 */
export class Concurrency {
  readonly #flows = new Map<string, Flow>()

  /** A model or tool call starts in scope `runId`. */
  started(
    kind: 'model_call' | 'tool_call',
    tool: string | undefined,
    runId: string | undefined,
    now: number,
  ): void {
    const flow = this.#flow(runId)
    if (kind === 'model_call') {
      flow.step++
      const calls = flow.model
      trim(calls, now, MODEL_CALL_MS)
      // Two others in flight: a loop beside one long stream has at most one.
      if (calls.length >= 2) flow.overlapAt = now
      calls.push(now)
      return
    }
    if (tool === undefined) return
    let list = flow.tools.get(tool)
    if (!list) {
      if (flow.tools.size >= MAX_TOOLS) flow.tools.clear()
      list = { calls: [], step: flow.step, inStep: 0, reported: false }
      flow.tools.set(tool, list)
    }
    if (list.step !== flow.step) {
      list.step = flow.step
      list.inStep = 0
    }
    const calls = list.calls
    trim(calls, now, TOOL_CALL_MS)
    // Two others of earlier steps in flight (a pool, several threads); the calls of this
    // step are its parallel calls. A tool whose results never come cannot show an overlap
    // (its calls are still tracked, for when its first result comes).
    const earlier = calls.length - Math.min(list.inStep, calls.length)
    if (earlier >= 2 && list.reported) flow.overlapAt = now
    calls.push(now)
    list.inStep++
  }

  /**
   * A call ended: its result came (`reported`), or it was refused before it ran. `tool`
   * undefined for a model call.
   */
  ended(tool: string | undefined, runId: string | undefined, reported: boolean): void {
    const flow = this.#flows.get(runId ?? '')
    if (!flow) return
    // A result is a new step; a refused call never ran, so it changes nothing of the kind.
    if (reported) flow.step++
    const list = tool === undefined ? undefined : flow.tools.get(tool)
    if (list && reported) list.reported = true
    const calls = tool === undefined ? flow.model : list?.calls
    calls?.pop()
  }

  /** Whether calls of scope `runId` overlapped within the last `CONCURRENT_FOR_MS`. */
  concurrent(runId: string | undefined, now: number): boolean {
    const flow = this.#flows.get(runId ?? '')
    return flow !== undefined && now - flow.overlapAt <= CONCURRENT_FOR_MS
  }

  #flow(runId: string | undefined): Flow {
    const scope = runId ?? ''
    let flow = this.#flows.get(scope)
    if (!flow) {
      if (this.#flows.size >= MAX_SCOPES) this.#flows.clear()
      flow = { model: [], tools: new Map(), overlapAt: Number.NEGATIVE_INFINITY, step: 0 }
      this.#flows.set(scope, flow)
    }
    return flow
  }
}

/** Drops calls older than `maxMs` (their result never came) and the oldest past MAX_IN_FLIGHT. */
function trim(calls: number[], now: number, maxMs: number): void {
  let stale = 0
  while (stale < calls.length && now - (calls[stale] as number) > maxMs) stale++
  if (calls.length - stale >= MAX_IN_FLIGHT) stale = calls.length - MAX_IN_FLIGHT + 1
  if (stale > 0) calls.splice(0, stale)
}
