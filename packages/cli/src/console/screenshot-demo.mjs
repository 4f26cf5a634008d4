// Takes the README's screenshot of the console during the demo's incident (not part of the
// package, not a test): runs `npm run demo`'s scenario in its own process, serves the console
// on the demo's sqlite file meanwhile, and photographs it the moment the looping researcher
// passes 80% of its cap, while the other agents work on.
//
//   npm run setup && npm run x -- node packages/cli/src/console/screenshot-demo.mjs
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createKillSwitch, sqliteStore } from '@killswitch/core'
import { chromium } from 'playwright-core'
import { startAdminServer } from '../../dist/index.js'

const root = fileURLToPath(new URL('../../../../', import.meta.url))
const out = fileURLToPath(new URL('../../docs/console-demo-incident.png', import.meta.url))
const token = 'demo-screenshot-token-0123456789'
const dir = mkdtempSync(join(tmpdir(), 'killswitch-demo-shot-'))
const dbPath = join(dir, '.killswitch', 'demo.db')

const demo = spawn(process.execPath, [join(root, 'examples/demo/src/main.ts')], {
  cwd: dir,
  env: { ...process.env, NO_COLOR: '1' },
  stdio: 'inherit',
})
const demoDone = new Promise((resolve) => demo.once('close', resolve))
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
while (!existsSync(dbPath)) await pause(10)
// The demo is creating its database: open it once the demo lets go of the lock.
let ks
for (;;) {
  try {
    ks = createKillSwitch({ store: sqliteStore(dbPath) })
    await ks.agents.list()
    break
  } catch {
    await ks?.close().catch(() => {})
    ks = undefined
    await pause(20)
  }
}
const server = await startAdminServer({ killSwitch: ks, token, port: 0 })
const browser = await chromium.launch({
  executablePath: process.env.KILLSWITCH_CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox'],
})
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 620 } })
  await page.goto(server.url)
  await page.getByLabel('Admin token').fill(token)
  await page.getByRole('button', { name: 'Sign in' }).click()
  // The looping researcher past 80% of its cap: alerted, and stopped by the loop detector.
  await page
    .locator('#agents tbody tr[data-handle="researcher-agent-7"] .bar .pct', {
      hasText: /^(8|9)\d%$/,
    })
    .waitFor({ timeout: 60_000 })
  await page.screenshot({ path: out })
  console.log(`wrote ${out}`)
} finally {
  await browser.close()
  await demoDone
  await server.close()
  await ks.close()
  rmSync(dir, { recursive: true, force: true })
}
