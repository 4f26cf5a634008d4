import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { generateCredential } from './credentials.js'
import {
  containsCredential,
  REDACTED_CREDENTIAL,
  redactCredentials,
  redactSecrets,
} from './redact.js'

describe('redactCredentials', () => {
  it('replaces a whole or truncated credential anywhere in the text', () => {
    const credential = generateCredential()
    expect(redactCredentials(`No agent has the handle "${credential}".`)).toBe(
      `No agent has the handle "${REDACTED_CREDENTIAL}".`,
    )
    expect(redactCredentials(`GET /v1/agents/${credential.slice(0, 20)}/audit`)).toBe(
      `GET /v1/agents/${REDACTED_CREDENTIAL}/audit`,
    )
    expect(redactCredentials(`?token=${credential}&a=${credential}`)).toBe(
      `?token=${REDACTED_CREDENTIAL}&a=${REDACTED_CREDENTIAL}`,
    )
  })

  it('replaces a whole credential glued to other text (a handle pasted around one)', () => {
    const credential = generateCredential()
    expect(redactCredentials(`x${credential}`)).toBe(`x${REDACTED_CREDENTIAL}`)
    expect(redactCredentials(`tasks_${credential.slice(3)}`)).toBe(`tas${REDACTED_CREDENTIAL}`)
    expect(containsCredential(`agent-${credential}`)).toBe(true)
  })

  it('replaces a credential pasted without its ks_ prefix (43 characters alone), and refuses it as a handle', () => {
    fc.assert(
      fc.property(fc.constantFrom(' ', '/', '"', "'", '\n', '='), (edge) => {
        const body = generateCredential().slice(3)
        expect(redactCredentials(`GET /v1/agents${edge}${body}${edge}404`)).toBe(
          `GET /v1/agents${edge}${REDACTED_CREDENTIAL}${edge}404`,
        )
        expect(containsCredential(body)).toBe(true)
      }),
    )
    // A name is not a credential: shorter, longer, one case, or glued to more characters.
    for (const text of ['researcher-agent-2024-q3', 'a'.repeat(43), `x${'Ab1'.repeat(15)}`]) {
      expect(redactCredentials(text)).toBe(text)
    }
  })

  it('leaves names that merely contain "ks_" alone', () => {
    for (const text of ['tasks_manager_agent_for_billing', 'ks_short', 'thanks_a_lot_everyone']) {
      expect(redactCredentials(text)).toBe(text)
      expect(containsCredential(text)).toBe(false)
    }
  })

  it('never lets a generated credential through, whatever surrounds it', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (before, after) => {
        const credential = generateCredential()
        const out = redactCredentials(`${before} ${credential}${after.replace(/^[\w-]/, ' ')}`)
        expect(out).not.toContain(credential.slice(3))
        expect(containsCredential(`${before} ${credential}`)).toBe(true)
      }),
    )
  })
})

describe('redactSecrets', () => {
  it.each([
    [
      'GET https://www.googleapis.com/customsearch/v1?key=AIzaSyD-FAKEkey1234567890abcdefghij&q=acme failed: 403',
      'GET https://www.googleapis.com/customsearch/v1?[redacted] failed: 403',
    ],
    [
      'fetch https://user:hunter2@proxy.example.com/v1/chat failed',
      'fetch https://[redacted]@proxy.example.com/v1/chat failed',
    ],
    [
      '401: Authorization: Bearer abc.def.ghi rejected',
      '401: Authorization: [redacted] [redacted] rejected',
    ],
    ['bad api_key: "hunter2" for account', 'bad api_key: "[redacted]" for account'],
    ['invalid x-api-key=plainword', 'invalid x-api-key=[redacted]'],
    [
      'Incorrect API key provided: sk-proj-FAKE0123456789abcdefghij.',
      'Incorrect API key provided: [redacted].',
    ],
    ['upstream said ghp_16C7e42F292c6912E7710c838347Ae178B4a', 'upstream said [redacted]'],
  ])('masks %j', (text, masked) => {
    expect(redactSecrets(text)).toBe(masked)
  })

  it.each([
    'ECONNRESET: socket hang up',
    'Rate limit reached for requests, retry after 20s',
    'ERR_STREAM_PREMATURE_CLOSE while reading the response',
    'tool search_documents failed: 503 Service Unavailable',
    'GET https://api.example.com/v1/jobs/status failed: 500',
    'token budget blown on the summariser',
  ])('leaves a message without secrets as it is: %j', (text) => {
    expect(redactSecrets(text)).toBe(text)
  })

  it('never lets a credential or a mixed key through, whatever surrounds it', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (before, after) => {
        const credential = generateCredential()
        const key = `sk-${credential.slice(3, 30)}9a`
        const masked = redactSecrets(`${before} ${credential} ${key} ${after}`)
        expect(masked).not.toContain(credential.slice(3, 23))
        expect(masked).not.toContain(key.slice(3, 23))
      }),
    )
  })
})
