// `npm run demo` as a newcomer runs it: a real Node process on the built packages (npm test
// builds them first). The in-process test (main.test.ts) checks what happens; this one checks
// that the entry point runs on its own, exits 0 and leaves its database where it says.
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { expect, it } from 'vitest'

const main = fileURLToPath(new URL('./main.ts', import.meta.url))

it('runs as `node examples/demo/src/main.ts`, exits 0 and prints the story', async () => {
  const cwd = mkdtempSync(join(tmpdir(), 'killswitch-demo-process-'))
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [main], {
      cwd,
      env: { ...process.env, NO_COLOR: '1' },
      timeout: 60_000,
    })
    expect(stdout).toContain('REVOKED (by the runaway detector)')
    expect(stdout).toContain('401 agent_revoked')
    expect(stdout).toContain('State lives in .killswitch/demo.db')
    expect(stdout).not.toMatch(/ks_[A-Za-z0-9_-]{43}/)
    expect(existsSync(join(cwd, '.killswitch', 'demo.db'))).toBe(true)
  } finally {
    rmSync(cwd, { recursive: true, force: true })
  }
}, 60_000)
