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
})
