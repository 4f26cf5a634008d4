import { describe, expect, it } from 'vitest'
import { RunTracker } from './run-tracker.js'

describe('RunTracker', () => {
  it('counts model and tool calls per agent and run, from the first time it sees the run', () => {
    const runs = new RunTracker()
    runs.touch('a', 'r1', 'model_call', 100)
    runs.touch('a', 'r1', 'tool_call', 200)
    runs.touch('a', 'r1', 'tool_result', 300)
    runs.touch('b', 'r1', 'model_call', 400)
    expect(runs.touch('a', 'r1', 'model_call', 500)).toEqual({
      runId: 'r1',
      startedAt: 100,
      modelCalls: 2,
      toolCalls: 1,
    })
  })

  it('stays bounded, forgetting the least recently seen run first', () => {
    const runs = new RunTracker(2)
    runs.touch('a', 'old', 'model_call', 1)
    runs.touch('a', 'busy', 'model_call', 2)
    runs.touch('a', 'old', 'model_call', 3) // seen again: now the most recent
    runs.touch('a', 'new', 'model_call', 4) // evicts "busy"
    expect(runs.size).toBe(2)
    expect(runs.touch('a', 'old', 'model_call', 5).modelCalls).toBe(3)
    expect(runs.touch('a', 'busy', 'model_call', 6)).toMatchObject({ startedAt: 6, modelCalls: 1 })
  })
})
