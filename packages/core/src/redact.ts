// Credentials (`ks_` + 43 base64url characters) must never be echoed: not in an error that
// quotes what was typed (a credential pasted where a handle goes), not in a CLI line, an API
// body or an access log. Anything shaped like one (a truncated paste included) is replaced
// before it can be shown. A word boundary in front keeps names such as `tasks_manager`.

const CREDENTIAL_LIKE = /(?<![A-Za-z0-9_-])ks_[A-Za-z0-9_-]{12,}/g
// The same pattern without the global flag: `test` on a /g regex is stateful.
const CREDENTIAL_TEST = new RegExp(CREDENTIAL_LIKE.source)

/** What a redacted credential is shown as. */
export const REDACTED_CREDENTIAL = 'ks_[redacted]'

/**
 * Replaces everything shaped like an agent credential with `ks_[redacted]`.
 *
 * @example
 * redactCredentials('No agent has the handle "ks_Zm9vYmFy..."') // 'No agent has the handle "ks_[redacted]"'
 */
export function redactCredentials(text: string): string {
  return text.replace(CREDENTIAL_LIKE, REDACTED_CREDENTIAL)
}

/**
 * True when the text holds something shaped like an agent credential.
 *
 * @example
 * if (containsCredential(handle)) throw new InvalidConfigError('handle', 'paste the handle, not the credential')
 */
export function containsCredential(text: string): boolean {
  return CREDENTIAL_TEST.test(text)
}
