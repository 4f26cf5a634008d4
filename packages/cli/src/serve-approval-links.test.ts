// `killswitch serve` given the approval link secret by environment serves the links with
// the grant TTL from its flag; a request whose Host names another site is refused.

import { request } from 'node:http'
import { approvalLinkUrl } from '@killswitch/core'
import { describe, expect, it } from 'vitest'
import { runCli } from './run-cli.js'
import { buffer, cliHarness } from './test-helpers.js'

const TOKEN = 'admin-token-0123456789abcdef'
const LINK_SECRET = 'link-secret-0123456789abcdef0123456789'

function rawGet(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', headers: { host } }, (response) => {
      response.resume()
      response.on('end', () => resolve(response.statusCode ?? 0))
    })
    req.on('error', reject)
    req.end()
  })
}

describe('killswitch serve: approval links', () => {
  it('serves the links with KILLSWITCH_APPROVAL_LINK_SECRET and --approval-grant-ttl', async () => {
    const { ks } = cliHarness()
    await ks.agents.create({ handle: 'a', spendingCap: 1, approvals: { enabled: true, waitMs: 0 } })
    await ks.store.openApproval({
      id: 'apr_1',
      handle: 'a',
      requestedMicros: 3_000_000,
      reason: 'past the cap',
      ttlMs: 60_000,
      now: Date.now(),
    })
    const stdout = buffer()
    const controller = new AbortController()
    const done = runCli(['serve', '--port', '0', '--quiet', '--approval-grant-ttl', '30m'], {
      stdout,
      stderr: buffer(),
      env: { KILLSWITCH_ADMIN_TOKEN: TOKEN, KILLSWITCH_APPROVAL_LINK_SECRET: LINK_SECRET },
      signal: controller.signal,
      openKillSwitch: async () => ({ killSwitch: ks, close: async () => {} }),
    })
    // Wait for the listening line (no clock involved: the server prints it once bound).
    let url: string | undefined
    while (url === undefined) {
      url = /listening on (http:\/\/\S+)/.exec(stdout.text())?.[1]
      if (url === undefined) await new Promise((resolve) => setImmediate(resolve))
    }
    try {
      const link = approvalLinkUrl(
        { baseUrl: url, secret: LINK_SECRET },
        'apr_1',
        'approve',
        Date.now() + 60_000,
      )
      const page = await fetch(link)
      expect(page.status).toBe(200)
      expect(await page.text()).toContain('a may spend up to $3.00 more, for 30 minutes.')
      expect(await rawGet(link, 'evil.example')).toBe(403)
      const form = new URLSearchParams({ shown: '3', by: 'alice' })
      const acted = await fetch(link, { method: 'POST', body: form })
      expect(acted.status).toBe(200)
      expect((await ks.approvals.get('apr_1')).grant?.amount).toBe(3)
    } finally {
      controller.abort()
      expect(await done).toBe(0)
      await ks.close()
    }
  })

  it('refuses a bad --approval-grant-ttl and a short secret, naming them', async () => {
    const run = async (argv: string[], env: Record<string, string>) => {
      const stderr = buffer()
      const code = await runCli(argv, { stdout: buffer(), stderr, env })
      return { code, stderr: stderr.text() }
    }
    const ttl = await run(
      ['--store', 'memory', 'serve', '--port', '0', '--approval-grant-ttl', 'soon'],
      {
        KILLSWITCH_ADMIN_TOKEN: TOKEN,
      },
    )
    expect(ttl.code).toBe(1)
    expect(ttl.stderr).toMatch(/--approval-grant-ttl/)
    // A grant the core would refuse (over 7 days, under a second) is refused at start, not
    // offered on every link's page to fail when clicked.
    for (const given of ['8d', '500ms']) {
      const out = await run(
        ['--store', 'memory', 'serve', '--port', '0', '--approval-grant-ttl', given],
        { KILLSWITCH_ADMIN_TOKEN: TOKEN },
      )
      expect(out.code).toBe(1)
      expect(out.stderr).toMatch(/--approval-grant-ttl.*out of range.*1s to 7d/)
    }
    const short = await run(['--store', 'memory', 'serve', '--port', '0'], {
      KILLSWITCH_ADMIN_TOKEN: TOKEN,
      KILLSWITCH_APPROVAL_LINK_SECRET: 'short',
    })
    expect(short.code).toBe(1)
    expect(short.stderr).toMatch(/approvalLinks\.secret.*openssl rand -hex 32/)
  })
})
