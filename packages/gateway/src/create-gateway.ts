// The gateway as a Hono app: OpenAI and Anthropic routes in front of the providers, every
// model call through the agent's guard. Agents authenticate with their `ks_` credential;
// the provider keys stay here.
import { type KillSwitch, refuseUnknownKeys } from '@killswitch/core'
import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { agentCredential } from './agent-credential.js'
import { type ApiFamily, errorResponse, type GatewayError, toGatewayError } from './api-errors.js'
import { anthropicMessages } from './dialects/anthropic-messages.js'
import type { Dialect, JsonBody } from './dialects/dialect.js'
import { record as asRecord, badRequest } from './dialects/dialect.js'
import { openaiChat } from './dialects/openai-chat.js'
import { openaiEmbeddings } from './dialects/openai-embeddings.js'
import { openaiResponses } from './dialects/openai-responses.js'
import { forwardFree } from './free-route.js'
import { GuardCache } from './guard-cache.js'
import { forwardModelCall } from './guarded-forward.js'
import { type ProviderConfig, resolveUpstream, type Upstream } from './providers.js'
import { formatRequestLine, type RequestRecord } from './request-log.js'
import { allowedOrigins, forwardPaid, type X402Options, x402Target } from './x402-route.js'

/** Options of createGateway. */
export interface GatewayOptions {
  /** The kill switch whose guards admit, cap and revoke the agents. */
  killSwitch: Pick<KillSwitch, 'guard'>
  /** OpenAI (or a compatible server). Default: OPENAI_API_KEY and OPENAI_BASE_URL. */
  openai?: ProviderConfig
  /** Anthropic. Default: ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL. */
  anthropic?: ProviderConfig
  /** Where the provider variables are read. Default: process.env. */
  env?: Record<string, string | undefined>
  /** The fetch used to call the providers. Default: globalThis.fetch. */
  fetch?: typeof fetch
  /** Receives one line per request (no credential, key, header or body in it). */
  log?: (line: string) => void
  /** Receives unexpected errors (a provider unreachable, a store failing at settlement). */
  onError?: (error: unknown) => void
  /** The largest request body accepted, in bytes. Default 32 MiB. */
  maxBodyBytes?: number
  /** The clock for request durations (tests). Default: performance.now. */
  now?: () => number
  /**
   * Paid HTTP (x402) at `/x402/<target URL>`: the gateway holds the wallet and pays for
   * the agent under its cap. Off unless given.
   */
  x402?: X402Options
}

const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024

const ROUTES: ReadonlyArray<readonly [string, Dialect]> = [
  ['/v1/chat/completions', openaiChat],
  ['/v1/responses', openaiResponses],
  ['/v1/embeddings', openaiEmbeddings],
  ['/v1/messages', anthropicMessages],
]

function notConfigured(name: string): GatewayError {
  const upper = name.toUpperCase()
  return {
    status: 503,
    code: 'provider_not_configured',
    message: `The gateway has no ${name} upstream: its operator must set ${upper}_API_KEY (or ${upper}_BASE_URL).`,
  }
}

/**
 * Creates the gateway app. Serve it with `startGateway`, or mount `app.fetch` anywhere.
 *
 * @example
 * const ks = createKillSwitch({ store: sqliteStore('killswitch.db') })
 * const app = createGateway({ killSwitch: ks }) // provider keys from OPENAI_API_KEY, ANTHROPIC_API_KEY
 * // agents: new OpenAI({ baseURL: 'http://127.0.0.1:8788/v1', apiKey: 'ks_...' })
 */
/** Every option of `createGateway`: another is refused, never ignored. */
export const GATEWAY_OPTIONS = [
  'killSwitch',
  'openai',
  'anthropic',
  'env',
  'fetch',
  'log',
  'onError',
  'maxBodyBytes',
  'now',
  'x402',
] as const satisfies ReadonlyArray<keyof GatewayOptions>

