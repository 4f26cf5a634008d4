import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { ActivityEvent } from '../../store.js'
import { modelCall, modelResult, toolCall, toolResult } from '../activity-fixtures.js'
import { canonicalHash } from '../canonical-hash.js'
import { DEFAULT_RUNAWAY_CONFIG } from '../runaway-defaults.js'
import { detectRepeatedToolCall } from './repeated-tool-call.js'

const config = DEFAULT_RUNAWAY_CONFIG.repeatedToolCall
const T0 = 1_700_000_000_000

/** `n` agent steps calling `tool` with `args`, one a second, with model calls in between. */
function loop(
  n: number,
  tool: string,
  args: (i: number) => unknown,
  runId?: string,
): ActivityEvent[] {
  const window: ActivityEvent[] = []
  for (let i = 0; i < n; i++) {
    const at = T0 + i * 1_000
    window.push(
      modelCall(at, runId),
      modelResult(at + 100, { runId }),
      toolCall(at + 200, tool, args(i), runId),
    )
    if (i < n - 1) window.push(toolResult(at + 300, tool, true, runId))
  }
  return window
}

const lastAt = (window: ActivityEvent[]) => (window[window.length - 1] as ActivityEvent).at

describe('detectRepeatedToolCall', () => {
  it('is ok below warnAt, warns from warnAt, trips exactly at tripAt', () => {
    const statuses = [1, 2, 3, 4, 5, 6].map((n) => {
      const window = loop(n, 'search', () => ({ q: 'pricing' }))
      return detectRepeatedToolCall(window, lastAt(window), config).status
    })
    expect(statuses).toEqual(['ok', 'ok', 'warn', 'warn', 'trip', 'trip'])
  })

  it('names the tool, its thresholds and the calls by hash, never the argument values', () => {
    const window = loop(5, 'search', () => ({ q: 'secret-customer-name' }))
    const finding = detectRepeatedToolCall(window, lastAt(window), config)
    expect(finding).toMatchObject({
      detector: 'repeated-tool-call',
      status: 'trip',
      evidence: {
        tool: 'search',
        argsHash: canonicalHash({ q: 'secret-customer-name' }),
        count: 5,
        tripAt: 5,
        warnAt: 3,
      },
    })
    expect(finding.evidence?.calls).toHaveLength(5)
    expect(finding.summary).toContain('search called 5 times')
    expect(JSON.stringify(finding)).not.toContain('secret-customer-name')
  })

  it('treats arguments with keys in another order as the same call', () => {
    const window = loop(5, 'search', (i) => (i % 2 ? { q: 'x', page: 1 } : { page: 1, q: 'x' }))
    expect(detectRepeatedToolCall(window, lastAt(window), config).status).toBe('trip')
  })

  it('never flags the same tool with different arguments', () => {
    const window = loop(60, 'search', (i) => ({ q: 'x', page: i }))
    for (let end = 1; end <= window.length; end++) {
      const prefix = window.slice(0, end)
      expect(detectRepeatedToolCall(prefix, lastAt(prefix), config).status).toBe('ok')
    }
  })

  it('only counts calls within windowMs', () => {
    // Five identical calls, three minutes apart: 12 minutes in all, more than the 10-minute window.
    const window = [0, 1, 2, 3, 4].map((i) => toolCall(T0 + i * 180_000, 'poll', { job: 1 }))
    expect(detectRepeatedToolCall(window, lastAt(window), config).status).toBe('warn')
    expect(
      detectRepeatedToolCall(window, lastAt(window), { ...config, windowMs: 24 * 3_600_000 })
        .status,
    ).toBe('trip')
  })

  it('only counts the last withinCalls tool calls', () => {
    const window: ActivityEvent[] = []
    for (let i = 0; i < 5; i++) {
      window.push(toolCall(T0 + i * 1000, 'read', { path: 'a.ts' }))
      // 5 other calls in between: the 5 reads span 25 tool calls, over withinCalls (20).
      for (let j = 0; j < 5; j++)
        window.push(toolCall(T0 + i * 1000 + j + 1, 'edit', { n: i * 10 + j }))
    }
    window.push(toolCall(T0 + 10_000, 'read', { path: 'a.ts' }))
    expect(detectRepeatedToolCall(window, T0 + 10_000, config).evidence?.count).toBe(4)
    expect(detectRepeatedToolCall(window, T0 + 10_000, { ...config, withinCalls: 40 }).status).toBe(
      'trip',
    )
  })

  it('scopes to the run when the call has a run id: one lookup per conversation is not a loop', () => {
    const window: ActivityEvent[] = []
    for (let i = 0; i < 8; i++)
      window.push(toolCall(T0 + i, 'lookup_policy', {}, `conversation-${i}`))
    expect(detectRepeatedToolCall(window, T0 + 8, config).status).toBe('ok')
    const sameRun = loop(5, 'lookup_policy', () => ({}), 'conversation-1')
    expect(detectRepeatedToolCall(sameRun, lastAt(sameRun), config).status).toBe('trip')
  })

  it('judges only a tool call', () => {
    const window = loop(6, 'search', () => ({ q: 1 }))
    window.push(toolResult(T0 + 10_000, 'search', true))
    expect(detectRepeatedToolCall(window, T0 + 10_000, config).status).toBe('ok')
  })

  it('never flags a window of distinct calls (property)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.integer()), {
          selector: ([tool, n]) => `${tool}:${n}`,
          maxLength: 60,
          minLength: 1,
        }),
        (calls) => {
          const window = calls.map(([tool, n], i) => toolCall(T0 + i, tool, { n }))
          return detectRepeatedToolCall(window, T0 + calls.length, config).status === 'ok'
        },
      ),
    )
  })
})
