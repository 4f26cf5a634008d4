// Reads a request body as JSON or form data, turning a malformed body into a 400 that
// names the problem instead of a 500.

import { InvalidConfigError } from '@killswitch/core'
import type { Context } from 'hono'

/**
 * Reads the body: `json` requires a JSON content type; `form-or-json` also accepts
 * `application/x-www-form-urlencoded` (as RFC 7662 introspection clients send).
 *
 * @example
 * const body = schema.parse(await readBody(c, 'json'))
 */
export async function readBody(
  c: Context,
  kind: 'json' | 'form-or-json',
  options: { allowEmpty?: boolean } = {},
): Promise<unknown> {
  const type = (c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
  const text = await c.req.text()
  if (text.trim() === '' && options.allowEmpty) return {}
  if (kind === 'form-or-json' && type === 'application/x-www-form-urlencoded') {
    return Object.fromEntries(new URLSearchParams(text))
  }
  if (type !== 'application/json') {
    throw new InvalidConfigError(
      'body',
      `Send a JSON body with "Content-Type: application/json"${kind === 'form-or-json' ? ' (or form-encoded)' : ''}; got ${type === '' ? 'no content type' : `"${type}"`}.`,
    )
  }
  try {
    return JSON.parse(text)
  } catch {
    throw new InvalidConfigError('body', 'The request body is not valid JSON.')
  }
}
