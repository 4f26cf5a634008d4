// Provider keys from a JSON file, for deployments that keep secrets in a mounted file rather
// than in the environment: { "openai": { "apiKey": "...", "baseURL": "..." }, "anthropic": {...} }.
// Anything else in it is refused, naming the field, so a typo never silently drops a key.
import { readFile } from 'node:fs/promises'
import { InvalidConfigError } from '@killswitch/core'
import type { ProviderConfig } from './providers.js'

/** The providers a file configures. */
export interface ProvidersFile {
  openai?: ProviderConfig
  anthropic?: ProviderConfig
}

const PROVIDERS = new Set(['openai', 'anthropic'])
const FIELDS = new Set(['apiKey', 'baseURL'])

/** Checks parsed JSON as a providers file; the error names the offending field. */
export function parseProvidersFile(value: unknown): ProvidersFile {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidConfigError('providers', 'The providers file must hold a JSON object.')
  }
  const result: ProvidersFile = {}
  for (const [name, config] of Object.entries(value)) {
    if (!PROVIDERS.has(name)) {
      throw new InvalidConfigError(
        `providers.${name}`,
        `Unknown provider "${name}" in the providers file: openai or anthropic.`,
      )
    }
    if (typeof config !== 'object' || config === null || Array.isArray(config)) {
      throw new InvalidConfigError(`providers.${name}`, `providers.${name} must be an object.`)
    }
    const provider: ProviderConfig = {}
    for (const [field, setting] of Object.entries(config)) {
      if (!FIELDS.has(field)) {
        throw new InvalidConfigError(
          `providers.${name}.${field}`,
          `Unknown field providers.${name}.${field}: apiKey or baseURL.`,
        )
      }
      if (typeof setting !== 'string' || setting.trim() === '') {
        throw new InvalidConfigError(
          `providers.${name}.${field}`,
          `providers.${name}.${field} must be a non-empty string.`,
        )
      }
      // Trimmed as the gateway sends it: a file saved with a trailing newline still works.
      provider[field as keyof ProviderConfig] = setting.trim()
    }
    result[name as keyof ProvidersFile] = provider
  }
  return result
}

/** Reads and checks a providers file. Its content is never echoed in an error. */
export async function readProvidersFile(path: string): Promise<ProvidersFile> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'unreadable'
    throw new InvalidConfigError('providers', `Cannot read the providers file ${path} (${code}).`)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new InvalidConfigError('providers', `The providers file ${path} is not valid JSON.`)
  }
  return parseProvidersFile(parsed)
}
