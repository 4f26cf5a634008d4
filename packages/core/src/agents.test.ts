import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { DEFAULT_REVOKE_REASON } from './agents.js'
import { AgentExistsError, AgentNotFoundError, InvalidConfigError } from './errors.js'
import { createKillSwitch } from './kill-switch.js'
import { memoryStore } from './stores/memory-store.js'
import { sqliteStore } from './stores/sqlite-store.js'

const root = mkdtempSync(join(tmpdir(), 'killswitch-agents-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

const expectInvalid = async (promise: Promise<unknown>, field: string) => {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  )
  expect(error).toBeInstanceOf(InvalidConfigError)
  expect((error as InvalidConfigError).field).toBe(field)
  expect((error as Error).message).toContain(field)
  return error as InvalidConfigError
}

describe('agents API', () => {
  it('provisions an agent with its own credential, shown once', async () => {
    const ks = createKillSwitch()
    const agent = await ks.agents.create({
      handle: 'researcher-agent-7',
      spendingCap: 50,
      currency: 'usd',
    })
    expect(agent).toMatchObject({
      handle: 'researcher-agent-7',
      status: 'active',
      spendingCap: 50,
      spent: 0,
      held: 0,
      available: 50,
    })
    expect(agent.credential).toMatch(/^ks_[A-Za-z0-9_-]{43}$/)
    const other = await ks.agents.create({ handle: 'writer', spendingCap: 5 })
    expect(other.credential).not.toBe(agent.credential)
    const fetched = await ks.agents.get('researcher-agent-7')
    expect(fetched).not.toHaveProperty('credential')
    expect(JSON.stringify(await ks.agents.list())).not.toContain(agent.credential)
    expect(JSON.stringify(await ks.audit('researcher-agent-7'))).not.toContain(agent.credential)
    expect(JSON.stringify(await ks.store.getAgent('researcher-agent-7', Date.now()))).not.toContain(
      agent.credential,
    )
  })

  it('refuses a duplicate handle without touching the existing agent', async () => {
    const ks = createKillSwitch()
    const first = await ks.agents.create({ handle: 'a', spendingCap: 10 })
    await expect(ks.agents.create({ handle: 'a', spendingCap: 999 })).rejects.toBeInstanceOf(
      AgentExistsError,
    )
    expect((await ks.agents.get('a')).spendingCap).toBe(10)
    expect((await ks.verify(first.credential)).active).toBe(true)
  })

  it.each([
    [{ handle: 'x', spendingCap: -1 }, 'spendingCap', 'negative'],
    [{ handle: 'x', spendingCap: Number.NaN }, 'spendingCap', 'finite'],
    [{ handle: 'x', spendingCap: Number.POSITIVE_INFINITY }, 'spendingCap', 'finite'],
    [{ handle: 'x', spendingCap: 2e9 }, 'spendingCap', 'typo'],
    [{ handle: 'x', spendingCap: '50' }, 'spendingCap', 'number'],
    [{ handle: 'x', spendingCap: 5, currency: 'eur' }, 'currency', 'usd'],
    [{ handle: 'bad handle!', spendingCap: 5 }, 'handle', 'letters'],
    [{ handle: '', spendingCap: 5 }, 'handle', 'letters'],
    [{ handle: 'x'.repeat(65), spendingCap: 5 }, 'handle', '64'],
    [{ handle: 'x', spendingCap: 5, capp: 1 }, 'capp', 'unknown option "capp"'],
    [{ handle: 'x', spendingCap: 1e-9 }, 'spendingCap', '0.000001'],
    [{ handle: 'x', spendingCap: 0.0000005 }, 'spendingCap', '0.000001'],
    [
      { handle: 'x', spendingCap: 5, limits: [{ amount: 1e-7, per: 'day' }] },
      'limits.0.amount',
      '0.000001',
    ],
    [{ handle: `x-ks_${'A'.repeat(43)}`, spendingCap: 5 }, 'handle', 'credential'],
  ])('refuses %j with InvalidConfigError naming %s', async (input, field, hint) => {
    const ks = createKillSwitch()
    const error = await expectInvalid(ks.agents.create(input as never), field)
    expect(error.message).toContain(hint)
    expect(await ks.agents.list()).toEqual([])
  })

  it('takes caps from $0.000001 up, and 0, float arithmetic and all', async () => {
    const ks = createKillSwitch()
    for (const [i, cap] of [0.57, 0.1 + 0.2, 0.050000000001, 0.000001, 0].entries()) {
      const created = await ks.agents.create({ handle: `cap-${i}`, spendingCap: cap })
      expect(created.spendingCap).toBeCloseTo(cap, 6)
    }
  })

  it('names the handle when a handle given to get or revoke is malformed', async () => {
    const ks = createKillSwitch()
    await expectInvalid(ks.agents.get('-bad'), 'handle')
    await expectInvalid(ks.agents.revoke('-bad'), 'handle')
    await expectInvalid(ks.budgets.get('-bad'), 'id')
  })

  it('updates the cap, audits the change and refuses a bad one', async () => {
    const ks = createKillSwitch()
    await ks.agents.create({ handle: 'a', spendingCap: 50 })
    expect((await ks.agents.update('a', { spendingCap: 10 })).spendingCap).toBe(10)
    await expectInvalid(ks.agents.update('a', { spendingCap: -5 }), 'spendingCap')
    await expect(ks.agents.update('ghost', { spendingCap: 1 })).rejects.toBeInstanceOf(
      AgentNotFoundError,
    )
    const audit = await ks.audit('a')
    expect(audit.map((entry) => entry.type)).toEqual(['created', 'cap_changed'])
    expect(audit[1]?.data).toMatchObject({ from: 50, to: 10 })
  })

  it('sets alerts (http(s) only, thresholds as fractions) and never shows their secret', async () => {
    const ks = createKillSwitch()
    await ks.agents.create({ handle: 'a', spendingCap: 50 })
    const secret = 'whsec_0123456789abcdef'
    const snapshot = await ks.agents.setAlert('a', {
      thresholdPct: 0.8,
      webhookUrl: 'https://example.com/hook',
      secret,
    })
    expect(snapshot.alerts).toEqual([
      { thresholdPct: 0.8, webhookUrl: 'https://example.com/hook', signed: true },
    ])
    expect(JSON.stringify(await ks.audit('a'))).not.toContain(secret)
    await expectInvalid(
      ks.agents.setAlert('a', { thresholdPct: 80, webhookUrl: 'https://example.com/hook' }),
      'thresholdPct',
    )
    await expectInvalid(
      ks.agents.setAlert('a', { thresholdPct: 0.5, webhookUrl: 'ftp://example.com/hook' }),
      'webhookUrl',
    )
    await expectInvalid(
      ks.agents.setAlert('a', { thresholdPct: 0.5, webhookUrl: 'not a url' }),
      'webhookUrl',
    )
  })

  it('revokes: verify answers inactive, the reason is kept and audited', async () => {
    const ks = createKillSwitch()
    const agent = await ks.agents.create({ handle: 'a', spendingCap: 50 })
    expect(await ks.verify(agent.credential)).toMatchObject({
      active: true,
      handle: 'a',
      available: 50,
    })
    const revoked = await ks.agents.revoke('a', { reason: 'loop in search tool' })
    expect(revoked).toMatchObject({ status: 'revoked', revokedReason: 'loop in search tool' })
    expect(await ks.verify(agent.credential)).toEqual({ active: false })
    expect(await ks.verify('ks_not-a-real-one')).toEqual({ active: false })
    expect(await ks.verify(undefined as never)).toEqual({ active: false })
    const last = (await ks.audit('a')).at(-1)
    expect(last).toMatchObject({
      type: 'revoked',
      data: { reason: 'loop in search tool', by: 'operator' },
    })
  })

  it.each([
    ['no options', undefined],
    ['no reason', {}],
    ['an empty reason', { reason: '  ' }],
    ['a reason of the wrong type', { reason: 42 }],
    [
      'options whose reason throws when read',
      {
        get reason(): string {
          throw new Error('boom')
        },
      },
    ],
    [
      'a proxy that throws on every read',
      new Proxy(
        {},
        {
          get() {
            throw new Error('boom')
          },
        },
      ),
    ],
  ])(
    'revokes with %s: a kill switch never refuses to fire for a missing comment',
    async (_, options) => {
      const ks = createKillSwitch()
      const agent = await ks.agents.create({ handle: 'a', spendingCap: 50 })
      const guard = ks.guard(agent.credential)
      const revoked = await ks.agents.revoke('a', options as never)
      expect(revoked).toMatchObject({ status: 'revoked', revokedReason: DEFAULT_REVOKE_REASON })
      expect(await ks.verify(agent.credential)).toEqual({ active: false })
      expect(guard.signal.aborted).toBe(true)
      expect((await ks.audit('a')).at(-1)).toMatchObject({
        type: 'revoked',
        data: { reason: DEFAULT_REVOKE_REASON, by: 'operator' },
      })
    },
  )

  it('records who revoked, and says when the agent was revoked already (its first reason and revoker kept)', async () => {
    for (const store of [memoryStore(), sqliteStore(join(root, `revoker-${Date.now()}.db`))]) {
      const ks = createKillSwitch({ store, runaway: false })
      await ks.agents.create({ handle: 'a', spendingCap: 1 })
      const first = await ks.agents.revoke('a', { reason: 'leaked key', by: 'alice' })
      expect(first).toMatchObject({ status: 'revoked', alreadyRevoked: false })
      const again = await ks.agents.revoke('a', { reason: 'also me', by: 'bob' })
      expect(again).toMatchObject({
        status: 'revoked',
        revokedReason: 'leaked key',
        alreadyRevoked: true,
      })
      const revoked = (await ks.audit('a')).filter((entry) => entry.type === 'revoked')
      expect(revoked[0]).toMatchObject({
        summary: expect.stringContaining('revoked by alice'),
        data: { reason: 'leaked key', by: 'alice' },
      })
      await ks.close()
    }
  })

  it.each([
    ['an empty by', { by: '' }],
    ['a by of the wrong type', { by: 42 }],
    ['a by too long to be a name', { by: 'x'.repeat(201) }],
    // Red team rt27: kept and served whole, while the reason beside it was masked.
    ['a credential as by', { by: `ks_${'Ab1'.repeat(14)}x` }],
    ['a provider key as by', { by: 'alice sk-proj-abc123DEF456ghi789JKL012' }],
    ['control characters in by', { by: 'cli:alice\u001b[2J\r\nrevoked by runaway' }],
    ["the detectors' name as by", { by: 'Runaway' }],
    [
      'options whose by throws when read',
      {
        reason: 'kept',
        get by(): string {
          throw new Error('boom')
        },
      },
    ],
  ])('revokes with %s: recorded as by the operator, never refused', async (_, options) => {
    const ks = createKillSwitch({ runaway: false })
    const agent = await ks.agents.create({ handle: 'a', spendingCap: 1 })
    const revoked = await ks.agents.revoke('a', options as never)
    expect(revoked).toMatchObject({ status: 'revoked', alreadyRevoked: false })
    expect(await ks.verify(agent.credential)).toEqual({ active: false })
    expect((await ks.audit('a')).at(-1)).toMatchObject({
      type: 'revoked',
      data: { by: 'operator' },
    })
  })

  it('keeps a long reason, cut to 500 characters, and still refuses an unknown handle', async () => {
    const ks = createKillSwitch()
    await ks.agents.create({ handle: 'a', spendingCap: 1 })
    const revoked = await ks.agents.revoke('a', { reason: 'x'.repeat(600) })
    expect(revoked.revokedReason).toHaveLength(500)
    await expect(ks.agents.revoke('nobody')).rejects.toBeInstanceOf(AgentNotFoundError)
  })

  it('applies concurrent policy changes both: none undoes another made from an older read', async () => {
    for (const store of [memoryStore(), sqliteStore(join(root, `race-${Date.now()}.db`))]) {
      const ks = createKillSwitch({ store, runaway: false })
      await ks.agents.create({ handle: 'payer', spendingCap: 10 })
      await Promise.all([
        ks.agents.update('payer', {
          spendRules: { allowedPayees: ['0x1111111111111111111111111111111111111111'] },
        }),
        ks.agents.update('payer', { approvals: { enabled: true, waitMs: 0 } }),
        ks.agents.update('payer', { spendingCap: 20 }),
      ])
      const agent = await ks.agents.get('payer')
      expect(agent.spendRules?.allowedPayees).toEqual([
        '0x1111111111111111111111111111111111111111',
      ])
      expect(agent.approvals).toMatchObject({ enabled: true })
      expect(agent.spendingCap).toBe(20)
      // Many at once in one process: every one applies, none refused.
      const pcts = Array.from({ length: 20 }, (_, i) => (i + 1) / 20)
      await Promise.all(
        pcts.map((thresholdPct) =>
          ks.agents.setAlert('payer', { thresholdPct, webhookUrl: 'https://hooks.example.com/a' }),
        ),
      )
      const thresholds = (await ks.agents.get('payer')).alerts.map((rule) => rule.thresholdPct)
      expect(thresholds.sort((a, b) => a - b)).toEqual(pcts)
      await ks.close()
      await store.close()
    }
  })

  it('refuses bad kill switch options by name', () => {
    expect(() => createKillSwitch({ holdTtlMs: 0 })).toThrow(InvalidConfigError)
    expect(() => createKillSwitch({ defaultMaxOutputTokens: 1.5 })).toThrow(
      /defaultMaxOutputTokens/,
    )
  })
})
