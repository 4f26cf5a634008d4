import { describe, expect, it } from 'vitest'
import { CONCURRENT_FOR_MS, Concurrency } from './concurrency.js'

const T0 = 1_700_000_000_000

describe('Concurrency', () => {
  it('a scope with three model calls at once is concurrent for a minute after; two are not', () => {
    const flows = new Concurrency()
    flows.started('model_call', undefined, undefined, T0)
    flows.started('model_call', undefined, undefined, T0 + 1)
    // A loop beside one long stream: never more than two at once.
    expect(flows.concurrent(undefined, T0 + 2)).toBe(false)
    flows.started('model_call', undefined, undefined, T0 + 5)
    expect(flows.concurrent(undefined, T0 + 10)).toBe(true)
    expect(flows.concurrent(undefined, T0 + 5 + CONCURRENT_FOR_MS + 1)).toBe(false)
    // Other scopes are not affected.
    expect(flows.concurrent('run-1', T0 + 10)).toBe(false)
  })

  it('a loop, each call after the last one ended, never overlaps', () => {
    const flows = new Concurrency()
    for (let i = 0; i < 100; i++) {
      flows.started('model_call', undefined, 'run-1', T0 + i * 1_000)
      flows.ended(undefined, 'run-1', true)
      flows.started('tool_call', 'search', 'run-1', T0 + i * 1_000 + 500)
      flows.ended('search', 'run-1', true)
    }
    expect(flows.concurrent('run-1', T0 + 100_000)).toBe(false)
  })

  it('a pool of tool calls overlaps once the tool reports results; a tool that never does, never', () => {
    const flows = new Concurrency()
    for (let i = 0; i < 8; i++) flows.started('tool_call', 'fetch', undefined, T0 + i)
    expect(flows.concurrent(undefined, T0 + 10)).toBe(false)
    flows.ended('fetch', undefined, true)
    expect(flows.concurrent(undefined, T0 + 15)).toBe(false)
    flows.started('tool_call', 'fetch', undefined, T0 + 20)
    expect(flows.concurrent(undefined, T0 + 20)).toBe(true)
    const silent = new Concurrency()
    for (let i = 0; i < 8; i++) silent.started('tool_call', 'fetch', undefined, T0 + i)
    expect(silent.concurrent(undefined, T0 + 10)).toBe(false)
    // Its results reported in another scope (the tools in run job-1, the calls seen in the
    // model's run chat-1: red team rt37): the calls here still cannot overlap.
    const split = new Concurrency()
    for (let lap = 0; lap < 8; lap++) {
      split.started('model_call', undefined, 'chat-1', T0 + lap * 1_200)
      split.ended(undefined, 'chat-1', true)
      split.started('tool_call', 'search', 'chat-1', T0 + lap * 1_200 + 1_000)
      split.started('tool_call', 'search', 'job-1', T0 + lap * 1_200 + 1_010)
      split.ended('search', 'job-1', true)
    }
    expect(split.concurrent('chat-1', T0 + 10_000)).toBe(false)
  })

  it('forgets a call whose result never comes (refused after it was observed)', () => {
    const flows = new Concurrency()
    flows.started('model_call', undefined, undefined, T0)
    flows.started('model_call', undefined, undefined, T0 + 1)
    // Never ended. Two minutes later, a loop's calls do not overlap it.
    for (let i = 0; i < 10; i++) {
      flows.started('model_call', undefined, undefined, T0 + 130_000 + i * 1_000)
      flows.ended(undefined, undefined, true)
    }
    expect(flows.concurrent(undefined, T0 + 140_000)).toBe(false)
    // A call refused before it ran ends at once: the next one does not overlap it.
    flows.started('tool_call', 'search', 'r', T0)
    flows.ended('search', 'r', true)
    for (let i = 0; i < 3; i++) {
      flows.started('tool_call', 'search', 'r', T0 + 1 + i)
      flows.ended('search', 'r', false)
    }
    expect(flows.concurrent('r', T0 + 5)).toBe(false)
  })

  it("a model step's own parallel tool calls are one thread, lap after lap; a pool is not", () => {
    const flows = new Concurrency()
    for (let lap = 0; lap < 5; lap++) {
      const at = T0 + lap * 2_000
      flows.started('model_call', undefined, undefined, at)
      flows.ended(undefined, undefined, true)
      // The same 3 calls at once, asked by the model's answer.
      for (let k = 0; k < 3; k++) flows.started('tool_call', 'search', undefined, at + 10 + k)
      for (let k = 0; k < 3; k++) flows.ended('search', undefined, true)
    }
    expect(flows.concurrent(undefined, T0 + 10_000)).toBe(false)
    // A pool: a call starts as another ends, while calls of earlier steps are in flight.
    for (let k = 0; k < 3; k++) flows.started('tool_call', 'search', undefined, T0 + 11_000 + k)
    flows.ended('search', undefined, true)
    flows.started('tool_call', 'search', undefined, T0 + 11_010)
    expect(flows.concurrent(undefined, T0 + 11_010)).toBe(true)
  })
})
