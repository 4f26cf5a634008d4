// The console in a real headless Chromium (the system's, driven by playwright-core): sign-in,
// spend equal to `killswitch agents list` and what is available equal to `ks.verify`, live
// updates when another process spends, the Revoke button cutting a stream in flight in
// another process, what limits an agent (a shared budget), its unreconciled spend, and text
// an agent chose shown escaped. The server runs here; the
// spending and streaming agents run in their own processes on the same sqlite file.
// Screenshots for the README are written when UPDATE_SCREENSHOTS=1.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  createKillSwitch,
  type KillSwitch,
  RevocationUnreplicatedError,
  sqliteStore,
} from '@killswitch/core'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AdminServer, startAdminServer } from '../admin-server.js'
import { CLI_DIR, launchChromium, runCli, runScript } from './browser-harness.js'
import { usd } from './console-rows.js'

const TOKEN = 'console-test-token-0123456789abcdef'
const SCREENSHOTS = process.env.UPDATE_SCREENSHOTS === '1' ? join(CLI_DIR, 'docs') : undefined
// Long enough for a loaded machine; every wait below ends as soon as its condition holds.
const WAIT = { timeout: 15_000 }

let dir: string
let storePath: string
let ks: KillSwitch
let server: AdminServer
let browser: Browser
let context: BrowserContext
let page: Page

const prices = { 'test-model': { inputPerMTok: 1, outputPerMTok: 1 } }

beforeAll(async () => {
  browser = await launchChromium()
  dir = mkdtempSync(join(tmpdir(), 'killswitch-console-'))
  mkdirSync(join(dir, '.killswitch'))
  storePath = join(dir, '.killswitch', 'state.db')
  ks = createKillSwitch({ store: sqliteStore(storePath), prices })
  server = await startAdminServer({ killSwitch: ks, token: TOKEN, port: 0 })
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
  page = await context.newPage()
}, 60_000)

