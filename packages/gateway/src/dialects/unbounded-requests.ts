// Requests whose cost no hold can bound, refused with a 400 naming the field before anything
// is held or sent. A hold is sized from the request body and the model's prices; each of
// these makes the provider bill what neither says:
// - a tool the provider runs itself (web search, web fetch, code execution, file search, an
//   MCP server...) bills per use and reads its results back as input, several times within
//   one request, none of it in the body;
// - a background response keeps running, and billing, at the provider after the gateway
//   has cut its stream or the agent was revoked;
// - an option billed above the standard rates the price data holds (a priority tier, fast
//   mode, regional inference, fallbacks) bills above the rates the call is held and settled
//   at: the core's rule (`billedApartOption`).
// A tool the agent runs itself (a function tool) stays bounded: its result comes back in the
// body of the agent's next request, where the hold sees it.
import { billedApartOption, isSearchModel } from '@killswitch/core'
import type { GatewayError } from '../api-errors.js'
import { type JsonBody, record } from './dialect.js'

/** A 400 about one request field, in the API's own error shape (OpenAI's `param`). */
export function unsupportedParameter(param: string, message: string): GatewayError {
  return { status: 400, code: 'unsupported_parameter', param, message }
}

function present(value: unknown): boolean {
  return value !== undefined && value !== null
}

/**
 * Refuses every tool whose type `clientRun` does not accept: an allow-list, so a server-run
 * tool the gateway does not know yet is refused rather than forwarded unbounded.
 */
export function refuseServerTools(
  body: JsonBody,
  clientRun: (type: string | undefined) => boolean,
  instead: string,
): void {
  if (!Array.isArray(body.tools)) return
  for (const [index, tool] of body.tools.entries()) {
    const type = record(tool)?.type
    if (typeof type === 'string' || type === undefined) {
      if (clientRun(type)) continue
    }
    const shown = JSON.stringify(type) ?? 'undefined'
    throw unsupportedParameter(
      `tools[${index}].type`,
      `Unsupported tools[${index}].type ${shown}: the provider runs this tool itself, bills each use and reads its results back as input within the one request, so the gateway cannot bound its cost. ${instead}`,
    )
  }
}

/** Refuses `field` unless it is absent, null or one of `allowed`. */
export function refuseUnless(
  body: JsonBody,
  field: string,
  allowed: readonly unknown[],
  why: string,
): void {
  const value = body[field]
  if (!present(value) || allowed.includes(value)) return
  throw unsupportedParameter(field, `Unsupported ${field} ${JSON.stringify(value)}: ${why}`)
}

/**
 * Options billed above the standard rates the price data holds (a priority service tier,
 * fast mode, regional inference, fallbacks to another model): the core's rule, in every API.
 */
export function refuseBilledApart(body: JsonBody): void {
  const option = billedApartOption(body)
  if (option === undefined) return
  throw unsupportedParameter(
    option.field,
    `Unsupported ${option.field} ${JSON.stringify(option.value)}: ${option.why}, so the gateway cannot bound its cost. Fix: ${option.fix}.`,
  )
}

/** Anthropic's `mcp_servers`: the provider connects to them and bills what they return. */
export function refuseMcpServers(body: JsonBody): void {
  const servers = body.mcp_servers
  if (!present(servers) || (Array.isArray(servers) && servers.length === 0)) return
  throw unsupportedParameter(
    'mcp_servers',
    'Unsupported mcp_servers: the provider calls these MCP servers itself and bills their tool definitions and results as input the request does not carry, so the gateway cannot bound its cost. Connect to the MCP server in the agent and pass its tools as client tools.',
  )
}

/**
 * Anthropic's compaction (`context_management.edits[].type` compact_*): the provider runs a
 * second pass over the conversation, billed apart from the usage it reports.
 */
export function refuseCompaction(body: JsonBody): void {
  const edits = record(body.context_management)?.edits
  if (!Array.isArray(edits)) return
  for (const [index, edit] of edits.entries()) {
    const type = record(edit)?.type
    if (typeof type === 'string' && type.toLowerCase().startsWith('compact')) {
      throw unsupportedParameter(
        `context_management.edits[${index}].type`,
        `Unsupported context_management.edits[${index}].type ${JSON.stringify(type)}: compaction runs a second pass over the conversation, billed apart from the usage the response reports, so the gateway cannot bound its cost. Compact the conversation in the agent instead.`,
      )
    }
  }
}

/** Models that search the web on every call and bill each search (OpenAI's search models). */
export function refuseSearchModel(body: JsonBody): void {
  const model = body.model
  if (typeof model !== 'string' || !isSearchModel(model)) return
  throw unsupportedParameter(
    'model',
    `Unsupported model ${JSON.stringify(model)}: a search model searches the web on every call and bills each search apart from its tokens, so the gateway cannot bound its cost. Search in the agent and pass the results in the messages.`,
  )
}
