// Another agent's honest work while revocations wait for a replica: reserve and settle, a
// micro-dollar each, counted. Behind a WAIT (replicaTimeoutMs, 300 ms in the tests) a call
// takes hundreds of milliseconds; on its own, about one.
import type { AgentGuard } from '@killswitch/core'

/** Calls made for `ms`: how many, and how many took `slowMs` or more. */
export async function honestCalls(
  guard: AgentGuard,
  ms: number,
  slowMs = 150,
): Promise<{ calls: number; slow: number }> {
  let calls = 0
  let slow = 0
  for (const started = performance.now(); performance.now() - started < ms; calls++) {
    const at = performance.now()
    const ticket = await guard.reserveSpend({
      amountUsd: 0.000001,
      kind: 'payment',
      description: 'honest work',
    })
    await guard.settleSpend(ticket, { amountUsd: 0.000001 })
    if (performance.now() - at >= slowMs) slow++
  }
  return { calls, slow }
}
