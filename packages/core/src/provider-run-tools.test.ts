// A tool the provider runs itself bills each use apart from the tokens (a search, a container
// session, another model's tokens), as often as the provider likes within one call: no hold
// bounds it, so the call is refused before anything is held, whatever wire format names it.
// So is a model that searches the web on every call.
import { describe, expect, it } from 'vitest'
import { UnknownModelPriceError } from './errors.js'
import { createKillSwitch } from './kill-switch.js'

const PRICE = { inputPerMTok: 1, outputPerMTok: 1, contextWindow: 128_000 }

async function guardFor() {
  const ks = createKillSwitch({
    runaway: false,
    prices: { m: PRICE, 'gpt-4o-search-preview': PRICE, 'text-search-embed': PRICE },
  })
  const { credential } = await ks.agents.create({ handle: 'a', spendingCap: 100 })
  return { ks, guard: ks.guard(credential) }
}

describe('a tool the provider runs itself', () => {
  it.each<[string, unknown, string]>([
    ['OpenAI web search', { input: 'x', tools: [{ type: 'web_search' }] }, 'web_search'],
    [
      'OpenAI code interpreter',
      { input: 'x', tools: [{ type: 'code_interpreter', container: { type: 'auto' } }] },
      'code_interpreter',
    ],
    ['OpenAI remote MCP', { input: 'x', tools: [{ type: 'mcp', server_url: 'https://m' }] }, 'mcp'],
    [
      'Anthropic web search with max_uses',
      { messages: [], tools: [{ type: 'web_search_20250305', name: 's', max_uses: 5 }] },
      'web_search_20250305',
    ],
    [
      'Anthropic advisor (another model)',
      { messages: [], tools: [{ type: 'advisor_20260301', name: 'advisor', model: 'x' }] },
      'advisor_20260301',
    ],
    [
      'Anthropic MCP servers',
      { messages: [], mcp_servers: [{ type: 'url', url: 'https://m' }] },
      'mcp_servers',
    ],
    ['Gemini google search', { contents: [], tools: [{ googleSearch: {} }] }, 'googleSearch'],
    [
      'an AI SDK provider tool',
      { prompt: [], tools: [{ type: 'provider', id: 'openai.web_search', name: 'web_search' }] },
      'openai.web_search',
    ],
  ])('(%s) is refused naming it, before anything is held', async (_name, input, named) => {
    const { ks, guard } = await guardFor()
    const refused = await guard.startModelCall({ model: 'm', input }).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(UnknownModelPriceError)
    expect((refused as Error).message).toContain(`tool "${named}" the provider runs itself`)
    expect((refused as Error).message).toContain('Fix: run the tool in the agent')
    expect(await ks.agents.get('a')).toMatchObject({ spent: 0, held: 0 })
  })

  it('a function tool, which the agent runs, is served', async () => {
    const { guard } = await guardFor()
    const tools = [{ type: 'function', name: 'web_search', parameters: {} }]
    const call = await guard.startModelCall({ model: 'm', input: { input: 'x', tools } })
    await call.run(async () => {})
    await call.finish({ usage: { inputTokens: 10, outputTokens: 5 } })
  })
})

describe('a search model', () => {
  it('is refused: it searches, and bills each search, on every call', async () => {
    const { guard } = await guardFor()
    const refused = await guard
      .startModelCall({ model: 'gpt-4o-search-preview', input: 'news?' })
      .catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(UnknownModelPriceError)
    expect((refused as Error).message).toContain('web searches')
  })

  it('an embedding call to a model named for search is served (no output, no searching)', async () => {
    const { guard } = await guardFor()
    const call = await guard.startModelCall({
      model: 'text-search-embed',
      input: 'x',
      inputOnly: true,
    })
    await call.run(async () => {})
    await call.finish({ usage: { inputTokens: 3 } })
  })
})
