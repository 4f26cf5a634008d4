// The provider keys and base URLs the gateway holds. Read from options or from the
// environment under the official SDKs' own names, so an existing deployment's variables
// work unchanged. The keys never leave this module except in the upstream request headers.
import { InvalidConfigError } from '@killswitch/core'

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
}

const DEFAULTS = {
  openai: 'https://api.openai.com/v1',
  anthropic: 'https://api.anthropic.com',
} as const

const ENV_NAMES = {
  openai: { key: 'OPENAI_API_KEY', url: 'OPENAI_BASE_URL' },
  anthropic: { key: 'ANTHROPIC_API_KEY', url: 'ANTHROPIC_BASE_URL' },
} as const

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
  const apiKey = config?.apiKey ?? (env[names.key] || undefined)
  const rawURL = config?.baseURL ?? (env[names.url] || undefined)
  if (apiKey === undefined && rawURL === undefined) return undefined
  if (apiKey !== undefined && (typeof apiKey !== 'string' || apiKey.trim() === '')) {
    throw new InvalidConfigError(`${name}.apiKey`, `Invalid ${name}.apiKey: a non-empty string.`)
  }
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
    redact: (text) => (apiKey === undefined ? text : text.split(apiKey).join('[redacted]')),
  }
}
