// Credentials (`ks_` + 43 base64url characters) must never be echoed: not in an error that
// quotes what was typed (a credential pasted where a handle goes), not in a CLI line, an API
// body or an access log. Anything shaped like one (a truncated paste included) is replaced
// before it can be shown. A word boundary in front keeps names such as `tasks_manager`.

// A whole credential is masked wherever it stands, glued to other text too (`xks_...`).
// So is its body pasted without the prefix: 43 base64url characters standing alone, with
// both lower and upper case letters (random base64url lacks one about once in 3 billion; a
// name of exactly 43 characters mixing cases is rare), which no handle may be either.
const CREDENTIAL_LIKE =
  /(?<![A-Za-z0-9_-])ks_[A-Za-z0-9_-]{12,}|ks_[A-Za-z0-9_-]{43}|(?<![A-Za-z0-9_-])(?=[\w-]{0,42}[a-z])(?=[\w-]{0,42}[A-Z])[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/g
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

// Free text from outside (a provider's or a tool's error message) may carry any secret: a URL
// with `?key=`, a bearer token, a provider key. No pattern knows every key, so the shapes keys
// share are masked: the user info and query of URLs, the value after a secret-named field,
// and any long run mixing letters and digits (keys, tokens, JWT parts, signatures).
const SECRET_SHAPES: ReadonlyArray<readonly [RegExp, string]> = [
  [/(\b[a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]*@/gi, '$1[redacted]@'],
  [/\?[^\s"'<>)]+/g, '?[redacted]'],
  // An authorization scheme and its credential (not the word "token" in prose).
  [/\b(bearer|basic)\s+[^\s"',;]+/gi, '$1 [redacted]'],
  [
    /\b([\w-]*(?:key|token|secret|passw(?:or)?d|auth\w*|signature|credential)["']?\s*[:=]\s*["']?)[^\s"',;&]+/gi,
    '$1[redacted]',
  ],
]
const LONG_RUN = /[A-Za-z0-9_+/=-]{20,}/g
const mixed = (run: string) => /\d/.test(run) && /[A-Za-z]/.test(run)

/** The most characters a stored reason keeps (a revocation's, an approval's denial). */
const MAX_REASON_LENGTH = 500

/**
 * A reason as it is stored, audited, alerted and shown to the agent (a revocation's, a
 * denial's; an operator's or a detector's): people paste what they saw into it (the leaked
 * key itself), so anything shaped like a credential or a secret is masked, before the cut (a
 * key across it is masked whole).
 */
export function storedReason(reason: string): string {
  return redactSecrets(reason.slice(0, 2 * MAX_REASON_LENGTH)).slice(0, MAX_REASON_LENGTH)
}

/** What a masked secret is shown as. */
export const REDACTED = '[redacted]'

/**
 * Masks agent credentials and everything shaped like another secret in free text from
 * outside, before it is kept (the audit log) or shown.
 *
 * @example
 * redactSecrets('GET https://api.example.com/v1?key=AIzaSyD-abc123 failed: 403')
 * // 'GET https://api.example.com/v1?[redacted] failed: 403'
 */
export function redactSecrets(text: string): string {
  let masked = redactCredentials(text)
  for (const [shape, replacement] of SECRET_SHAPES) masked = masked.replace(shape, replacement)
  return masked.replace(LONG_RUN, (run) => (mixed(run) ? REDACTED : run))
}
