// Requests whose cost no hold can bound: refused with a 400 naming the field before anything
// is held or forwarded (background responses, service tiers without rates, tools the
// provider runs itself, MCP servers), while the same requests without them are forwarded as
// they were. A beta that lifts the context window past the price data's is not forwarded.
import type { IncomingMessage } from 'node:http'
import type { KillSwitch } from '@killswitch/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from './start-gateway.js'
import { scriptedGateway } from './testing/scripted-gateway.js'

interface Forwarded {
  path: string
  headers: IncomingMessage['headers']
  body: Record<string, unknown>
}

const USAGE = { input_tokens: 10, output_tokens: 2, prompt_tokens: 10, completion_tokens: 2 }
const ANTHROPIC = { 'anthropic-version': '2023-06-01' }

describe('requests whose cost no hold can bound', () => {
  let ks: KillSwitch
  let gateway: RunningGateway
  let close: () => Promise<void>
  const forwarded: Forwarded[] = []

  beforeAll(async () => {
    ;({ ks, gateway, close } = await scriptedGateway((request, response) => {
      void (async () => {
        let text = ''
        for await (const chunk of request) text += String(chunk)
        const body = JSON.parse(text) as Record<string, unknown>
        forwarded.push({ path: request.url ?? '', headers: request.headers, body })
        response.writeHead(200, { 'content-type': 'application/json' })
        response.end(
          JSON.stringify({
            id: 'x',
            type: 'message',
            content: [{ type: 'text', text: 'ok' }],
            choices: [{ index: 0, message: { role: 'assistant', content: 'ok' } }],
            output: [],
            usage: USAGE,
          }),
        )
      })()
    }))
  })
  afterAll(() => close())

  let agents = 0
  async function post(path: string, body: object, headers: Record<string, string> = {}) {
    const handle = `unbounded-${++agents}`
    const { credential } = await ks.agents.create({ handle, spendingCap: 1 })
    forwarded.length = 0
    const response = await fetch(`${gateway.url}${path}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${credential}`,
        'content-type': 'application/json',
        ...headers,
      },
      body: JSON.stringify(body),
    })
    const answer = (await response.json()) as {
      error: { code?: string; param?: string | null; type: string; message: string }
    }
    return { status: response.status, error: answer.error, money: await ks.agents.get(handle) }
  }

  const responses = (fields: object) => ({ model: 'gpt-4o', input: 'hi', ...fields })
  const chat = (fields: object) => ({
    model: 'gpt-4o',
    messages: [{ role: 'user', content: 'hi' }],
    ...fields,
  })
  const messages = (fields: object) => ({
    model: 'claude-sonnet-4-0',
    max_tokens: 100,
    messages: [{ role: 'user', content: 'hi' }],
    ...fields,
  })
  const searchTool = { type: 'web_search_20250305', name: 'web_search', max_uses: 5 }

  it.each<[string, string, object, string, RegExp]>([
    [
      'a background response',
      '/v1/responses',
      responses({ background: true, stream: true }),
      'background',
      /keeps running/,
    ],
    [
      'the priority tier (responses)',
      '/v1/responses',
      responses({ service_tier: 'priority' }),
      'service_tier',
      /billed above the standard rates/,
    ],
    [
      'the priority tier (chat)',
      '/v1/chat/completions',
      chat({ service_tier: 'priority' }),
      'service_tier',
      /billed above the standard rates/,
    ],
    [
      'the scale tier',
      '/v1/chat/completions',
      chat({ service_tier: 'scale' }),
      'service_tier',
      /billed above the standard rates/,
    ],
    [
      'web search on the search models',
      '/v1/chat/completions',
      chat({ web_search_options: {} }),
      'web_search_options',
      /web searches/,
    ],
    [
      'hosted web search',
      '/v1/responses',
      responses({
        tools: [{ type: 'function', name: 'f', parameters: {} }, { type: 'web_search' }],
      }),
      'tools[1].type',
      /runs this tool itself/,
    ],
    ...[
      'file_search',
      'mcp',
      'code_interpreter',
      'image_generation',
      'web_search_preview_2025_03_11',
    ].map(
      (type) =>
        [
          `a hosted ${type} tool`,
          '/v1/responses',
          responses({ tools: [{ type }] }),
          'tools[0].type',
          /function tool/,
        ] as [string, string, object, string, RegExp],
    ),
  ])(
    '%s: 400 naming the field, nothing held, spent or forwarded',
    async (_name, path, body, param, message) => {
      const { status, error, money } = await post(path, body)
      expect(status).toBe(400)
      expect(error).toMatchObject({
        code: 'unsupported_parameter',
        param,
        type: 'invalid_request_error',
      })
      expect(error.message).toContain(param)
      expect(error.message).toMatch(message)
      expect(money).toMatchObject({ spent: 0, held: 0 })
      expect(forwarded).toHaveLength(0)
    },
  )

  it.each([
    ['web_search', { tools: [searchTool] }, 'tools[0].type', /client tool/],
    [
      'web_fetch',
      { tools: [{ type: 'web_fetch_20250910', name: 'web_fetch' }] },
      'tools[0].type',
      /client tool/,
    ],
    [
      'code_execution',
      {
        tools: [
          { name: 'f', input_schema: {} },
          { type: 'code_execution_20250825', name: 'code_execution' },
        ],
      },
      'tools[1].type',
      /client tool/,
    ],
    [
      'an MCP server',
      { mcp_servers: [{ type: 'url', url: 'https://mcp.example.com/sse', name: 'x' }] },
      'mcp_servers',
      /MCP server/,
    ],
    ['fast mode', { speed: 'fast' }, 'speed', /several times/],
    ['inference pinned to a region', { inference_geo: 'us' }, 'inference_geo', /region/],
    [
      'compaction',
      { context_management: { edits: [{ type: 'compact_20260112' }] } },
      'context_management.edits[0].type',
      /second pass/,
    ],
    [
      'server-side fallbacks to another model',
      { fallbacks: [{ model: 'claude-opus-4-1', max_tokens: 64_000 }] },
      'fallbacks',
      /another model/,
    ],
  ])(
    'anthropic %s: 400 naming the field, nothing forwarded',
    async (_name, fields, param, message) => {
      const { status, error, money } = await post('/v1/messages', messages(fields), ANTHROPIC)
      expect(status).toBe(400)
      expect(error.type).toBe('invalid_request_error')
      expect(error.message).toContain(param)
      expect(error.message).toMatch(message)
      expect(money).toMatchObject({ spent: 0, held: 0 })
      expect(forwarded).toHaveLength(0)
    },
  )

  it('chat: a search model (searches every call, billed per search) is refused naming model', async () => {
    const { status, error, money } = await post(
      '/v1/chat/completions',
      chat({ model: 'gpt-4o-mini-search-preview' }),
    )
    expect(status).toBe(400)
    expect(error).toMatchObject({ code: 'unsupported_parameter', param: 'model' })
    expect(money).toMatchObject({ spent: 0, held: 0 })
    expect(forwarded).toHaveLength(0)
  })

  it('chat: audio output only from a model whose prices hold it, never at the text rate', async () => {
    // The bundled data prices gpt-4o-audio-preview's text only: refused, nothing held.
    const unpriced = chat({ model: 'gpt-4o-audio-preview', modalities: ['text', 'audio'] })
    const refused = await post('/v1/chat/completions', unpriced)
    expect(refused.status).toBe(422)
    expect(refused.error.message).toContain('media output')
    expect(forwarded).toHaveLength(0)
    // gpt-audio's audio output rates are in the data: forwarded, held at them.
    const priced = chat({ model: 'gpt-audio', modalities: ['text', 'audio'] })
    expect((await post('/v1/chat/completions', priced)).status).toBe(200)
    expect(forwarded).toHaveLength(1)
  })

  it('forwards client-run tools and the tiers billed at most at standard rates', async () => {
    const fn = { type: 'function', function: { name: 'f', parameters: { type: 'object' } } }
    for (const tier of ['auto', 'default', 'flex']) {
      expect(
        (await post('/v1/chat/completions', chat({ service_tier: tier, tools: [fn] }))).status,
      ).toBe(200)
      expect(forwarded[0]?.body.service_tier).toBe(tier)
    }
    const tools = [
      { type: 'function', name: 'f', parameters: {} },
      { type: 'custom', name: 'g' },
      // The agent performs the actions and sends the screenshots back itself.
      { type: 'computer_use_preview', display_width: 1024, display_height: 768 },
    ]
    const background = { background: false, service_tier: 'flex', tools }
    expect((await post('/v1/responses', responses(background))).status).toBe(200)
    expect(forwarded[0]?.body).toMatchObject(background)
    const clientTools = [
      { name: 'lookup', input_schema: { type: 'object' } },
      { type: 'custom', name: 'g', input_schema: { type: 'object' } },
      { type: 'bash_20250124', name: 'bash' },
      { type: 'text_editor_20250728', name: 'str_replace_based_edit_tool' },
    ]
    const allowed = messages({
      tools: clientTools,
      mcp_servers: [],
      fallbacks: [],
      speed: 'standard',
      inference_geo: 'global',
      context_management: { edits: [{ type: 'clear_tool_uses_20250919' }] },
    })
    expect((await post('/v1/messages', allowed, ANTHROPIC)).status).toBe(200)
    expect(forwarded[0]?.body.tools).toEqual(clientTools)
  })

  it('drops the 1M-context beta from anthropic-beta, keeping the others', async () => {
    const beta = { ...ANTHROPIC, 'anthropic-beta': 'context-1m-2025-08-07, files-api-2025-04-14' }
    expect((await post('/v1/messages', messages({}), beta)).status).toBe(200)
    expect(forwarded[0]?.headers['anthropic-beta']).toBe('files-api-2025-04-14')
    const only = { ...ANTHROPIC, 'anthropic-beta': 'Context-1M-2025-08-07' }
    expect((await post('/v1/messages', messages({}), only)).status).toBe(200)
    expect(forwarded[0]?.headers).not.toHaveProperty('anthropic-beta')
  })
})