afterAll(async () => {
  await context?.close()
  await browser?.close()
  await server?.close()
  await ks?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

async function screenshot(name: string) {
  const png = await page.screenshot({ fullPage: false })
  // A real PNG came back (its signature), whether or not it is kept.
  expect(png.subarray(1, 4).toString()).toBe('PNG')
  if (SCREENSHOTS) {
    mkdirSync(SCREENSHOTS, { recursive: true })
    writeFileSync(join(SCREENSHOTS, name), png)
  }
}

/** Another process spends `usd` as `credential` (a paid tool, settled at its price). */
async function spendInAnotherProcess(credential: string, usd: number) {
  const child = runScript(
    `import { createKillSwitch, sqliteStore } from '@killswitch/core'
     const ks = createKillSwitch({ store: sqliteStore(process.env.KS_STORE) })
     const guard = ks.guard(process.env.KS_CREDENTIAL)
     const ticket = await guard.reserveSpend({ amountUsd: Number(process.env.KS_USD), kind: 'tool', description: 'search API' })
     await guard.settleSpend(ticket)
     await ks.close()
     console.log('spent')`,
    { KS_STORE: storePath, KS_CREDENTIAL: credential, KS_USD: String(usd) },
  )
  await child.waitForLine('spent')
  expect({ code: await child.done, output: child.output() }).toMatchObject({ code: 0 })
}

const row = (handle: string) => page.locator(`#agents tbody tr[data-handle="${handle}"]`)

/**
 * Holds the page's requests to `url` back: each is answered by the server at once (`read`
 * resolves) and delivered to the page only on `deliver()`, as a slow answer on a loaded
 * machine. The caller unroutes it.
 */
async function holdBack(url: string) {
  let answered = () => {}
  const read = new Promise<void>((resolve) => {
    answered = resolve
  })
  let deliver = () => {}
  const delivered = new Promise<void>((resolve) => {
    deliver = resolve
  })
  await page.route(url, async (route) => {
    const response = await route.fetch()
    answered()
    await delivered
    await route.fulfill({ response })
  })
  return { read, deliver }
}

/** The CLI's `agents list` rows: HANDLE, STATUS, SPENT / CAP, the SPEND bar's percent, AVAILABLE. */
async function cliAgentsList() {
  const cli = runCli(['agents', 'list'], dir)
  expect({ code: await cli.done, output: cli.output() }).toMatchObject({ code: 0 })
  const [, ...rows] = cli.output().trim().split('\n')
  // The footnote under the table, for spend marked `*` (unreconciled), is not a row.
  const lines = rows.filter((line) => !line.startsWith('* '))
  return lines.map((line) => {
    const match = /^(\S+)\s+(\S+)\s+(\$\S+ \/ \$\S+)\s+[█░]+\s+(\d+)%\s+(\$\S+)(?:\s|$)/.exec(
      line.trim(),
    )
    if (!match) throw new Error(`unexpected agents list line: ${line}`)
    const [, handle, status, spent, percent, available] = match
    // The console says unreconciled spend beside the figure; the CLI marks it `*`.
    return { handle, status, spent: spent?.replace('*', ''), percent: `${percent}%`, available }
  })
}

async function consoleAgentsList() {
  return page.locator('#agents tbody tr').evaluateAll((rows) =>
    rows.map((tr) => ({
      handle: tr.querySelector('th')?.textContent ?? '',
      status: tr.querySelector('.status')?.textContent ?? '',
      spent: tr.querySelector('td.spent .figure')?.textContent ?? '',
      percent: tr.querySelector('.bar .pct')?.textContent ?? '',
      available: tr.querySelector('td.available .figure')?.textContent ?? '',
    })),
  )
}

// The credentials of the agents made here, to ask the store what each can still spend.
const credentials = new Map<string, string>()

/**
 * The console's list against the store: spend as `killswitch agents list` prints it, and
 * what is available as `ks.verify` answers it (the tightest of cap, windows, budgets and
 * grants; the CLI's AVAILABLE column is the cap's alone). Revoked agents verify as inactive.
 */
async function expectStoreFigures() {
  const shown = await consoleAgentsList()
  const cli = await cliAgentsList()
  const spend = ({ available: _, ...rest }: { available?: string }) => rest
  expect(shown.map(spend)).toEqual(cli.map(spend))
  for (const row of shown) {
    const credential = credentials.get(row.handle)
    const verified = credential === undefined ? undefined : await ks.verify(credential)
    if (verified?.active) {
      expect({ handle: row.handle, available: row.available }).toEqual({
        handle: row.handle,
        available: usd(verified.available as number),
      })
    }
  }
}

describe('the console in a real browser', () => {
  let researcher: string

  it('signs in once with the admin token; the session cookie is HttpOnly and SameSite=Strict', async () => {
    researcher = (await ks.agents.create({ handle: 'researcher-agent-7', spendingCap: 20 }))
      .credential
    const billing = await ks.agents.create({
      handle: 'billing-agent',
      spendingCap: 20,
      limits: [{ amount: 5, per: 'hour' }],
    })
    const support = await ks.agents.create({
      handle: 'support-bot',
      spendingCap: 5,
      approvals: { enabled: true, waitMs: 0 },
    })
    credentials.set('researcher-agent-7', researcher)
    credentials.set('billing-agent', billing.credential)
    credentials.set('support-bot', support.credential)
    await spendInAnotherProcess(researcher, 3.5)
    await spendInAnotherProcess(billing.credential, 1.2)
    await ks.store.openApproval({
      id: 'apr_console',
      handle: 'support-bot',
      requestedMicros: 2_500_000,
      reason: 'would pass its $5.00 cap',
      ttlMs: 3_600_000,
      now: Date.now(),
    })

    await page.goto(server.url)
    const token = page.getByLabel('Admin token')
    await token.waitFor(WAIT)
    await screenshot('console-sign-in.png')
    await token.fill('not-the-token-but-long-enough')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await expect(page.getByRole('alert').first().textContent()).resolves.toBeDefined()
    await page.locator('#sign-in-error', { hasText: 'not the admin token' }).waitFor(WAIT)

    await token.fill(TOKEN)
    await token.press('Enter')
    await row('researcher-agent-7').waitFor(WAIT)
    const [cookie, ...others] = await context.cookies()
    expect(others).toEqual([])
    expect(cookie).toMatchObject({ name: 'ks_console', httpOnly: true, sameSite: 'Strict' })
    // The cookie is a session id, never the token.
    expect(cookie?.value).not.toContain(TOKEN)
    expect(await page.evaluate('document.cookie')).toBe('')
  })

  it('refuses the cookie without the session header, from the page or replayed elsewhere', async () => {
    // The secret half lives in this origin's sessionStorage, never in a cookie.
    const secret = await page.evaluate(() => sessionStorage.getItem('killswitch-session'))
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/)
    const [cookie] = await context.cookies()
    const replayed = `ks_console=${cookie?.value}`
    // What another server on this host receives and replays: the cookie, no header.
    const approve = await fetch(`${server.url}/console/api/approvals/apr_console/approve`, {
      method: 'POST',
      headers: { cookie: replayed, 'content-type': 'application/json' },
      body: JSON.stringify({ amount: 1000, ttlMs: 86_400_000 }),
    })
    expect(approve.status).toBe(401)
    const raise = await fetch(`${server.url}/console/api/agents/support-bot`, {
      method: 'PATCH',
      headers: { cookie: replayed, 'content-type': 'application/json' },
      body: JSON.stringify({ spendingCap: 1_000_000 }),
    })
    expect(raise.status).toBe(401)
    // The same from the page itself without the header: the browser adds the cookie only.
    const statuses = await page.evaluate(async () => {
      const options = { method: 'POST', headers: { 'content-type': 'application/json' } }
      const revoke = await fetch('/console/api/agents/billing-agent/revoke', {
        ...options,
        body: '{}',
      })
      const events = await fetch('/console/api/events')
      return [revoke.status, events.status]
    })
    expect(statuses).toEqual([401, 401])
    expect(await ks.approvals.get('apr_console')).toMatchObject({ status: 'pending' })
    expect(await ks.agents.get('support-bot')).toMatchObject({ spendingCap: 5 })
    expect(await ks.agents.get('billing-agent')).toMatchObject({ status: 'active' })
  })

  it('shows the spend `killswitch agents list` prints and what `ks.verify` says is available', async () => {
    await page.reload()
    await row('researcher-agent-7').locator('td.spent', { hasText: '$3.50' }).waitFor(WAIT)
    await expectStoreFigures()
    // Its hour window leaves it less than its cap does: that is what it can spend.
    expect(await row('billing-agent').locator('td.available').textContent()).toBe(
      '$3.80by its per hour window',
    )
  })

  it('updates live when another process spends', async () => {
    const spent = row('researcher-agent-7').locator('td.spent')
    expect(await spent.textContent()).toBe('$3.50 / $20.00')
    await spendInAnotherProcess(researcher, 11.25)
    // No reload: the page hears of it over server-sent events.
    await row('researcher-agent-7')
      .locator('td.spent', { hasText: '$14.75 / $20.00' })
      .waitFor(WAIT)
    expect(await row('researcher-agent-7').locator('.bar .pct').first().textContent()).toBe('73%')
    await expectStoreFigures()
    // Each budget window has its own bar, with the CLI's formatting.
    expect(await row('billing-agent').locator('.window span').first().textContent()).toBe(
      'per hour: $1.20 / $5.00',
    )
    await page.getByRole('listitem', { name: 'Request by support-bot' }).waitFor(WAIT)
    await screenshot('console-agents.png')
  })

  it('approves a pending request from the approvals queue', async () => {
    const request = page.getByRole('listitem', { name: 'Request by support-bot' })
    await request.getByLabel('Grant (USD)').fill('2')
    await request.getByRole('button', { name: 'Approve' }).click()
    await page.locator('#approvals-empty').waitFor(WAIT)
    // The grant is spendable at once: the row says so, as verify does.
    await row('support-bot')
      .locator('td.available .note', { hasText: 'by its cap, with $2.00 granted past it' })
      .waitFor(WAIT)
    expect(await row('support-bot').locator('td.available .figure').textContent()).toBe('$7.00')
    expect(await ks.approvals.get('apr_console')).toMatchObject({
      status: 'approved',
      decidedBy: 'console',
      grant: { amount: 2 },
    })
  })

  it('the Revoke button cuts a stream in flight in another process', async () => {
    const streamer = await ks.agents.create({ handle: 'streaming-agent', spendingCap: 10 })
    // A provider that streams tokens until the client goes away, and a guarded call reading
    // it with the guard's signal, in another process.
    const child = runScript(
      `import { createServer } from 'node:http'
       import { createKillSwitch, sqliteStore } from '@killswitch/core'
       const provider = createServer((req, res) => {
         res.writeHead(200, { 'content-type': 'text/event-stream' })
         const timer = setInterval(() => res.write('data: token\\n\\n'), 20)
         res.on('close', () => { clearInterval(timer); console.log('provider saw the client hang up') })
       })
       await new Promise((resolve) => provider.listen(0, '127.0.0.1', resolve))
       const ks = createKillSwitch({ store: sqliteStore(process.env.KS_STORE), prices: ${JSON.stringify(prices)} })
       const guard = ks.guard(process.env.KS_CREDENTIAL)
       const ticket = await guard.beforeModelCall({ model: 'test-model', input: 'hello', maxOutputTokens: 100000 })
       const response = await fetch('http://127.0.0.1:' + provider.address().port, { signal: guard.signal })
       const reader = response.body.getReader()
       let chunks = 0
       try {
         for (;;) {
           const { done, value } = await reader.read()
           if (done) break
           guard.onOutputDelta(ticket, { text: new TextDecoder().decode(value) })
           if (++chunks === 3) console.log('streaming')
         }
         console.log('the stream ended by itself')
       } catch (error) {
         await guard.failModelCall(ticket, error)
         console.log('cut: ' + (guard.signal.reason?.code ?? error.name))
       }
       await ks.close()
       provider.close()`,
      { KS_STORE: storePath, KS_CREDENTIAL: streamer.credential },
    )
    await child.waitForLine('streaming')

    const agentRow = row('streaming-agent')
    await agentRow.waitFor(WAIT)
    await agentRow.getByRole('button', { name: 'Revoke' }).click()
    const dialog = page.getByRole('dialog')
    await dialog.getByLabel('Reason (optional)').fill('runaway loop at 2 AM')
    await screenshot('console-revoke.png')
    await dialog.getByRole('button', { name: 'Revoke' }).click()

    expect(await child.waitForLine(/^cut: /)).toBe('cut: agent_revoked')
    await child.waitForLine('provider saw the client hang up')
    expect(await child.done).toBe(0)
    await agentRow.locator('.status', { hasText: 'revoked' }).waitFor(WAIT)
    expect(await agentRow.getByRole('button', { name: 'Revoke' }).isDisabled()).toBe(true)
    const revoked = await ks.agents.get('streaming-agent')
    expect(revoked).toMatchObject({
      status: 'revoked',
      revokedReason: 'runaway loop at 2 AM',
      held: 0,
    })
    // What streamed before the cut was charged: money that left is spent.
    expect(revoked.spent).toBeGreaterThan(0)
  })

  it('shows an agent page with its audit timeline and spend chart, keyboard only', async () => {
    await page.goto(`${server.url}/#/`)
    await row('researcher-agent-7').waitFor(WAIT)
    const link = page.getByRole('link', { name: 'researcher-agent-7' })
    await link.focus()
    await page.keyboard.press('Enter')
    await page.getByRole('heading', { name: 'researcher-agent-7' }).waitFor(WAIT)
    const timeline = page.locator('#timeline li')
    await timeline.first().waitFor(WAIT)
    // The timeline is the agent's audit log, newest first, entry for entry.
    const audit = await ks.audit('researcher-agent-7', { limit: 100 })
    expect(await timeline.locator('span[class^="type-"]').allTextContents()).toEqual(
      audit.map((entry) => entry.type).reverse(),
    )
    expect(audit.filter((entry) => entry.type === 'settled')).toHaveLength(2)
    expect(await page.locator('#spend-chart svg').getAttribute('aria-label')).toBe(
      'Spend rising to $14.75 over the entries shown',
    )
    await screenshot('console-agent.png')

    // Cap edit from the keyboard: Edit cap, type, Enter.
    await page.locator('#agent-summary').getByRole('button', { name: 'Edit cap' }).focus()
    await page.keyboard.press('Enter')
    await page.getByLabel('Spending cap (USD)').fill('80')
    await page.keyboard.press('Enter')
    await page.locator('#agent-summary .spent', { hasText: '$14.75 / $80.00' }).waitFor(WAIT)
    expect((await ks.agents.get('researcher-agent-7')).spendingCap).toBe(80)
  })
  it('shows what limits an agent, its unreconciled spend, and what it chose escaped', async () => {
    // An agent whose shared budget another agent spent out: refused at its next call.
    await ks.budgets.create({ id: 'team-a', limits: [{ amount: 2, per: 'day' }] })
    const teammate = await ks.agents.create({
      handle: 'teammate',
      spendingCap: 5,
      budgets: ['team-a'],
    })
    const budgetAgent = await ks.agents.create({
      handle: 'budget-agent',
      spendingCap: 50,
      budgets: ['team-a'],
    })
    credentials.set('teammate', teammate.credential)
    credentials.set('budget-agent', budgetAgent.credential)
    await spendInAnotherProcess(teammate.credential, 2)
    // An agent whose $0.75 hold lapsed: its process died before settling it.
    const lapsing = await ks.agents.create({ handle: 'lapse-agent', spendingCap: 5 })
    credentials.set('lapse-agent', lapsing.credential)
    const held = runScript(
      `import { createKillSwitch, sqliteStore } from '@killswitch/core'
       const ks = createKillSwitch({ store: sqliteStore(process.env.KS_STORE) })
       await ks.guard(process.env.KS_CREDENTIAL).reserveSpend({ amountUsd: 0.75, kind: 'payment', description: 'lost', ttlMs: 1000 })
       await ks.close()
       console.log('held')`,
      { KS_STORE: storePath, KS_CREDENTIAL: lapsing.credential },
    )
    await held.waitForLine('held')
    expect(await held.done).toBe(0)
    // An agent that named its $40 tool so that the name reads as a cent.
    const bidi = await ks.agents.create({ handle: 'bidi-agent', spendingCap: 50 })
    const guard = ks.guard(bidi.credential)
    await guard.afterToolCall(
      await guard.beforeToolCall({ name: 'search\u202E10.0$ rof', args: {}, priceUsd: 40 }),
      { ok: true },
    )

    await page.goto(`${server.url}/#/`)
    const limited = row('budget-agent')
    // Within a poll of the teammate's spend: $0.00 left, and why.
    await limited.locator('td.available .figure', { hasText: '$0.00' }).waitFor(WAIT)
    expect(await limited.locator('td.available .note').textContent()).toBe(
      'by budget team-a, per day',
    )
    expect(await limited.locator('.window > span').allTextContents()).toEqual([
      'budget team-a per day: $2.00 / $2.00',
    ])
    await row('lapse-agent')
      .locator('td.spent .unreconciled', { hasText: 'incl. $0.75 unreconciled' })
      .waitFor(WAIT)
    expect(await row('lapse-agent').locator('td.spent .figure').textContent()).toBe('$0.75 / $5.00')
    // The list may come from a poll made just before bidi-agent was: wait for its row.
    await row('bidi-agent').waitFor(WAIT)
    await expectStoreFigures()

    await page.goto(`${server.url}/#/agent/budget-agent`)
    const summary = page.locator('#agent-summary')
    await summary.locator('.limited-by', { hasText: 'budget team-a, per day' }).waitFor(WAIT)
    expect(await summary.locator('.available').textContent()).toBe('$0.00')
    expect(await summary.locator('dt').allTextContents()).toContain('Budget team-a per day')

    await page.goto(`${server.url}/#/agent/lapse-agent`)
    await summary.locator('.unreconciled', { hasText: '$0.75 of the spent' }).waitFor(WAIT)
    // Its timeline names the lapsed hold, as `killswitch reconcile` takes it (red team rt32:
    // the summary alone, no hold id).
    const lapse = (await ks.audit('lapse-agent')).find((entry) => entry.type === 'lapsed')
    const holdId = String(lapse?.data.holdId)
    const note = page
      .locator('#timeline li', { has: page.locator('.type-lapsed') })
      .locator('.unreconciled')
    await note.waitFor(WAIT)
    expect(await note.textContent()).toBe(` unreconciled: $0.75 charged, its bound; hold ${holdId}`)
    expect(await note.locator('code').textContent()).toBe(holdId)
    expect(await note.getAttribute('title')).toContain(
      `killswitch reconcile lapse-agent ${holdId} <usd>`,
    )

    await page.goto(`${server.url}/#/agent/bidi-agent`)
    const settled = page.locator('#timeline li', { has: page.locator('.type-settled') })
    await settled.waitFor(WAIT)
    const text = (await settled.textContent()) ?? ''
    expect(text).toContain('search\\u202e10.0$ rof')
    expect(text).not.toMatch(/\u202e/)
  })

  it('keeps a grant being typed through live updates, and says what a decision came to', async () => {
    await page.goto(`${server.url}/#/`)
    const now = Date.now()
    for (const handle of ['ask-a', 'ask-b', 'ask-c']) {
      await ks.agents.create({ handle, spendingCap: 1, approvals: { enabled: true, waitMs: 0 } })
    }
    const ask = (id: string, handle: string) =>
      ks.store.openApproval({
        id,
        handle,
        requestedMicros: 2_000_000,
        reason: 'cap',
        ttlMs: 3_600_000,
        now,
      })
    await ask('apr_a', 'ask-a')
    const request = page.getByRole('listitem', { name: 'Request by ask-a' })
    await request.waitFor(WAIT)
    await request.getByLabel('Grant (USD)').fill('0.5')
    await request.getByLabel('for').selectOption('900000')
    await request.getByLabel('Grant (USD)').focus()
    // Another agent asks: the live update adds its row and leaves this one as typed.
    await ask('apr_b', 'ask-b')
    await page.getByRole('listitem', { name: 'Request by ask-b' }).waitFor(WAIT)
    expect(await request.getByLabel('Grant (USD)').inputValue()).toBe('0.5')
    expect(await request.getByLabel('for').inputValue()).toBe('900000')
    expect(await page.evaluate('document.activeElement?.id')).toBe('amount-apr_a')
    const clicked = Date.now()
    await request.getByRole('button', { name: 'Approve' }).click()
    const status = page.locator('#approvals-status')
    await status.filter({ hasText: 'Approved ask-a: up to $0.50 past its cap' }).waitFor(WAIT)
    const approved = await ks.approvals.get('apr_a')
    expect(approved).toMatchObject({ status: 'approved', grant: { amount: 0.5 } })
    const expiresIn = Date.parse(approved.grant?.expiresAt ?? '') - clicked
    expect(expiresIn).toBeGreaterThan(800_000)
    expect(expiresIn).toBeLessThanOrEqual(900_000 + 5_000)

    // Decided elsewhere while the page still shows it: Approve says so, and it stays said.
    await ask('apr_c', 'ask-c')
    const stale = page.getByRole('listitem', { name: 'Request by ask-c' })
    await stale.waitFor(WAIT)
    // Denied by someone else just as the operator clicks (before the next poll could drop it).
    await page.route('**/console/api/approvals/apr_c/approve', async (route) => {
      await ks.approvals.deny('apr_c', { by: 'alice', reason: 'too much' })
      await route.continue()
    })
    await stale.getByRole('button', { name: 'Approve' }).click()
    const said =
      'The request by ask-c for $2.00 was denied already by alice (too much): your decision was not recorded.'
    await status.filter({ hasText: said }).waitFor(WAIT)
    // Another request and several polls later, the outcome is still on the page.
    await ks.agents.create({
      handle: 'ask-d',
      spendingCap: 1,
      approvals: { enabled: true, waitMs: 0 },
    })
    await ask('apr_d', 'ask-d')
    await page.getByRole('listitem', { name: 'Request by ask-d' }).waitFor(WAIT)
    await page.waitForTimeout(1_500)
    expect(await status.textContent()).toBe(said)
    expect(await stale.count()).toBe(0)
    expect(await ks.approvals.get('apr_c')).toMatchObject({ status: 'denied', decidedBy: 'alice' })
  })

  it('keeps a request a live update brought when a slower, older answer arrives after it', async () => {
    await ks.agents.create({
      handle: 'ask-e',
      spendingCap: 1,
      approvals: { enabled: true, waitMs: 0 },
    })
    // The page's own read of the queue is answered before the request exists, and delivered
    // late (a loaded machine): the live update showing the request gets there first.
    const { read, deliver } = await holdBack('**/console/api/approvals')
    try {
      await page.goto(`${server.url}/#/agent/ask-e`)
      await page.goto(`${server.url}/#/`)
      await read
      await ks.store.openApproval({
        id: 'apr_e',
        handle: 'ask-e',
        requestedMicros: 2_000_000,
        reason: 'cap',
        ttlMs: 3_600_000,
        now: Date.now(),
      })
      const request = page.getByRole('listitem', { name: 'Request by ask-e' })
      await request.waitFor(WAIT)
      const stale = page.waitForResponse('**/console/api/approvals')
      deliver()
      await stale
      await page.waitForTimeout(300)
      expect(await request.count()).toBe(1)
    } finally {
      deliver()
      await page.unroute('**/console/api/approvals')
    }
  })

  it('shows a request growing as calls join it; a grant typed stays as typed', async () => {
    await page.goto(`${server.url}/#/`)
    // Each as a call that waits for the decision (joining, it adds what it needs).
    const ask = (id: string, handle: string, requestedMicros: number) =>
      ks.store.openApproval({
        id,
        handle,
        requestedMicros,
        reason: 'cap',
        ttlMs: 60_000,
        now: Date.now(),
        waits: true,
      })
    for (const handle of ['grow-a', 'grow-b']) {
      await ks.agents.create({ handle, spendingCap: 1, approvals: { enabled: true, waitMs: 0 } })
      await ask(`apr_${handle}`, handle, 1_000_000)
    }
    const typed = page.getByRole('listitem', { name: 'Request by grow-a' })
    const untouched = page.getByRole('listitem', { name: 'Request by grow-b' })
    await untouched.waitFor(WAIT)
    await typed.getByLabel('Grant (USD)').fill('0.25')
    // Another call of each joins its request: each asks for both now.
    await ask('apr_grow-a-2', 'grow-a', 2_000_000)
    await ask('apr_grow-b-2', 'grow-b', 2_000_000)
    await untouched.getByText('grow-b asks for $3.00 past its cap: cap').waitFor(WAIT)
    await typed.getByText('grow-a asks for $3.00 past its cap: cap').waitFor(WAIT)
    expect(await untouched.getByLabel('Grant (USD)').inputValue()).toBe('3')
    expect(await typed.getByLabel('Grant (USD)').inputValue()).toBe('0.25')
  })

  it('keeps a row a live update changed when an older list of agents arrives after it', async () => {
    const agent = await ks.agents.create({ handle: 'late-list', spendingCap: 5 })
    await page.goto(`${server.url}/#/`)
    await row('late-list').waitFor(WAIT)
    await page.goto(`${server.url}/#/agent/late-list`)
    const { read, deliver } = await holdBack('**/console/api/agents?*')
    try {
      await page.goto(`${server.url}/#/`)
      await read
      // Spent after the list was read: the live update shows it first.
      const guard = ks.guard(agent.credential)
      await guard.settleSpend(
        await guard.reserveSpend({ amountUsd: 1.25, kind: 'tool', description: 'late' }),
      )
      const figure = row('late-list').locator('td.spent .figure')
      await figure.filter({ hasText: '$1.25 / $5.00' }).waitFor(WAIT)
      const stale = page.waitForResponse('**/console/api/agents?*')
      deliver()
      await stale
      // Watched a while: an older list shown even briefly (a reload may follow) is the bug.
      const seen = new Set<string | null>()
      for (const end = Date.now() + 600; Date.now() < end; ) {
        seen.add(await figure.textContent())
        await page.waitForTimeout(20)
      }
      expect([...seen]).toEqual(['$1.25 / $5.00'])
    } finally {
      deliver()
      await page.unroute('**/console/api/agents?*')
    }
  })

  it('says a revoke is under way, queued when the store is locked, and written once it is', async () => {
    await ks.agents.create({ handle: 'locked-agent', spendingCap: 5 })
    await page.goto(`${server.url}/#/`)
    const agentRow = row('locked-agent')
    await agentRow.waitFor(WAIT)
    // The store takes no revocation for a while (another process holds the write lock).
    const store = ks.store as { revokeAgent: (...args: unknown[]) => unknown }
    const revokeAgent = store.revokeAgent.bind(store)
    let release = () => {}
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    let locked = true
    store.revokeAgent = async (...args: unknown[]) => {
      await gate
      if (locked) throw new Error('SQLITE_BUSY: database is locked')
      return revokeAgent(...args)
    }
    try {
      await agentRow.getByRole('button', { name: 'Revoke' }).click()
      const dialog = page.getByRole('dialog')
      await dialog.getByLabel('Reason (optional)').fill('locked loop')
      await dialog.getByRole('button', { name: 'Revoke' }).click()
      // At once, while the store has not answered: the button says so and takes no second click.
      const busy = dialog.getByRole('button', { name: 'Revoking…' })
      await busy.waitFor(WAIT)
      expect(await busy.isDisabled()).toBe(true)
      release()
      const notice = page.locator('#notices li[data-handle="locked-agent"]')
      await notice.filter({ hasText: 'queued, not written yet' }).waitFor(WAIT)
      expect(await dialog.locator('.error').textContent()).toContain('not written yet')
      // The store takes it: the notice and the dialog say written, no "revoke again" left.
      locked = false
      await agentRow.locator('.status', { hasText: 'revoked' }).waitFor(WAIT)
      await notice.filter({ hasText: 'The revocation of locked-agent is written' }).waitFor(WAIT)
      // Said as a status, not in the dialog's error slot (red team rt40).
      await dialog.locator('.status', { hasText: 'locked-agent is revoked' }).waitFor(WAIT)
      expect(await dialog.locator('.error').textContent()).toBe('')
      await page.keyboard.press('Escape')
      expect(await notice.isVisible()).toBe(true)
      expect(await ks.agents.get('locked-agent')).toMatchObject({
        status: 'revoked',
        revokedReason: 'locked loop',
      })
    } finally {
      release()
      locked = false
      store.revokeAgent = revokeAgent
    }
  })

  it('says a revocation is in force though no replica of the store confirmed it yet', async () => {
    await ks.agents.create({ handle: 'replica-agent', spendingCap: 5 })
    await page.goto(`${server.url}/#/`)
    const agentRow = row('replica-agent')
    await agentRow.waitFor(WAIT)
    // A Redis primary took it, no replica confirmed it (then one does, on the retry).
    const store = ks.store as { revokeAgent: (...args: unknown[]) => Promise<unknown> }
    const revokeAgent = store.revokeAgent.bind(store)
    let confirmed = false
    store.revokeAgent = async (...args: unknown[]) => {
      const written = await revokeAgent(...args)
      if (confirmed) return written
      confirmed = true
      throw new RevocationUnreplicatedError({ handle: 'replica-agent', alreadyRevoked: false })
    }
    try {
      await agentRow.getByRole('button', { name: 'Revoke' }).click()
      await page.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click()
      const notice = page.locator('#notices li[data-handle="replica-agent"]')
      await notice.filter({ hasText: 'No replica has confirmed it yet' }).waitFor(WAIT)
      expect(await notice.textContent()).toContain('is in force now')
      expect(await notice.getAttribute('class')).toBe('error')
      await agentRow.locator('.status', { hasText: 'revoked' }).waitFor(WAIT)
    } finally {
      store.revokeAgent = revokeAgent
    }
  })

  // Red team rt40: with sqlite's ledger locked by another process, the revoke answered 202
  // ("the ledger could not record it yet") and the notice said so for good, after the ledger
  // had written it.
  it('says a revocation the ledger could not write yet is written, once its audit shows it', async () => {
    await ks.agents.create({ handle: 'ledger-agent', spendingCap: 5 })
    await page.goto(`${server.url}/#/`)
    const agentRow = row('ledger-agent')
    await agentRow.waitFor(WAIT)
    const revokePath = '**/console/api/agents/ledger-agent/revoke'
    const auditPath = '**/console/api/agents/ledger-agent/audit*'
    // The revoke answers as sqlite's does while its ledger lock is held elsewhere; the audit
    // shows no revocation until the ledger wrote it.
    await page.route(revokePath, async (route) => {
      const answer = (await (await route.fetch()).json()) as Record<string, unknown>
      const message = 'Revoked and in force, but the ledger could not record it yet.'
      const body = { ...answer, replicated: false, pending: 'ledger', message }
      await route.fulfill({ status: 202, json: body })
    })
    let written = false
    await page.route(auditPath, async (route) => {
      const answer = (await (await route.fetch()).json()) as { entries: Array<{ type: string }> }
      const entries = written ? answer.entries : answer.entries.filter((e) => e.type !== 'revoked')
      await route.fulfill({ json: { ...answer, entries } })
    })
    try {
      await agentRow.getByRole('button', { name: 'Revoke' }).click()
      await page.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click()
      const notice = page.locator('#notices li[data-handle="ledger-agent"]')
      await notice.filter({ hasText: 'could not record it yet' }).waitFor(WAIT)
      expect(await notice.getAttribute('class')).toBe('error')
      written = true
      await notice.filter({ hasText: 'The revocation of ledger-agent is written' }).waitFor(WAIT)
      expect(await notice.getAttribute('class')).toBe('')
    } finally {
      await page.unroute(revokePath)
      await page.unroute(auditPath)
    }
  })

  it('says a revoke found the agent revoked already, and that the note was not recorded', async () => {
    await ks.agents.create({ handle: 'twice-agent', spendingCap: 5 })
    await page.goto(`${server.url}/#/`)
    const agentRow = row('twice-agent')
    await agentRow.getByRole('button', { name: 'Revoke' }).click()
    const dialog = page.getByRole('dialog')
    await dialog.getByLabel('Reason (optional)').fill('INC-42')
    // Revoked elsewhere meanwhile (the CLI, /v1).
    const first = await ks.agents.revoke('twice-agent', { reason: 'repeated-tool-call' })
    await dialog.getByRole('button', { name: 'Revoke' }).click()
    const said = page.locator('#notices li[data-handle="twice-agent"]')
    await said.filter({ hasText: 'your note was not recorded' }).waitFor(WAIT)
    expect(await said.textContent()).toBe(
      `twice-agent was already revoked at ${await page.evaluate((at) => new Date(at).toLocaleTimeString(), first.revokedAt ?? '')} (repeated-tool-call); your note was not recorded.`,
    )
    // What stopped it is in its row, not only on its page.
    expect(await agentRow.locator('.revoked-reason').textContent()).toContain('repeated-tool-call')
  })

  it('shows money held by calls in flight beside spent and ranks that agent first by spend', async () => {
    // Its whole cap held by a call in flight, nothing settled yet: the agent burning now.
    const held = await ks.agents.create({ handle: 'zz-streaming', spendingCap: 100 })
    const guard = ks.guard(held.credential)
    await guard.reserveSpend({ amountUsd: 99.99, kind: 'tool', description: 'long stream' })
    await page.goto(`${server.url}/#/`)
    await row('zz-streaming')
      .locator('td.spent .in-flight', { hasText: '+ $99.99 in flight' })
      .waitFor(WAIT)
    // First by spend and by share of the cap, though bidi-agent has settled $40 of its $50.
    for (const order of ['spent', 'percent']) {
      await page.locator('#order').selectOption(order)
      await page.locator('#agents tbody tr:first-child[data-handle="zz-streaming"]').waitFor(WAIT)
    }
  })

  it('shows a throttled runaway in its row: the calls its detector refused lately', async () => {
    await page.goto(`${server.url}/#/`)
    await row('billing-agent').waitFor(WAIT)
    // What a throttled call of another process leaves in the store: a verdict, a refusal.
    for (const [type, data] of [
      ['runaway', { detector: 'slow-loop', action: 'block', enforced: true }],
      ['denied', { rule: 'runaway', code: 'runaway_detected' }],
    ] as const) {
      ks.store.appendAudit({ at: Date.now(), handle: 'billing-agent', type, summary: type, data })
    }
    await row('billing-agent')
      .locator('.throttled', {
        hasText: 'throttled by slow-loop: 1 call refused in the last minute',
      })
      .waitFor(WAIT)
  })

  it('fits a phone: the table scrolls in its box, the actions stay in view', async () => {
    await page.setViewportSize({ width: 375, height: 667 })
    try {
      await page.goto(`${server.url}/#/`)
      await row('researcher-agent-7').waitFor(WAIT)
      expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375)
      const revoke = await row('researcher-agent-7')
        .getByRole('button', { name: 'Revoke' })
        .boundingBox()
      expect(revoke?.x ?? Infinity).toBeGreaterThanOrEqual(0)
      expect((revoke?.x ?? Infinity) + (revoke?.width ?? 0)).toBeLessThanOrEqual(375)
      const order = await page.locator('#order').boundingBox()
      expect((order?.x ?? Infinity) + (order?.width ?? 0)).toBeLessThanOrEqual(375)
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 })
    }
  })
})
