import { InvalidConfigError } from '@killswitch/core'
import { describe, expect, it } from 'vitest'
import { resolveUpstream } from './providers.js'

const KEY = 'sk-test-secret'
const upstream = (baseURL: string) => resolveUpstream('openai', { apiKey: KEY, baseURL }, {})

describe('resolveUpstream', () => {
  it('refuses a base URL on a port fetch will not connect to, naming the field', async () => {
    for (const port of [1, 9, 6000, 10080]) {
      const baseURL = `http://127.0.0.1:${port}/v1`
      // The reason: fetch fails such a URL before connecting, so every call would fail.
      const refusal = await fetch(baseURL).catch((error: Error) => error.cause)
      expect(refusal).toMatchObject({ message: 'bad port' })
      let thrown: unknown
      try {
        upstream(baseURL)
      } catch (error) {
        thrown = error
      }
      expect(thrown).toBeInstanceOf(InvalidConfigError)
      expect(thrown).toMatchObject({ field: 'openai.baseURL' })
      expect((thrown as Error).message).toContain(`port ${port}`)
      expect((thrown as Error).message).not.toContain(KEY)
    }
  })

  it('takes a base URL on any other port, and the default ports of http and https', () => {
    expect(upstream('http://127.0.0.1:2/v1/')?.baseURL).toBe('http://127.0.0.1:2/v1')
    expect(upstream('http://localhost/v1')?.baseURL).toBe('http://localhost/v1')
    expect(upstream('https://api.example.com/v1')?.baseURL).toBe('https://api.example.com/v1')
  })

  it('trims the key once: the header sent and the redaction use the same value', () => {
    const upstream = (apiKey: string) =>
      resolveUpstream('anthropic', { apiKey }, {}) as NonNullable<
        ReturnType<typeof resolveUpstream>
      >
    for (const apiKey of [`${KEY}\n`, `${KEY}\r\n`, `\t${KEY} `]) {
      expect(upstream(apiKey).authHeaders()).toEqual({ 'x-api-key': KEY })
      expect(upstream(apiKey).redact(`echo ${KEY}.`)).toBe('echo [redacted].')
      const redactor = upstream(apiKey).redactor()
      expect(redactor.push(`echo ${KEY.slice(0, 4)}`) + redactor.push(`${KEY.slice(4)}.`)).toBe(
        'echo [redacted].',
      )
    }
    const env = { OPENAI_API_KEY: `${KEY}\n` }
    expect(resolveUpstream('openai', undefined, env)?.authHeaders()).toEqual({
      authorization: `Bearer ${KEY}`,
    })
    // Empty once trimmed, or a credential behind a space: still refused, naming the field.
    for (const apiKey of [' \n', '\t', ` ks_${'A'.repeat(43)}`]) {
      expect(() => resolveUpstream('openai', { apiKey }, {})).toThrow(
        expect.objectContaining({ field: 'openai.apiKey' }),
      )
    }
  })
})
