// A hold id is typed after `killswitch reconcile <handle>`: one starting with "-" was read as
// an option there (red team rt34: 1 process in 64 drew such a prefix).
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { newHoldId } from './hold-id.js'

describe('newHoldId', () => {
  it('is unique within a process', () => {
    const ids = new Set(Array.from({ length: 1_000 }, () => newHoldId()))
    expect(ids.size).toBe(1_000)
  })

  it('never starts with "-", whatever prefix a process draws', () => {
    // 600 fresh instances of the module (as 600 processes): about 9 drew "-" before.
    const module = JSON.stringify(fileURLToPath(new URL('./hold-id.ts', import.meta.url)))
    const script = `for (let i = 0; i < 600; i++) console.log((await import(${module} + '?' + i)).newHoldId())`
    const ids = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
    })
      .trim()
      .split('\n')
    expect(new Set(ids).size).toBe(600)
    expect(ids.filter((id) => id.startsWith('-'))).toEqual([])
  })
})