export function createGateway(options: GatewayOptions): Hono {
  // A misspelled provider (`providers: {...}`) would answer every call 503, not configured.
  refuseUnknownKeys(options ?? {}, GATEWAY_OPTIONS, 'createGateway')
  const env = options.env ?? process.env
  const upstreams: Record<'openai' | 'anthropic', Upstream | undefined> = {
    openai: resolveUpstream('openai', options.openai, env),
    anthropic: resolveUpstream('anthropic', options.anthropic, env),
  }
  const guards = new GuardCache(options.killSwitch)
  const doFetch = options.fetch ?? globalThis.fetch
  const now = options.now ?? (() => performance.now())
  const log = options.log
  const onError =
    options.onError ??
    ((error: unknown) =>
      console.warn('[killswitch gateway]', error instanceof Error ? error.message : error))
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES

  const app = new Hono()

  /** Serves one request: the credential first, then `run`; any refusal in the API's shape. */
  const serve = async (
    request: Request,
    family: ApiFamily,
    run: (credential: string, record: RequestRecord, finish: () => void) => Promise<Response>,
  ): Promise<Response> => {
    const record: RequestRecord = {
      method: request.method,
      path: new URL(request.url).pathname,
      startedAt: now(),
    }
    let logged = false
    const finish = () => {
      if (logged) return
      logged = true
      if (log) log(formatRequestLine(record, now()))
    }
    try {
      const response = await run(agentCredential(request.headers), record, finish)
      record.status = response.status
      if (!record.deferred) finish()
      return response
    } catch (error) {
      const refusal = toGatewayError(error)
      if (refusal.status >= 500 && refusal.code === 'gateway_error') onError(error)
      record.status = refusal.status
      record.outcome ??= refusal.code
      finish()
      return errorResponse(family, refusal)
    }
  }

  app.get('/health', (c) =>
    c.json({
      status: 'ok',
      upstreams: {
        openai: upstreams.openai !== undefined,
        anthropic: upstreams.anthropic !== undefined,
      },
    }),
  )

  /**
   * Every route that takes a body reads at most maxBodyBytes of it: 413 past that, once the
   * credential is admitted (a revoked or unknown one gets its 401 whatever it sent), logged.
   */
  const limitBody = (family: ApiFamily) =>
    bodyLimit({
      maxSize: maxBodyBytes,
      onError: (c) =>
        serve(c.req.raw, family, async (credential, record) => {
          record.handle = (await guards.admit(credential)).handle
          throw {
            status: 413,
            code: 'request_too_large',
            message: `The request body is larger than the gateway accepts (${maxBodyBytes} bytes).`,
          } satisfies GatewayError
        }),
    })

  for (const [path, dialect] of ROUTES) {
    app.post(path, limitBody(dialect.family), (c) =>
      serve(c.req.raw, dialect.family, async (credential, record, finish) => {
        // Admitted before the body is read: a revoked credential gets 401, whatever it sent.
        const { guard, handle } = await guards.admit(credential)
        record.handle = handle
        const upstream = upstreams[dialect.provider]
        if (!upstream) throw notConfigured(dialect.provider)
        const body = await readJson(c.req.raw)
        return forwardModelCall({
          guard,
          dialect,
          upstream,
          body,
          headers: c.req.raw.headers,
          fetch: doFetch,
          clientSignal: c.req.raw.signal,
          record,
          finish,
          onError,
        })
      }),
    )
  }

  // Listing models and counting tokens spend nothing, but a revoked agent is refused here too.
  const free = (fixed?: ApiFamily) => (c: { req: { raw: Request } }) => {
    const request = c.req.raw
    const family: ApiFamily =
      fixed ?? (request.headers.has('anthropic-version') ? 'anthropic' : 'openai')
    return serve(request, family, async (credential, record) => {
      record.handle = (await guards.admit(credential)).handle
      const upstream = upstreams[family]
      if (!upstream) throw notConfigured(family)
      return forwardFree({ request, family, upstream, fetch: doFetch, onError })
    })
  }
  app.get('/v1/models', free())
  app.get('/v1/models/:model{.+}', free())
  app.post('/v1/messages/count_tokens', limitBody('anthropic'), free('anthropic'))

  const x402 = options.x402
  if (x402) {
    const origins = allowedOrigins(x402.origins)
    app.all('/x402/*', limitBody('openai'), (c) =>
      serve(c.req.raw, 'openai', async (credential, record) => {
        record.handle = (await guards.admit(credential)).handle
        const target = x402Target(c.req.raw, origins)
        record.path = `/x402/${target.origin}${target.pathname}`
        const response = await forwardPaid(c.req.raw, target, x402.payingFetch(credential))
        const paid =
          response.headers.has('payment-response') || response.headers.has('x-payment-response')
        record.outcome = paid ? 'paid' : undefined
        return response
      }),
    )
  }

  app.notFound((c) => {
    const family: ApiFamily = c.req.raw.headers.has('anthropic-version') ? 'anthropic' : 'openai'
    return errorResponse(family, {
      status: 404,
      code: 'not_found',
      message: `The gateway does not serve ${c.req.method} ${c.req.path}.`,
    })
  })

  return app
}

async function readJson(request: Request): Promise<JsonBody> {
  let parsed: unknown
  try {
    parsed = JSON.parse(await request.text())
  } catch {
    throw badRequest('The request body is not valid JSON.')
  }
  const body = asRecord(parsed)
  if (!body) throw badRequest('The request body must be a JSON object.')
  return body
}
