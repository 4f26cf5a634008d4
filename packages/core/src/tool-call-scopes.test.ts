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

type Guard = Awaited<ReturnType<typeof setup>>['runner']

/** The runner's `fetch_page` under `toolCallId`, in a run of its own if it gives one. */
const fetchPage = (runner: Guard, toolCallId?: string, own: { runId?: string } = {}) =>
  runner.runToolCall(
    { name: 'fetch_page', args: { page: 2 }, observe: false, toolCallId, ...own },
    async () => 'page 2',
  )

/** `fetch_page` asked for again under `toolCallId`, in no run. */
const askedInNoRun = (checker: Guard, toolCallId: string) =>
  checker.beforeToolCall({ name: 'fetch_page', args: { page: 3 }, meter: false, toolCallId })

describe('tool calls in the scope of the model call that asked for them', () => {
  it("holds a tool's price in the run its model's call was in, though another guard runs it", async () => {
    const { ks, checker, runner } = await setup()
    await askedInRun(checker)
    // $0.02 against the run's $0.01: refused by the run's budget. Before: held on the agent
    // alone ($5), outside the run, and its price unseen by the run's loop checks.
    const run = (toolCallId?: string) => fetchPage(runner, toolCallId)
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
    const own = await fetchPage(runner, 'call-1', { runId: 'job-2' })
    expect(own).toBe('page 2')
    await ks.close()
  })

  it('takes an id once: reused after its tool ran, or asked twice in two scopes, it names no run (red team rt39)', async () => {
    const { ks, checker, runner } = await setup()
    const run = (toolCallId: string) => fetchPage(runner, toolCallId)
    await askedInRun(checker)
    await expect(run('call-1')).rejects.toMatchObject({ budgetId: 'run:pager:job-1' })
    // A provider numbering its calls per answer: the next job's call-1, asked with no run,
    // runs in the runner's scope (before: charged to job-1, and refused by its budget).
    await askedInNoRun(checker, 'call-1')
    await expect(run('call-1')).resolves.toBe('page 2')
    // Asked in job-1, then in no run, before it ran: which call runs is unknown.
    await askedInRun(checker)
    await askedInNoRun(checker, 'call-1')
    await expect(run('call-1')).resolves.toBe('page 2')
    await ks.close()
  })

  it('keeps a call asked for while a thousand others are asked and run (a human approval given later)', async () => {
    const { ks, checker, runner } = await setup()
    await askedInRun(checker)
    for (let i = 0; i < 1_200; i++) {
      const toolCallId = `other-${i}`
      await checker.beforeToolCall({
        name: 'lookup',
        args: { i },
        meter: false,
        toolCallId,
        runId: 'batch',
      })
      await runner.runToolCall(
        { name: 'lookup', args: { i }, observe: false, toolCallId },
        async () => i,
      )
    }
    await expect(fetchPage(runner, 'call-1')).rejects.toMatchObject({
      budgetId: 'run:pager:job-1',
    })
    await ks.close()
  })
})
