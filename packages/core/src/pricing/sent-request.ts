// What the provider was really sent, against what was held. An adapter holds for the request
// it sees; anything between it and the provider (a middleware inside the kill switch, such as
// the AI SDK's defaultSettingsMiddleware) can change the request after the hold: raise its
// output limit, add an option billed apart or a tool the provider runs itself. A provider
// client reports the body it sent (the AI SDK's `request.body`): read in the APIs' own
// fields, it shows what left. One rule for every adapter that can see it.
import { billedApartOption } from './billed-apart.js'
import { serverToolIn } from './server-tools.js'
import { LIMIT_KEYS } from './wire-output-limit.js'

type Fields = Record<string, unknown>

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : undefined
}

function fieldsOf(body: unknown): Fields | undefined {
  if (typeof body === 'string') {
    try {
      return fieldsOf(JSON.parse(body))
    } catch {
      return undefined
    }
  }
  return body !== null && typeof body === 'object' && !Array.isArray(body)
    ? (body as Fields)
    : undefined
}

/**
 * How the sent `body` asks for more than a hold of `maxOutputTokens` output tokens covers
 * (a larger output limit, for all its choices; an option billed apart; a tool the provider
 * runs itself), named for the error; undefined when it asks for no more, or is not known.
 *
 * @example
 * beyondHold({ max_completion_tokens: 60_000 }, 900) // 'max_completion_tokens 60000 (900 held)'
 */
export function beyondHold(body: unknown, maxOutputTokens: number): string | undefined {
  const fields = fieldsOf(body)
  if (fields === undefined) return undefined
  const config = fieldsOf(fields.generationConfig)
  const choices = count(fields.n) ?? count(config?.candidateCount) ?? 1
  for (const key of LIMIT_KEYS) {
    const limit = count(fields[key])
    if (limit !== undefined && limit * choices > maxOutputTokens) {
      return `${key} ${limit}${choices > 1 ? ` x ${choices} choices` : ''} (${maxOutputTokens} held)`
    }
  }
  const configured = count(config?.maxOutputTokens)
  if (configured !== undefined && configured * choices > maxOutputTokens) {
    return `generationConfig.maxOutputTokens ${configured} (${maxOutputTokens} held)`
  }
  const option = billedApartOption(fields)
  if (option) return `${option.field} ${JSON.stringify(option.value)}`
  const tool = Array.isArray(fields.tools) ? serverToolIn(fields.tools) : undefined
  return tool === undefined ? undefined : `tool "${tool}" the provider runs itself`
}
