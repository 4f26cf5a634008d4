// Helpers the scripted agents share: a pause that stands in for a provider's latency, and the
// token usage a real provider would report for a prompt.
import type { KillSwitch } from '@killswitch/core'
import type { Timeline } from './timeline.ts'

/** Waits `ms` milliseconds: a model or an API taking its time. */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/**
 * The input tokens a provider would bill for this prompt: about four bytes per token. Never
 * more than the prompt's UTF-8 bytes, which is the bound the kill switch holds; usage above it
 * would settle above the hold (the audit log flags that as `aboveHold`).
 *
 * @example
 * inputTokensFor(options.prompt) // 57 for a 225-byte prompt
 */
export function inputTokensFor(prompt: unknown): number {
  const text = typeof prompt === 'string' ? prompt : JSON.stringify(prompt)
  return Math.max(1, Math.ceil(Buffer.byteLength(text, 'utf8') / 4))
}

/** What one agent did, for the report and the test. */
export interface AgentOutcome {
  handle: string
  /** The framework and adapter it runs on, e.g. `AI SDK (killSwitchMiddleware)`. */
  framework: string
  /** Units of work it was scripted to do, and how many it finished. */
  planned: number
  done: number
  /** The kill switch error code that stopped it, if one did. */
  stoppedBy?: string
}

/** What a healthy agent is given to run. */
export interface HealthyAgentOptions {
  ks: KillSwitch
  credential: string
  handle: string
  timeline: Timeline
  /** Settles when the researcher's incident is over (it was stopped, or it finished). */
  afterIncident: Promise<void>
}

/**
 * Waits for the agent's next task: a pause between tasks, and the last one is only handed
 * out after the incident, so every healthy agent visibly keeps working, on its own
 * credential, once the researcher is revoked.
 *
 * @example
 * for (const [index, task] of tasks.entries()) {
 *   await nextTask(index, tasks.length, 300, options.afterIncident)
 * }
 */
export async function nextTask(
  index: number,
  total: number,
  pauseMs: number,
  afterIncident: Promise<void>,
): Promise<void> {
  if (index === total - 1) await afterIncident
  await pause(pauseMs)
}
