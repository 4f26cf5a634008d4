// Repeated identical tool call: the same tool with the same arguments (canonical JSON, key
// order ignored) again and again. The commonest loop: the model did not take in the result,
// or the result tells it nothing new, so it asks again. Judges the current tool call: the
// window's last event.
import type { ActivityEvent } from '../../store.js'
import type { ResolvedRunawayConfig } from '../runaway-defaults.js'
import type { DetectorFinding } from '../types.js'
import { CLOCK_SKEW_MS, callEvidence, inScope, okFinding, statusOf } from './finding.js'

/** The detector's name in findings, events and audit entries. */
export const REPEATED_TOOL_CALL = 'repeated-tool-call'

const OK = okFinding(REPEATED_TOOL_CALL)

/**
 * Counts how often the current tool call (the window's last event), same name and same
 * arguments hash, appears among the last `withinCalls` tool calls of its run (of the agent
 * when there is no run id) within `windowMs`, itself included.
 *
 * @example
 * const finding = detectRepeatedToolCall(window, Date.now(), DEFAULT_RUNAWAY_CONFIG.repeatedToolCall)
 * if (finding.status === 'trip') console.log(finding.summary) // search called 5 times with the same arguments...
 */
export function detectRepeatedToolCall(
  window: readonly ActivityEvent[],
  now: number,
  config: ResolvedRunawayConfig['repeatedToolCall'],
): DetectorFinding {
  const current = window[window.length - 1]
  if (current?.kind !== 'tool_call' || current.hash === undefined) return OK
  const { runId, tool, hash } = current
  const since = now - config.windowMs
  let seen = 0
  let count = 0
  let first = window.length - 1
  for (let i = window.length - 1; i >= 0 && seen < config.withinCalls; i--) {
    const event = window[i] as ActivityEvent
    if (event.at <= since) {
      if (event.at <= since - CLOCK_SKEW_MS) break
      continue
    }
    if (event.kind !== 'tool_call' || (runId !== undefined && event.runId !== runId)) continue
    seen++
    if (event.tool === tool && event.hash === hash) {
      count++
      first = i
    }
  }
  const status = statusOf(count, config.warnAt, config.tripAt)
  if (status === 'ok') return OK
  const calls = []
  for (let i = first; i < window.length; i++) {
    const event = window[i] as ActivityEvent
    if (
      event.kind === 'tool_call' &&
      event.tool === tool &&
      event.hash === hash &&
      event.at > since &&
      inScope(event, runId)
    ) {
      calls.push(callEvidence(event))
    }
  }
  return {
    detector: REPEATED_TOOL_CALL,
    status,
    summary: `${tool} called ${count} times with the same arguments in its last ${seen} tool calls (${status === 'trip' ? 'trips' : 'warns'} at ${status === 'trip' ? config.tripAt : config.warnAt})`,
    evidence: {
      tool,
      argsHash: hash,
      count,
      warnAt: config.warnAt,
      tripAt: config.tripAt,
      withinCalls: config.withinCalls,
      windowMs: config.windowMs,
      ...(runId === undefined ? {} : { runId }),
      calls,
    },
  }
}
