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
    // An allow-list: kinds the core has never heard of are the provider's.
    [
      'an OpenAI shell in a hosted container',
      { input: 'x', tools: [{ type: 'shell', environment: { type: 'container_auto' } }] },
      'shell',
    ],
    [
      'an AI SDK shell in a hosted container',
      {
        prompt: [],
        tools: [
          {
            type: 'provider',
            id: 'openai.shell',
            args: { environment: { type: 'containerAuto' } },
          },
        ],
      },
      'openai.shell',
    ],
    [
      'xAI X search',
      { prompt: [], tools: [{ type: 'provider', id: 'xai.x_search' }] },
      'xai.x_search',
    ],
    [
      'an AI SDK 5 provider-defined tool',
      { prompt: [], tools: [{ type: 'provider-defined', id: 'google.vertex_rag_store' }] },
      'google.vertex_rag_store',
    ],
    ['a type in other case', { input: 'x', tools: [{ type: 'Web_Search' }] }, 'Web_Search'],
    [
      'Gemini enterprise search',
      { contents: [], tools: [{ enterpriseWebSearch: {} }] },
      'enterpriseWebSearch',
    ],
    [
      'Gemini retrieval',
      { contents: [], tools: [{ retrieval: { vertexAiSearch: {} } }] },
      'retrieval',
    ],
    [
      'MCP servers in provider options',
      { prompt: [], options: { anthropic: { mcpServers: [{ url: 'https://m' }] } } },
      'mcpServers',
    ],
    [
      'a tool list in the params a LangChain handler passes',
      { messages: [], request: { model: 'm', tools: [{ type: 'web_search_preview' }] } },
      'web_search_preview',
    ],
  ])('(%s) is refused naming it, before anything is held', async (_name, input, named) => {
    const { ks, guard } = await guardFor()
    const refused = await guard.startModelCall({ model: 'm', input }).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(UnknownModelPriceError)
    expect((refused as Error).message).toContain(`tool "${named}" the provider runs itself`)
    expect((refused as Error).message).toContain('Fix: run the tool in the agent')
    expect(await ks.agents.get('a')).toMatchObject({ spent: 0, held: 0 })
  })

  it.each<[string, unknown]>([
    [
      'a function tool named like one',
      { input: 'x', tools: [{ type: 'function', name: 'web_search', parameters: {} }] },
    ],
    [
      'a function tool with parameters named like them',
      {
        prompt: [],
        tools: [
          {
            type: 'function',
            name: 'lookup',
            inputSchema: {
              type: 'object',
              properties: {
                file_search: { type: 'string' },
                mcp_servers: { type: 'array' },
                tools: { type: 'array' },
              },
            },
          },
        ],
      },
    ],
    [
      'a conversation whose tool calls carry such names in their arguments',
      {
        prompt: [
          {
            role: 'assistant',
            content: [
              {
                type: 'tool-call',
                toolName: 'note',
                input: { type: 'web_search', mcp_servers: ['x'], code_execution: true },
              },
            ],
          },
        ],
      },
    ],
    [
      'a message that mentions them',
      { messages: [{ role: 'user', content: 'use web_search or an mcp server' }] },
    ],
    [
      'Anthropic client tools',
      {
        messages: [],
        tools: [
          { type: 'bash_20250124', name: 'bash' },
          { name: 'notes', input_schema: {} },
        ],
      },
    ],
    [
      'a local shell',
      {
        input: 'x',
        tools: [{ type: 'shell', environment: { type: 'local' } }, { type: 'local_shell' }],
      },
    ],
    [
      'Gemini function declarations',
      { contents: [], tools: [{ functionDeclarations: [{ name: 'f' }] }] },
    ],
    [
      'AI SDK client provider tools',
      {
        prompt: [],
        tools: [
          { type: 'provider', id: 'anthropic.bash_20250124' },
          { type: 'provider', id: 'openai.apply_patch' },
        ],
      },
    ],
  ])('%s is served', async (_name, input) => {
    const { guard } = await guardFor()
    const call = await guard.startModelCall({ model: 'm', input })
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
