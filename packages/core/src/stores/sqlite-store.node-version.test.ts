// On a Node without node:sqlite (npm only warns about `engines`), the sqlite store says which
// Node it needs, not "No such built-in module".
import { describe, expect, it, vi } from 'vitest'
import { StoreUnavailableError } from '../errors.js'

vi.mock('node:module', async (original) => {
  const actual = await original<typeof import('node:module')>()
  return {
    ...actual,
    createRequire: (from: string | URL) => {
      const load = actual.createRequire(from)
      return (id: string) => {
        if (id !== 'node:sqlite') return load(id)
        // What Node 20 throws for it.
        throw Object.assign(new Error('No such built-in module: node:sqlite'), {
          code: 'ERR_UNKNOWN_BUILTIN_MODULE',
        })
      }
    },
  }
})

describe('the sqlite store on a Node without node:sqlite', () => {
  it('refuses to open, naming the Node it needs', async () => {
    const { sqliteStore } = await import('./sqlite-store.js')
    const error = (() => {
      try {
        sqliteStore(':memory:')
      } catch (thrown) {
        return thrown
      }
    })()
    expect(error).toBeInstanceOf(StoreUnavailableError)
    expect((error as Error).message).toContain('needs Node 22.13 or later')
    expect((error as Error).message).toContain(`Node ${process.versions.node}`)
  })
})
