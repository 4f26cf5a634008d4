import { describe, expect, it } from 'vitest'
import { CREDENTIAL_HEADER, credentialFromHeaders, generateCredential } from './credentials.js'

const from = (headers: Record<string, string>) => (name: string) => new Headers(headers).get(name)

describe('credentialFromHeaders', () => {
  const credential = generateCredential()

  it('reads the dedicated header first, taken as given (a wrong value is refused, not ignored)', () => {
    expect(credentialFromHeaders(from({ [CREDENTIAL_HEADER]: ` ${credential} ` }))).toBe(credential)
    expect(
      credentialFromHeaders(
        from({ [CREDENTIAL_HEADER]: 'typo', authorization: `Bearer ${credential}` }),
      ),
    ).toBe('typo')
  })

  it('reads a ks_ credential where SDKs send their key: Authorization Bearer, then x-api-key', () => {
    expect(credentialFromHeaders(from({ authorization: `bearer ${credential}` }))).toBe(credential)
    expect(credentialFromHeaders(from({ 'x-api-key': credential }))).toBe(credential)
    // A user's JWT in Authorization does not hide a credential in x-api-key.
    expect(
      credentialFromHeaders(from({ authorization: 'Bearer eyJ.x.y', 'x-api-key': credential })),
    ).toBe(credential)
  })

  it('takes no other token for a credential', () => {
    expect(credentialFromHeaders(from({ authorization: 'Bearer eyJ.x.y' }))).toBeUndefined()
    expect(credentialFromHeaders(from({ authorization: `Basic ${credential}` }))).toBeUndefined()
    expect(credentialFromHeaders(from({ 'x-api-key': 'sk-provider-key' }))).toBeUndefined()
    expect(credentialFromHeaders(from({}))).toBeUndefined()
  })
})
