// The corpus's key workloads through the real guard (createKillSwitch, memory store, default
// runaway policy), in real time: what the issue saw refused on main must go through, and
// the loops it saw go through must be refused.
import { describe, expect, it } from 'vitest'
import { RunawayDetectedError } from '../errors.js'
import { createKillSwitch } from '../kill-switch.js'

// $1 per million tokens in and out: cheap enough that no cap is near.
const prices = { 'test-model': { inputPerMTok: 1, outputPerMTok: 1 } }

async function setup(spendingCap: number) {
  const ks = createKillSwitch({ prices })
  const agent = await ks.agents.create({ handle: 'agent', spendingCap })
  return { ks, guard: ks.guard(agent.credential), credential: agent.credential }
}

/** One call of a labelling batch in run `runId`: a system prompt, then `turn`, answered `text`. */
async function labelled(
  guard: Awaited<ReturnType<typeof setup>>['guard'],
  runId: string,
  turn: Array<{ role: string; content: string }>,
  text: string,
) {
  const call = await guard.startModelCall({
    model: 'test-model',
    input: { messages: [{ role: 'system', content: 'Label it.' }, ...turn] },
    maxOutputTokens: 10,
    runId,
  })
  await call.run(async () => {})
  await call.finish({ usage: { inputTokens: 10, outputTokens: 1 }, text })
}

