// The first demo: a scripted agent loops on a paid search tool; the kill switch stops it at
// its cap, its credential is revoked, and a replay of that credential is refused.
// Offline: no model, no network. Run: npm run demo
import { AgentRevokedError, createKillSwitch, findKillSwitchError } from '@killswitch/core'

export interface DemoResult {
  spent: number
  spendingCap: number
  searches: number
  stoppedBy: string
  replayRefused: boolean
}

export async function runDemo(log: (line: string) => void = console.log): Promise<DemoResult> {
  const ks = createKillSwitch({
    prices: { 'scripted-model': { inputPerMTok: 3, outputPerMTok: 15 } },
  })
  const agent = await ks.agents.create({ handle: 'researcher-agent-7', spendingCap: 0.5 })
  log(
    `provisioned ${agent.handle} with a $${agent.spendingCap} cap (credential shown once: ${agent.credential.slice(0, 6)}...)`,
  )
  const guard = ks.guard(agent.credential)

  let searches = 0
  let stoppedBy = 'nothing'
  try {
    // The loop a buggy agent runs at 2 AM: think, call the paid search, repeat. The prompt
    // (about 8 KB of context) bounds the input tokens the provider can bill.
    const context = 'Find every paper on agent budgets. '.repeat(230)
    for (let step = 1; step <= 1_000; step++) {
      const ticket = await guard.beforeModelCall({
        model: 'scripted-model',
        input: `${context}\nstep ${step}: search again`,
        maxOutputTokens: 500,
      })
      await guard.afterModelCall(ticket, { usage: { inputTokens: 2_000, outputTokens: 300 } })
      const tool = await guard.beforeToolCall({
        name: 'paid_search',
        args: { query: `step ${step}` },
        priceUsd: 0.01,
      })
      searches++
      await guard.afterToolCall(tool, { ok: true })
    }
  } catch (error) {
    const found = findKillSwitchError(error)
    stoppedBy = found?.code ?? 'unexpected error'
    log(`stopped: ${found?.message ?? String(error)}`)
  }

  await ks.agents.revoke('researcher-agent-7', { reason: 'looping on paid_search' })
  let replayRefused = false
  try {
    await ks.guard(agent.credential).beforeModelCall({ model: 'scripted-model', input: 'replay' })
  } catch (error) {
    replayRefused = error instanceof AgentRevokedError
    log(`replayed credential refused: ${(error as Error).message}`)
  }

  const state = await ks.agents.get('researcher-agent-7')
  log(
    `spent $${state.spent} of $${state.spendingCap} over ${searches} searches; status ${state.status}`,
  )
  log('audit trail (last 5):')
  for (const entry of (await ks.audit('researcher-agent-7')).slice(-5))
    log(`  ${entry.type.padEnd(9)} ${entry.summary}`)
  await ks.close()
  return { spent: state.spent, spendingCap: state.spendingCap, searches, stoppedBy, replayRefused }
}

if (import.meta.main) await runDemo()
