// The paid search API the researcher calls, as a small HTTP service of your own would run it:
// Hono on Node, with the kill switch's server middleware (from @killswitch/mastra, the same
// one Mastra's server takes) in front. Every request carries the agent's credential; a
// revoked one is refused with 401 before any handler runs, whoever replays it.
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import type { KillSwitch } from '@killswitch/core'
import { AGENT_HANDLE_KEY, CREDENTIAL_HEADER, killSwitchServerMiddleware } from '@killswitch/mastra'
import { Hono } from 'hono'
import { pause } from './scripted.ts'

/** What a call to the search API got back. */
export interface SearchApiResponse {
  status: number
  body: unknown
}

/** A request the search API answered, as its access log would show it. */
export interface SearchApiAnswer {
  status: number
  /** The agent the credential belongs to; absent when the credential was refused. */
  handle?: string
}

/** The running search API. */
export interface SearchApi {
  url: string
  /** Every request it answered, in order. */
  readonly answered: readonly SearchApiAnswer[]
  /** Searches with an agent credential, as the researcher's tool (or anyone holding it) does. */
  search(credential: string, query: string): Promise<SearchApiResponse>
  close(): Promise<void>
}

/**
 * Starts the search API on 127.0.0.1 (a free port).
 *
 * @example
 * const api = await startSearchApi({ killSwitch: ks, latencyMs: 60 })
 * const { status } = await api.search(credential, 'agent budgets') // 200, or 401 once revoked
 */
export async function startSearchApi(options: {
  killSwitch: KillSwitch
  /** How long a search takes: a real search API is not instant. */
  latencyMs: number
}): Promise<SearchApi> {
  const answered: SearchApiAnswer[] = []
  const app = new Hono<{ Variables: { [AGENT_HANDLE_KEY]: string } }>()
  // The access log, outside the kill switch so that it sees the refusals too.
  app.use('*', async (c, next) => {
    await next()
    const handle = c.get(AGENT_HANDLE_KEY)
    answered.push({ status: c.res.status, ...(handle === undefined ? {} : { handle }) })
  })
  // `required`: this API is for agents only, so a request without a credential is refused too.
  app.use('*', killSwitchServerMiddleware({ killSwitch: options.killSwitch, required: true }))
  app.post('/v1/search', async (c) => {
    const { query } = await c.req.json<{ query: string }>()
    await pause(options.latencyMs)
    return c.json({
      agent: c.get(AGENT_HANDLE_KEY),
      query,
      results: [`${query}: 10 results`],
    })
  })
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' })
  await new Promise<void>((resolve) => server.once('listening', () => resolve()))
  const { port } = server.address() as AddressInfo
  const url = `http://127.0.0.1:${port}`

  return {
    url,
    answered,
    async search(credential, query) {
      const response = await fetch(`${url}/v1/search`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [CREDENTIAL_HEADER]: credential },
        body: JSON.stringify({ query }),
      })
      return { status: response.status, body: await response.json() }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        if ('closeAllConnections' in server) server.closeAllConnections()
      }),
  }
}
