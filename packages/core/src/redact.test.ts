import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { generateCredential } from './credentials.js'
import { containsCredential, REDACTED_CREDENTIAL, redactCredentials } from './redact.js'

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