describe('default runaway policy through the guard', () => {
  it('300 concurrent model calls (a Promise.all over documents) all complete', async () => {
    const { ks, guard } = await setup(100)
    const outcomes = await Promise.allSettled(
      Array.from({ length: 300 }, async (_, i) => {
        const ticket = await guard.beforeModelCall({
          model: 'test-model',
          input: `doc ${i}`,
          maxOutputTokens: 100,
        })
        await guard.afterModelCall(ticket, { usage: { inputTokens: 10, outputTokens: 20 } })
      }),
    )
    expect(outcomes.filter((outcome) => outcome.status === 'rejected')).toEqual([])
    expect((await ks.agents.get('agent')).status).toBe('active')
  })

  it('a batch labelling documents one after another in one run is never refused; the same answer to the same ask is', async () => {
    const { ks, guard } = await setup(100)
    const label = (ask: string, text: string) =>
      labelled(guard, 'batch-1', [{ role: 'user', content: ask }], text)
    for (let i = 0; i < 40; i++) await label(`document ${i}`, 'positive')
    expect((await ks.agents.get('agent')).status).toBe('active')

    // A harness re-asking "continue" of a model that gives the same answer: no progress.
    const refused = await (async () => {
      for (let i = 0; i < 10; i++) await label('continue', 'I will look into it.')
    })().catch((error: unknown) => error)
    expect(refused).toBeInstanceOf(RunawayDetectedError)
    expect((refused as RunawayDetectedError).message).toContain('no-progress')
  })

  it('a batch in one run whose document comes before a fixed instruction is never refused; the same document again is', async () => {
    const { ks, guard } = await setup(100)
    // The long-context layout: the document, then the question (a turn of two user messages).
    const question = { role: 'user', content: 'Answer with one word: positive or negative.' }
    const label = (document: string, text: string) =>
      labelled(guard, 'reviews-1', [{ role: 'user', content: document }, question], text)
    const things = ['kettle', 'lamp', 'charger', 'blender', 'drill']
    const words = ['sturdy', 'quiet', 'bright', 'cheap', 'heavy', 'fast', 'small', 'warm']
    const reviews = things.flatMap((thing) =>
      words.map((word) => `A ${word} ${thing}, as described.`),
    )
    for (const review of reviews) await label(review, 'positive')
    expect((await ks.agents.get('agent')).status).toBe('active')
    const refused = await (async () => {
      for (let i = 0; i < 10; i++) await label(reviews[7] ?? '', 'positive')
    })().catch((error: unknown) => error)
    expect(refused).toBeInstanceOf(RunawayDetectedError)
  })

  it('a run re-asking "Continue." after a line only its time changes gets no progress (red team rt36)', async () => {
    const { guard } = await setup(100)
    const refused = await (async () => {
      for (let i = 0; i < 10; i++) {
        const context = {
          role: 'user',
          content: `[context] current time: ${new Date(i * 800).toISOString()}`,
        }
        const turn = [context, { role: 'user', content: 'Continue.' }]
        await labelled(guard, 'task-1', turn, 'I am still working on it.')
      }
    })().catch((error: unknown) => error)
    expect(refused).toBeInstanceOf(RunawayDetectedError)
    expect((refused as RunawayDetectedError).message).toContain('no-progress')
  })

  it('a coding agent in one run whose edit tool answers "File edited." each time is never refused; the same edit again is (red team rt37)', async () => {
    const { ks, guard } = await setup(100)
    const files = ['parser', 'lexer', 'printer', 'checker', 'resolver', 'emitter', 'binder']
    const code = async (path: (lap: number) => string) => {
      const prompt: unknown[] = [{ role: 'user', content: 'Make the tests pass.' }]
      const step = async (name: string, args: Record<string, unknown>, output: string) => {
        const call = await guard.startModelCall({
          model: 'test-model',
          input: { prompt: [...prompt] },
          maxOutputTokens: 100,
          runId: 'task-9',
        })
        await call.run(async () => {})
        await call.finish({
          usage: { inputTokens: 10, outputTokens: 5 },
          toolCalls: [{ name, args }],
        })
        const id = `call-${prompt.length}`
        prompt.push({
          role: 'assistant',
          content: [{ type: 'tool-call', toolCallId: id, toolName: name, input: args }],
        })
        prompt.push({
          role: 'tool',
          content: [{ type: 'tool-result', toolCallId: id, toolName: name, output }],
        })
      }
      for (let lap = 0; lap < files.length; lap++) {
        await step(
          'edit_file',
          { path: path(lap), content: 'export {}' },
          'File edited successfully.',
        )
        await step('run_tests', {}, `${files.length - lap} tests failing`)
      }
    }
    await code((lap) => `src/${files[lap]}.ts`)
    expect((await ks.agents.get('agent')).status).toBe('active')
    // The same file edited again and again, the same confirmation each time: no progress.
    const refused = await code(() => 'src/parser.ts').catch((error: unknown) => error)
    expect(refused).toBeInstanceOf(RunawayDetectedError)
  })

  it('tickets answered back to back with no run id, the same lookup in each, are never refused; the same answer again is', async () => {
    const { ks, guard } = await setup(100)
    // One ticket as the AI SDK's generateText runs it: a step that asks for the policy tool,
    // the tool, a step that answers (it asks for no tool: the turn ends).
    const ticket = async (ask: string, answer: string) => {
      const user = { role: 'user', content: ask }
      const lookup = await guard.startModelCall({
        model: 'test-model',
        input: { prompt: [user] },
        maxOutputTokens: 100,
      })
      await lookup.run(async () => {})
      const toolCall = { name: 'get_refund_policy', args: { region: 'EU' } }
      await lookup.finish({ usage: { inputTokens: 10, outputTokens: 5 }, toolCalls: [toolCall] })
      await lookup.checkToolCall(toolCall)
      const reply = await guard.startModelCall({
        model: 'test-model',
        input: { prompt: [user, { role: 'tool', content: 'EU: 30 days' }] },
        maxOutputTokens: 100,
      })
      await reply.run(async () => {})
      await reply.finish({ usage: { inputTokens: 20, outputTokens: 20 }, text: answer })
    }
    for (let i = 0; i < 12; i++) await ticket(`ticket ${i}: my order arrived late`, `answer ${i}`)
    expect((await ks.agents.get('agent')).status).toBe('active')
    // A classifier: the same lookup and the same label for different tickets (red team r19).
    const issues = ['parcel damaged', 'refund twice', 'wrong size', 'never arrived', 'late again']
    const items = ['blue jacket', 'phone case', 'garden chair']
    for (let i = 0; i < 12; i++) {
      await ticket(`${issues[i % 5]}: the ${items[Math.floor(i / 5)]}`, 'approved')
    }
    expect((await ks.agents.get('agent')).status).toBe('active')

    // An app asking the same question again at once, a counter in it: the same answer, a loop.
    const refused = await (async () => {
      for (let i = 0; i < 8; i++) await ticket(`the refund policy? (attempt ${i})`, '30 days.')
    })().catch((error: unknown) => error)
    expect(refused).toBeInstanceOf(RunawayDetectedError)
  })

  it("a paid tool metered by another guard of the agent (guardTools') counts at once toward slow-loop", async () => {
    const { ks, guard, credential } = await setup(1)
    const tools = ks.guard(credential) // as guardTools makes its own
    const search = { name: 'search', args: { q: 'acme pricing' } }
    // A loop that asks anew each lap (a new ask, a new answer: repeated-tool-call lets it be),
    // paying $0.01 a lap, as fast as the process runs: no flush timer fires meanwhile.
    const lap = async (i: number) => {
      const ask = { prompt: [{ role: 'user', content: `lap ${'abcdefghijklmnopqrst'[i]} notes` }] }
      const step = await guard.startModelCall({
        model: 'test-model',
        input: ask,
        maxOutputTokens: 10,
      })
      await step.run(async () => {})
      await step.finish({ usage: { inputTokens: 10, outputTokens: 5 }, toolCalls: [search] })
      await step.checkToolCall(search)
      await tools.runToolCall({ ...search, observe: false, priceUsd: 0.01 }, () => 'no pricing')
      const answer = await guard.startModelCall({
        model: 'test-model',
        input: ask,
        maxOutputTokens: 10,
      })
      await answer.run(async () => {})
      await answer.finish({ usage: { inputTokens: 10, outputTokens: 5 }, text: `not found ${i}` })
    }
    const refused = await (async () => {
      for (let i = 0; i < 20; i++) await lap(i)
    })().catch((error: unknown) => error)
    expect(refused).toBeInstanceOf(RunawayDetectedError)
    expect((refused as RunawayDetectedError).message).toContain('slow-loop')
    // Stopped once it had spent 3% of the cap, within a lap or two: not at 20%.
    expect((await ks.agents.get('agent')).spent).toBeLessThan(0.08)
  })

  it('16 workers on one agent calling the same tool per job (each job a run) are never refused', async () => {
    const { ks, credential } = await setup(50)
    const worker = async (w: number) => {
      const guard = ks.guard(credential)
      for (let job = 0; job < 20; job++) {
        const runId = `w${w}-job${job}`
        const config = await guard.beforeToolCall({
          name: 'get_config',
          args: { env: 'prod' },
          runId,
        })
        await guard.afterToolCall(config, { ok: true })
        const ticket = await guard.beforeModelCall({
          model: 'test-model',
          input: 'triage',
          maxOutputTokens: 100,
          runId,
        })
        await guard.afterModelCall(ticket, { usage: { inputTokens: 10, outputTokens: 10 } })
      }
    }
    await Promise.all(Array.from({ length: 16 }, (_, w) => worker(w)))
    expect((await ks.agents.get('agent')).status).toBe('active')
  })

  it('a paid tool hammered with a counter in its arguments is throttled at the 10th call, not revoked', async () => {
    const { ks, guard } = await setup(20)
    let refused: unknown
    let calls = 0
    for (let i = 0; i < 1_500 && refused === undefined; i++) {
      try {
        const ticket = await guard.beforeToolCall({
          name: 'paid_search',
          args: { q: 'acme corp', n: i },
          priceUsd: 0.01,
        })
        calls++
        await guard.afterToolCall(ticket, { ok: true })
      } catch (error) {
        refused = error
      }
    }
    expect(refused).toBeInstanceOf(RunawayDetectedError)
    expect(refused).toMatchObject({ detector: 'repeated-tool-call', action: 'block' })
    expect(calls).toBe(9)
    const agent = await ks.agents.get('agent')
    expect(agent.status).toBe('active')
    expect(agent.spent).toBeLessThan(2) // 10% of the cap
    // The throttle holds: the next call of the loop is refused too, without a new alert.
    await expect(
      guard.beforeToolCall({
        name: 'paid_search',
        args: { q: 'acme corp', n: 10 },
        priceUsd: 0.01,
      }),
    ).rejects.toMatchObject({ code: 'runaway_detected', action: 'block' })
  })

  it('an identical loop is revoked at the 5th call', async () => {
    const { ks, guard } = await setup(20)
    const outcomes: string[] = []
    for (let i = 0; i < 6; i++) {
      try {
        const ticket = await guard.beforeToolCall({ name: 'search', args: { q: 'acme corp' } })
        await guard.afterToolCall(ticket, { ok: true })
        outcomes.push('ok')
      } catch (error) {
        outcomes.push((error as { code: string }).code)
      }
    }
    expect(outcomes).toEqual(['ok', 'ok', 'ok', 'ok', 'runaway_detected', 'agent_revoked'])
    expect((await ks.agents.get('agent')).status).toBe('revoked')
  })
})
