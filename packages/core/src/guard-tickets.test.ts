// A ticket is a frozen view: only the ticket the guard issued ends its call. A copy or a
// look-alike (which could name another agent's hold) is refused with a typed error, and
// nothing is settled.
import { describe, expect, it } from 'vitest'
import { InvalidConfigError } from './errors.js'
import { outputHash } from './guard-tickets.js'
import { createKillSwitch } from './kill-switch.js'

async function setup() {
  const ks = createKillSwitch({
    prices: { m: { inputPerMTok: 1, outputPerMTok: 1 } },
    toolPrices: { search: 0.01 },
    runaway: false,
  })
  const { credential } = await ks.agents.create({ handle: 'a', spendingCap: 1 })
  return { ks, guard: ks.guard(credential) }
}

describe('tickets', () => {
  it('are frozen, and a copy of a model ticket settles nothing', async () => {
    const { ks, guard } = await setup()
    const ticket = await guard.beforeModelCall({ model: 'm', input: 'x', maxOutputTokens: 10 })
    expect(Object.isFrozen(ticket)).toBe(true)
    expect(() => {
      ;(ticket as { maxOutputTokens: number }).maxOutputTokens = 1_000
    }).toThrow(TypeError)
    const usage = { usage: { inputTokens: 1, outputTokens: 1 } }
    await expect(guard.afterModelCall({ ...ticket }, usage)).rejects.toThrow(InvalidConfigError)
    const lookAlike = Object.create(Object.getPrototypeOf(ticket))
    await expect(guard.afterModelCall(lookAlike, usage)).rejects.toThrow(InvalidConfigError)
    expect((await ks.agents.get('a')).held).toBeCloseTo(ticket.reservedUsd, 9)
    await guard.afterModelCall(ticket, usage)
    expect(await ks.agents.get('a')).toMatchObject({ held: 0, spent: 0.000002 })
  })

  it('of a spend and of a paid tool end their hold once; a copy is refused', async () => {
    const { ks, guard } = await setup()
    const spend = await guard.reserveSpend({ amountUsd: 0.05, kind: 'payment', description: 'x' })
    await expect(guard.settleSpend({ ...spend })).rejects.toThrow(InvalidConfigError)
    await guard.settleSpend(spend)
    const tool = await guard.beforeToolCall({ name: 'search', args: {} })
    // A copy of a tool ticket carries no spend: the real ticket still ends it.
    await guard.afterToolCall({ ...tool }, { ok: true })
    expect((await ks.agents.get('a')).held).toBeCloseTo(0.01, 9)
    await guard.afterToolCall(tool, { ok: true })
    await guard.afterToolCall(tool, { ok: true })
    expect(await ks.agents.get('a')).toMatchObject({ held: 0, spent: 0.06 })
  })
})

/** An AI SDK prompt whose latest turn is the result of tool call `id`: `output`. */
const afterTool = (id: string, output: string) => ({
  prompt: [
    { role: 'user', content: [{ type: 'text', text: 'Fix the failing tests' }] },
    {
      role: 'tool',
      content: [
        {
          type: 'tool-result',
          toolCallId: id,
          toolName: 'bash',
          output: { type: 'text', value: output },
        },
      ],
    },
  ],
})

describe('outputHash (no-progress)', () => {
  const plan = { toolCalls: [{ name: 'bash', args: { command: 'npm test' } }] }

  it('hashes a tool-call plan with the results it answers: the same plan after new results is progress', () => {
    const planAfter = (output: string, id: string) => outputHash(plan, afterTool(id, output))
    expect(planAfter('7 tests failing', 'call_1')).not.toBe(planAfter('6 tests failing', 'call_2'))
    // The same result under a new call id (every framework names each call anew) is the same.
    expect(planAfter('7 tests failing', 'call_1')).toBe(planAfter('7 tests failing', 'call_9'))
    // OpenAI chat and Anthropic name the call in their own keys.
    const chat = (id: string) => ({
      messages: [{ role: 'tool', tool_call_id: id, content: '7 tests failing' }],
    })
    expect(outputHash(plan, chat('a'))).toBe(outputHash(plan, chat('b')))
    const anthropic = (id: string) => ({
      messages: [
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: id, content: 'x' }] },
      ],
    })
    expect(outputHash(plan, anthropic('a'))).toBe(outputHash(plan, anthropic('b')))
    // The assistant message that asked names its calls `id` (OpenAI's wire and LangChain's
    // `tool_calls`, Anthropic's `tool_use`, Responses' `function_call`): left out too (red team
    // rt42a: a stuck createAgent loop read as new each lap ran to the cap); an `id` in the
    // arguments is the call's content, kept.
    const asked = (id: string, report: string) => ({
      messages: [
        { role: 'user', content: 'is the report ready?' },
        {
          role: 'assistant',
          content: [{ type: 'tool_use', id: `toolu_${id}`, name: 'get', input: { id: report } }],
          tool_calls: [{ id, name: 'get_report', args: { id: report } }],
        },
        { role: 'tool', tool_call_id: id, content: 'pending' },
      ],
    })
    expect(outputHash(plan, asked('call_a', 'r-1'))).toBe(outputHash(plan, asked('call_b', 'r-1')))
    expect(outputHash(plan, asked('call_a', 'r-1'))).not.toBe(
      outputHash(plan, asked('call_a', 'r-2')),
    )
    const responses = (id: string) => ({
      input: [{ type: 'function_call', id: `fc_${id}`, call_id: id, name: 'get', arguments: '{}' }],
    })
    expect(outputHash(plan, responses('a'))).toBe(outputHash(plan, responses('b')))
    // Other fields of the turn are kept, and the input itself is not changed.
    const input = afterTool('call_1', '7 tests failing')
    expect(outputHash(plan, input)).not.toBe(outputHash(plan, { prompt: [] }))
    expect(JSON.stringify(input)).toContain('call_1')
  })

  it('a coding agent running the same test after each edit is not revoked; the same results again are', async () => {
    const ks = createKillSwitch({ prices: { m: { inputPerMTok: 1, outputPerMTok: 1 } } })
    const { credential } = await ks.agents.create({ handle: 'coder', spendingCap: 10 })
    const guard = ks.guard(credential)
    const step = async (output: string, i: number) => {
      const input = afterTool(`call_${i}`, output)
      const ticket = await guard.beforeModelCall({
        model: 'm',
        input,
        maxOutputTokens: 10,
        runId: 'task-42',
      })
      await guard.afterModelCall(ticket, { usage: { inputTokens: 1, outputTokens: 1 }, ...plan })
    }
    for (let i = 0; i < 8; i++) await step(`${8 - i} tests failing`, i)
    expect((await ks.agents.get('coder')).status).toBe('active')
    const stuck = async () => {
      for (let i = 8; i < 16; i++) await step('3 tests failing', i)
    }
    await expect(stuck()).rejects.toMatchObject({ detector: 'no-progress' })
    expect((await ks.agents.get('coder')).status).toBe('revoked')
  })
})
