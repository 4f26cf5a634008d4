// A tool call runs in the run and budgets of the model's call that asked for it, by the
// framework's id of the call, though another guard of the agent runs it (the AI SDK's
// guardTools beside a middleware given a run per call: red team rt36).
import { describe, expect, it } from 'vitest'
import { createKillSwitch } from './kill-switch.js'

async function setup() {
  const ks = createKillSwitch({
    prices: { t: { inputPerMTok: 1, outputPerMTok: 1 } },
    toolPrices: { fetch_page: 0.02 },
    runaway: false,
  })
  const { credential } = await ks.agents.create({ handle: 'pager', spendingCap: 5 })
  // The middleware's guard checks the model's calls; guardTools' own guard runs them.
  return { ks, checker: ks.guard(credential), runner: ks.guard(credential) }
}

/** A model call in run `job-1` ($0.01 cap) that asks for `fetch_page` under id `call-1`. */
async function askedInRun(checker: Awaited<ReturnType<typeof setup>>['checker']) {
  const call = await checker.startModelCall({
    model: 't',
    input: 'page on',
    maxOutputTokens: 10,
    runId: 'job-1',
    runCap: 0.01,
  })
  await call.run(async () => {})
  const toolCall = { name: 'fetch_page', args: { page: 2 } }
  await call.finish({ usage: { inputTokens: 2, outputTokens: 2 }, toolCalls: [toolCall] })
  await call.checkToolCall({ ...toolCall, toolCallId: 'call-1' })
}

describe('tool calls in the scope of the model call that asked for them', () => {
  it("holds a tool's price in the run its model's call was in, though another guard runs it", async () => {
    const { ks, checker, runner } = await setup()
    await askedInRun(checker)
    // $0.02 against the run's $0.01: refused by the run's budget. Before: held on the agent
    // alone ($5), outside the run, and its price unseen by the run's loop checks.
    const run = (toolCallId?: string) =>
      runner.runToolCall(
        { name: 'fetch_page', args: { page: 2 }, observe: false, toolCallId },
        async () => 'page 2',
      )
    await expect(run('call-1')).rejects.toMatchObject({
      code: 'spending_cap_exceeded',
      level: 'budget',
      budgetId: 'run:pager:job-1',
    })
    // Another id, or none: the agent's scope, as the runner gives it.
    await expect(run('call-9')).resolves.toBe('page 2')
    await expect(run()).resolves.toBe('page 2')
    await ks.close()
  })

  it("keeps a run or budget the runner gives itself over the model call's", async () => {
    const { ks, checker, runner } = await setup()
    await askedInRun(checker)
    const own = await runner.runToolCall(
      {
        name: 'fetch_page',
        args: { page: 2 },
        observe: false,
        toolCallId: 'call-1',
        runId: 'job-2',
      },
      async () => 'page 2',
    )
    expect(own).toBe('page 2')
    await ks.close()
  })
})
