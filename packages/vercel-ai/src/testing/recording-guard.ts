// Test support: a real guard that remembers the tickets it handed out, so that a test can
// compare the ledger with a hold's exact amount. Not exported.
import type { AgentGuard, ModelCallTicket } from '@killswitch/core'
import { toMicros } from '@killswitch/core'
import { guardWith } from './guard-with.js'
import type { TestAgent } from './test-agent.js'

export interface RecordingGuard {
  guard: AgentGuard
  tickets: ModelCallTicket[]
  /** The holds taken so far, in micro-dollars. */
  holds(): number[]
}

export function recordingGuard(agent: TestAgent): RecordingGuard {
  const real = agent.ks.guard(agent.credential)
  const tickets: ModelCallTicket[] = []
  const guard = guardWith(real, {
    beforeModelCall: async (request) => {
      const ticket = await real.beforeModelCall(request)
      tickets.push(ticket)
      return ticket
    },
  })
  return { guard, tickets, holds: () => tickets.map((ticket) => toMicros(ticket.reservedUsd)) }
}
