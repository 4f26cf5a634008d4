import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createKillSwitch, sqliteStore } from '@killswitch/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type DemoResult, runDemo } from './main.ts'

const RESEARCHER = 'researcher-agent-7'
const FULL_CREDENTIAL = /ks_[A-Za-z0-9_-]{43}/

describe('npm run demo', () => {
  let stateDir: string
  let result: DemoResult
  const lines: string[] = []

  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'killswitch-demo-'))
    result = await runDemo({ stateDir, write: (line) => lines.push(line) })
  }, 60_000)
  afterAll(() => rmSync(stateDir, { recursive: true, force: true }))

  it('keeps its state in the sqlite database under the folder it was given', () => {
    expect(result.dbPath).toBe(join(stateDir, 'demo.db'))
    expect(existsSync(result.dbPath)).toBe(true)
  })

  it('revokes the researcher through the loop detector, at the 5th identical search', () => {
    const researcher = result.agents.find((agent) => agent.handle === RESEARCHER)
    expect(researcher?.status).toBe('revoked')
    expect(researcher?.stoppedBy).toBe('runaway_detected')
    const trip = result.audit.find(
      (entry) => entry.type === 'runaway' && entry.data.action === 'revoke',
    )
    expect(trip?.data).toMatchObject({ detector: 'repeated-tool-call', enforced: true })
    const revoked = result.audit.find((entry) => entry.type === 'revoked')
    expect(revoked?.data).toMatchObject({ by: 'runaway' })
    // Four searches ran and were paid; the fifth identical one was refused before it ran.
    expect(result.researcher.searches).toBe(4)
    expect(result.researcher.modelCalls).toBe(5)
  })

  it('delivers the signed 80% alert before the revocation, then the runaway and revoked alerts', () => {
    const threshold = result.webhooks.find((hook) => hook.event.type === 'threshold')
    expect(threshold?.signatureValid).toBe(true)
    expect(threshold?.event).toMatchObject({ agent: RESEARCHER, thresholdPct: 0.8 })
    expect(result.revokedAtMs).toBeDefined()
    expect(threshold?.atMs).toBeLessThan(result.revokedAtMs as number)
    const types = result.webhooks.map((hook) => hook.event.type)
    expect(types).toEqual(expect.arrayContaining(['threshold', 'runaway', 'revoked']))
    expect(result.webhooks.every((hook) => hook.signatureValid)).toBe(true)
  })

  it('cuts the researcher’s in-flight summary stream with AgentRevokedError', () => {
    expect(result.researcher.summaryEndedWith).toBe('AgentRevokedError')
    expect(result.researcher.summaryChunks).toBeGreaterThan(0)
  })

  it('refuses a replay of the revoked credential with 401, where it got 200 before', async () => {
    expect(result.researcher.firstSearch?.status).toBe(200)
    expect(result.researcher.replay.status).toBe(401)
    expect(result.researcher.replay.body).toMatchObject({ error: { code: 'agent_revoked' } })
  })

  it('leaves the other four agents active, under their caps, with all their work done', () => {
    const others = result.agents.filter((agent) => agent.handle !== RESEARCHER)
    expect(others.map((agent) => agent.handle).sort()).toEqual([
      'billing-agent-4',
      'data-fetcher-agent-3',
      'publisher-agent-1',
      'writer-agent-2',
    ])
    for (const agent of others) {
      expect(agent.status).toBe('active')
      expect(agent.stoppedBy).toBeUndefined()
      expect(agent.spent).toBeGreaterThan(0)
      expect(agent.spent).toBeLessThan(agent.spendingCap)
      expect(agent.done).toBe(agent.planned)
    }
    expect(new Set(others.map((agent) => agent.framework))).toEqual(
      new Set(['LangChain', 'Mastra', 'AI SDK']),
    )
  })

  it('lets the other four keep working after the revocation, as the database shows', async () => {
    // A fresh kill switch on the demo's database: the state outlives the demo's process.
    const ks = createKillSwitch({ store: sqliteStore(result.dbPath) })
    try {
      const revokedAt = (await ks.audit(RESEARCHER)).find((entry) => entry.type === 'revoked')?.at
      expect(revokedAt).toBeDefined()
      for (const handle of [
        'writer-agent-2',
        'publisher-agent-1',
        'billing-agent-4',
        'data-fetcher-agent-3',
      ]) {
        const entries = await ks.audit(handle)
        const settledAfter = entries.filter(
          (entry) => entry.type === 'settled' && entry.at >= (revokedAt as number),
        )
        expect(settledAfter.length, handle).toBeGreaterThan(0)
        expect(entries.some((entry) => entry.type === 'revoked' || entry.type === 'denied')).toBe(
          false,
        )
      }
    } finally {
      await ks.close()
      await ks.store.close()
    }
  })

  it('keeps the researcher within its cap: the blast radius', () => {
    const researcher = result.agents.find((agent) => agent.handle === RESEARCHER)
    expect(researcher?.spent).toBeGreaterThan(0)
    expect(researcher?.spent).toBeLessThanOrEqual(researcher?.spendingCap as number)
  })

  it('prints the timeline, the table, the audit trail and the CLI commands, never a credential', () => {
    const output = lines.join('\n')
    expect(output).not.toMatch(FULL_CREDENTIAL)
    expect(output).toContain('REVOKED')
    expect(output).toContain('Spend against cap')
    expect(output).toContain(`Audit trail of ${RESEARCHER}`)
    expect(output).toContain(`agents list --store sqlite:${result.dbPath}`)
    expect(output).toContain(`audit ${RESEARCHER} --store sqlite:${result.dbPath}`)
    // No colour codes when the output is not a terminal.
    expect(output).not.toContain('\u001b[')
  })
  // Last: it runs the demo again in the same folder.
  it('runs again in the same folder from a fresh store: the last run revoked nothing of this one', async () => {
    const again = await runDemo({ stateDir, write: () => undefined })
    // The same story: four paid searches, then the loop detector revokes the researcher.
    expect(again.researcher.searches).toBe(4)
    const revoked = again.audit.filter((entry) => entry.type === 'revoked')
    expect(revoked).toHaveLength(1)
    expect(revoked[0]?.data).toMatchObject({ by: 'runaway' })
  }, 60_000)
})
