import { describe, expect, it } from 'vitest'
import {
  CREDENTIAL_HEADER,
  credentialFromHeaders,
  generateCredential,
  isWellFormedCredential,
} from './credentials.js'

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
    expect(credentialFromHeaders(from({ 'x-api-key': 'sk-provider-key' }))).toBeUndefined()
    // A provider key whose characters happen to contain ks_ is not one.
    expect(credentialFromHeaders(from({ 'x-api-key': 'sk-proj-abks_12345' }))).toBeUndefined()
    expect(credentialFromHeaders(from({}))).toBeUndefined()
  })

  // Red team r21: a revoked credential written any other way passed a service's edge as an
  // anonymous request, and one beside a valid credential passed as the valid agent.
  it('never overlooks a ks_ credential for how it is written', () => {
    for (const authorization of [
      `Bearer ${credential}, Bearer ${credential}`, // the header sent twice, joined
      credential, // no scheme
      `Token ${credential}`,
      `Basic ${credential}`,
      `Bearer "${credential}"`,
    ]) {
      expect(credentialFromHeaders(from({ authorization }))).toBe(credential)
    }
  })

  it('refuses two different credentials rather than choose one', () => {
    const other = generateCredential()
    const both: Array<Record<string, string>> = [
      { [CREDENTIAL_HEADER]: other, authorization: `Bearer ${credential}` },
      { [CREDENTIAL_HEADER]: other, 'x-api-key': credential },
      { authorization: `Bearer ${credential}`, 'x-api-key': other },
    ]
    for (const headers of both) {
      const read = credentialFromHeaders(from(headers))
      expect(read).not.toBe(credential)
      expect(read).not.toBe(other)
      expect(isWellFormedCredential(read)).toBe(false)
    }
    // The same credential in two places is one.
    const same = { [CREDENTIAL_HEADER]: credential, authorization: `Bearer ${credential}` }
    expect(credentialFromHeaders(from(same))).toBe(credential)
    // A quoted one in the dedicated header is taken as given: malformed, refused.
    expect(
      isWellFormedCredential(
        credentialFromHeaders(from({ [CREDENTIAL_HEADER]: `"${credential}"` })),
      ),
    ).toBe(false)
  })
})
