import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { InvalidConfigError } from '@killswitch/core'
import { describe, expect, it } from 'vitest'
import { parseProvidersFile, readProvidersFile } from './providers-file.js'

describe('providers file', () => {
  it('reads keys and base URLs for openai and anthropic', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gateway-providers-'))
    try {
      const path = join(dir, 'providers.json')
      writeFileSync(
        path,
        JSON.stringify({ openai: { apiKey: 'sk-file', baseURL: 'http://127.0.0.1:9/v1' } }),
      )
      expect(await readProvidersFile(path)).toEqual({
        openai: { apiKey: 'sk-file', baseURL: 'http://127.0.0.1:9/v1' },
      })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('trims a key read with a newline around it (a file saved by an editor), refuses a blank one', () => {
    expect(parseProvidersFile({ anthropic: { apiKey: 'sk-ant-file\n' } })).toEqual({
      anthropic: { apiKey: 'sk-ant-file' },
    })
    expect(() => parseProvidersFile({ anthropic: { apiKey: ' \n' } })).toThrow(
      expect.objectContaining({ field: 'providers.anthropic.apiKey' }),
    )
  })

  it('refuses unknown providers and fields, naming them, without echoing values', async () => {
    const field = (value: unknown) => {
      try {
        parseProvidersFile(value)
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidConfigError)
        expect((error as InvalidConfigError).message).not.toContain('sk-secret')
        return (error as InvalidConfigError).field
      }
      return undefined
    }
    expect(field({ openia: { apiKey: 'sk-secret' } })).toBe('providers.openia')
    expect(field({ openai: { api_key: 'sk-secret' } })).toBe('providers.openai.api_key')
    expect(field({ openai: { apiKey: '' } })).toBe('providers.openai.apiKey')
    expect(field([])).toBe('providers')
    await expect(readProvidersFile('/nonexistent/providers.json')).rejects.toBeInstanceOf(
      InvalidConfigError,
    )
  })
})
