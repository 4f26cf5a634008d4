// The provider keys and base URLs the gateway holds. Read from options or from the
// environment under the official SDKs' own names, so an existing deployment's variables
// work unchanged. The keys never leave this module except in the upstream request headers
// (and in the redaction that masks them in what the gateway passes on).
import { InvalidConfigError } from '@killswitch/core'
import { KeyRedactor, redactKey } from './key-redaction.js'

/** One upstream provider: its key and where it is served. */
export interface ProviderConfig {
  /** The provider API key. Optional for an upstream that needs none (a local server). */
  apiKey?: string
  /** Default: `https://api.openai.com/v1` for OpenAI, `https://api.anthropic.com` for Anthropic. */
  baseURL?: string
}

/** A provider the gateway can call. */
export interface Upstream {
  readonly name: 'openai' | 'anthropic'
  /** The base URL without a trailing slash. */
  readonly baseURL: string
  /** Headers that authenticate the gateway to the provider. */
  authHeaders(): Record<string, string>
  /** Replaces the key wherever it appears in text from the provider. */
  redact(text: string): string
  /** The same for text that arrives in pieces (a stream), where the key may be split. */
  redactor(): KeyRedactor
}

const DEFAULTS = {
  openai: 'https://api.openai.com/v1',
  anthropic: 'https://api.anthropic.com',
} as const

const ENV_NAMES = {
  openai: { key: 'OPENAI_API_KEY', url: 'OPENAI_BASE_URL' },
  anthropic: { key: 'ANTHROPIC_API_KEY', url: 'ANTHROPIC_BASE_URL' },
} as const

/**
 * Ports fetch refuses to connect to (the Fetch standard's "bad ports"): a base URL on one
 * would fail every call before it connects, so it is refused when the gateway starts.
 * https://fetch.spec.whatwg.org/#port-blocking
 */
const BAD_PORTS = new Set([
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102,
  103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465,
  512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993,
  995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668,
  6669, 6679, 6697, 10080,
])

function checkedBaseURL(name: string, value: string): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new InvalidConfigError(`${name}.baseURL`, `Invalid ${name}.baseURL: not a URL.`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidConfigError(
      `${name}.baseURL`,
      `Invalid ${name}.baseURL: http: or https: is required (got ${url.protocol}).`,
    )
  }
  if (url.username || url.password) {
    throw new InvalidConfigError(
      `${name}.baseURL`,
      `Invalid ${name}.baseURL: credentials in the URL would leak into logs; give the key as apiKey.`,
    )
  }
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80))
  if (BAD_PORTS.has(port)) {
    throw new InvalidConfigError(
      `${name}.baseURL`,
      `Invalid ${name}.baseURL: fetch refuses to connect to port ${port} (a blocked port of the Fetch standard), so every call would fail; serve the provider on another port.`,
    )
  }
  return url.href.replace(/\/+$/, '')
}

/**
 * The upstream for a provider, from options first, then the environment; undefined when
 * neither gives a key or a base URL (the gateway then refuses that API's routes).
 */
export function resolveUpstream(
  name: 'openai' | 'anthropic',
  config: ProviderConfig | undefined,
  env: Record<string, string | undefined>,
): Upstream | undefined {
  const names = ENV_NAMES[name]
  const givenKey = config?.apiKey ?? (env[names.key] || undefined)
  const rawURL = config?.baseURL ?? (env[names.url] || undefined)
  if (givenKey === undefined && rawURL === undefined) return undefined
  if (givenKey !== undefined && (typeof givenKey !== 'string' || givenKey.trim() === '')) {
    throw new InvalidConfigError(`${name}.apiKey`, `Invalid ${name}.apiKey: a non-empty string.`)
  }
  // fetch strips the whitespace around a header value (a secret file's trailing newline), so
  // the provider gets the trimmed key: that one value is sent and masked, or an upstream
  // echoing it would hand the agent a key the redaction never looks for.
  const apiKey = givenKey?.trim()
  if (apiKey?.startsWith('ks_')) {
    throw new InvalidConfigError(
      `${name}.apiKey`,
      `Invalid ${name}.apiKey: that is a kill switch credential; the gateway needs the provider's own key.`,
    )
  }
  const baseURL = checkedBaseURL(name, rawURL ?? DEFAULTS[name])
  const headers: Record<string, string> =
    apiKey === undefined
      ? {}
      : name === 'openai'
        ? { authorization: `Bearer ${apiKey}` }
        : { 'x-api-key': apiKey }
  return {
    name,
    baseURL,
    authHeaders: () => ({ ...headers }),
    redact: (text) => redactKey(text, apiKey),
    redactor: () => new KeyRedactor(apiKey),
  }
}
