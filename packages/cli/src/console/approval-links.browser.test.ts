// Approval links in a real headless Chromium: a person opens the link an alert carried, gives
// their name and clicks. Red team rt42b: under `Referrer-Policy: no-referrer` the browser
// posted the page's own form with `Origin: null`, refused as cross-site, so no click ever
// approved or denied; tests that posted without an Origin header never saw it.
import { approvalLinkUrl, createKillSwitch, type KillSwitch, memoryStore } from '@killswitch/core'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AdminServer, startAdminServer } from '../admin-server.js'
import { launchChromium } from './browser-harness.js'

const TOKEN = 'links-test-token-0123456789abcdef'
const SECRET = 'link-secret-0123456789abcdef0123456789'
const WAIT = { timeout: 15_000 }

let browser: Browser
let ks: KillSwitch
let server: AdminServer

beforeAll(async () => {
  browser = await launchChromium()
  ks = createKillSwitch({ store: memoryStore() })
  await ks.agents.create({ handle: 'asker', spendingCap: 1, approvals: { enabled: true } })
  server = await startAdminServer({
    killSwitch: ks,
    token: TOKEN,
    port: 0,
    approvalLinks: { secret: SECRET },
  })
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await server?.close()
  await ks?.close()
})

async function pending(id: string) {
  await ks.store.openApproval({
    id,
    handle: 'asker',
    requestedMicros: 2_000_000,
    reason: 'past the cap',
    ttlMs: 600_000,
    now: Date.now(),
  })
  const link = (action: 'approve' | 'deny') =>
    approvalLinkUrl({ baseUrl: server.url, secret: SECRET }, id, action, Date.now() + 600_000)
  return { approve: link('approve'), deny: link('deny') }
}

describe('approval links in a browser', () => {
  for (const action of ['approve', 'deny'] as const) {
    it(`${action === 'approve' ? 'approves' : 'denies'} with one click and the name given, recorded with the decision`, async () => {
      const id = `apr_browser_${action}`
      const links = await pending(id)
      const page = await browser.newPage()
      try {
        await page.goto(links[action])
        await page.getByLabel('Your name').fill('alice')
        await page.getByRole('button').click()
        const title = action === 'approve' ? 'Approved' : 'Denied'
        await page.getByRole('heading', { name: title }).waitFor(WAIT)
      } finally {
        await page.close()
      }
      expect(await ks.approvals.get(id)).toMatchObject({
        status: action === 'approve' ? 'approved' : 'denied',
        decidedBy: 'alice (approval link)',
      })
    })
  }
})
