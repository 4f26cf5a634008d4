// `npm run demo`: the incident this project exists for, replayed offline in a few seconds.
//
// Five agents, each with its own credential and spending cap, on the real framework adapters
// (AI SDK, LangChain, Mastra), driven by scripted mock models, sharing one embedded sqlite
// store. The researcher loops on a paid search tool: its 80% alert goes to a webhook
// receiver (signature verified), the loop detector revokes it, its in-flight stream is cut,
// and a replay of its credential is refused with 401. The other four finish their work:
// the blast radius is the researcher's cap.
import { randomBytes } from 'node:crypto'
import { mkdirSync, rmSync } from 'node:fs'
import { isAbsolute, join, relative, resolve } from 'node:path'
import {
  type AuditEntry,
  createKillSwitch,
  formatUsd,
  spentPercent,
  sqliteStore,
  sqliteStoreFiles,
} from '@killswitch/core'
import { runBilling } from './agents/billing.ts'
import { runDataFetcher } from './agents/data-fetcher.ts'
import { runPublisher } from './agents/publisher.ts'
import { type ResearcherOutcome, runResearcher, SEARCH_PRICE_USD } from './agents/researcher.ts'
import { runWriter } from './agents/writer.ts'
import { type AgentRow, auditTrail, spendTable, whereStateLives } from './report.ts'
import type { AgentOutcome } from './scripted.ts'
import { type SearchApiAnswer, type SearchApiResponse, startSearchApi } from './search-api.ts'
import { createStyle, shouldColour } from './style.ts'
import { createTimeline, type TimelineEntry } from './timeline.ts'
import { type ReceivedWebhook, startWebhookReceiver } from './webhook-receiver.ts'

/** Options of runDemo. */
export interface DemoOptions {
  /** The folder of the demo database. Default `.killswitch` under the working directory. */
  stateDir?: string
  /** Where output lines go. Default: stdout. */
  write?: (line: string) => void
  /** Colour the output. Default: on a TTY without NO_COLOR, when writing to stdout. */
  colour?: boolean
}

/** What happened, for the test (and anyone scripting around the demo). */
export interface DemoResult {
  dbPath: string
  agents: AgentRow[]
  researcher: ResearcherOutcome & {
    /** The search API's answer to the researcher's first search, before the revocation. */
    firstSearch: SearchApiAnswer | undefined
    /** The search API's answer to a replay of the revoked credential. */
    replay: SearchApiResponse
  }
  webhooks: ReceivedWebhook[]
  /** When the researcher was revoked (ms since the start), if it was. */
  revokedAtMs: number | undefined
  audit: AuditEntry[]
  timeline: TimelineEntry[]
}

const RESEARCHER = 'researcher-agent-7'
const AGENTS = [
  { handle: RESEARCHER, spendingCap: 1 },
  { handle: 'writer-agent-2', spendingCap: 0.1 },
  { handle: 'publisher-agent-1', spendingCap: 0.01 },
  { handle: 'billing-agent-4', spendingCap: 0.01 },
  { handle: 'data-fetcher-agent-3', spendingCap: 0.25 },
] as const
/** The paid tool of each agent that has one, to name it on the timeline. */
const PAID_TOOLS: Record<string, string> = {
  [RESEARCHER]: 'web_search',
  'data-fetcher-agent-3': 'fetch_dataset',
}

/** Deletes the previous run's database: handles are unique, so every run starts fresh. */
function freshDatabase(stateDir: string): string {
  mkdirSync(stateDir, { recursive: true })
  const dbPath = join(stateDir, 'demo.db')
  // Every file of the store: a revocations file kept would be refused beside a new database.
  for (const file of sqliteStoreFiles(dbPath)) rmSync(file, { force: true })
  return dbPath
}

function shown(path: string): string {
  const fromHere = relative(process.cwd(), path)
  return fromHere.startsWith('..') || isAbsolute(fromHere) ? path : fromHere
}

/**
 * Runs the demo and resolves with what happened.
 *
 * @example
 * const result = await runDemo({ stateDir: mkdtempSync(join(tmpdir(), 'demo-')), write: () => {} })
 * result.agents.find((agent) => agent.handle === 'researcher-agent-7')?.status // 'revoked'
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`))
  const style = createStyle(
    options.colour ?? (options.write === undefined && shouldColour(process.stdout, process.env)),
  )
  const dbPath = freshDatabase(resolve(options.stateDir ?? '.killswitch'))
  // The alert receiver below listens on 127.0.0.1: private webhook targets are refused
  // unless the operator allows them, so allow that one host.
  const ks = createKillSwitch({ store: sqliteStore(dbPath), allowPrivateWebhooks: ['127.0.0.1'] })
  const timeline = createTimeline({ write, style })
  // Shared with the receiver only; a real one would come from your secret manager.
  const secret = randomBytes(32).toString('hex')
  const receiver = await startWebhookReceiver({ secret, timeline })
  const searchApi = await startSearchApi({ killSwitch: ks, latencyMs: 60 })

  write(style.bold('killswitch demo: five agents, one of them loops on a paid search tool'))
  write(
    style.dim(
      `${RESEARCHER}'s scripted model asks for the same ${formatUsd(SEARCH_PRICE_USD)} web search on every step;`,
    ),
  )
  write(
    style.dim(
      'the kill switch (default settings) revokes an agent at its 5th identical tool call.',
    ),
  )
  write('')
  write(style.bold('Timeline'))
  try {
    const credentials = new Map<string, string>()
    for (const { handle, spendingCap } of AGENTS) {
      const agent = await ks.agents.create({ handle, spendingCap })
      await ks.agents.setAlert(handle, { thresholdPct: 0.8, webhookUrl: receiver.url, secret })
      credentials.set(handle, agent.credential)
      // The credential is shown once at creation, and here only as a prefix.
      timeline.line(
        handle,
        `created: cap ${formatUsd(spendingCap)}, alert at 80%, credential ${agent.credential.slice(0, 6)}…`,
      )
    }
    const credential = (handle: string) => credentials.get(handle) as string

    // The live timeline: what the kill switch decides, as it decides it.
    const calls = new Map<string, number>()
    let revokedAtMs: number | undefined
    const unsubscribe = [
      ks.on('settled', (event) => {
        calls.set(event.handle, (calls.get(event.handle) ?? 0) + 1)
        if (event.kind !== 'tool') return
        const pct = spentPercent(event.spent, event.spendingCap)
        timeline.line(
          event.handle,
          `paid ${PAID_TOOLS[event.handle] ?? 'tool'} ${formatUsd(event.cost)}: spent ${formatUsd(event.spent)} of ${formatUsd(event.spendingCap)} (${pct}%)`,
        )
      }),
      ks.on('threshold', (event) =>
        timeline.line(
          event.handle,
          `spend crossed ${event.thresholdPct * 100}% of the cap (${formatUsd(event.spent)} of ${formatUsd(event.spendingCap)}): alert sent`,
          'alert',
        ),
      ),
      ks.on('runaway', (event) =>
        timeline.line(
          event.handle,
          event.action === 'warn'
            ? `loop suspected (warning only): ${event.summary}`
            : `RUNAWAY ${event.detector}: ${event.summary} -> ${event.action}`,
          event.action === 'warn' ? 'warn' : 'stop',
        ),
      ),
      ks.on('revoked', (event) => {
        // The runaway's evidence is on the line above; say what revocation means instead.
        const why = event.reason.startsWith('runaway:') ? 'by the runaway detector' : event.reason
        const entry = timeline.line(
          event.handle,
          `REVOKED (${why}): its credential is refused everywhere, in-flight calls are cut`,
          'stop',
        )
        if (event.handle === RESEARCHER) revokedAtMs ??= entry.atMs
      }),
      // A runaway refusal is on the timeline already, as its RUNAWAY line.
      ks.on('denied', (event) => {
        if (event.rule !== 'runaway')
          timeline.line(event.handle ?? 'unknown agent', `refused: ${event.message}`, 'stop')
      }),
    ]

    const researcherRun = runResearcher({
      ks,
      timeline,
      handle: RESEARCHER,
      credential: credential(RESEARCHER),
      searchApi,
    })
    // The healthy agents' last tasks come after the incident: they carry on, untouched.
    const afterIncident = researcherRun.then(
      () => {},
      () => {},
    )
    const healthy = (handle: string) => ({
      ks,
      timeline,
      handle,
      credential: credential(handle),
      afterIncident,
    })
    const [researcher, ...others] = await Promise.all([
      researcherRun,
      runWriter(healthy('writer-agent-2')),
      runPublisher(healthy('publisher-agent-1')),
      runBilling(healthy('billing-agent-4')),
      runDataFetcher(healthy('data-fetcher-agent-3')),
    ])

    // Someone (or something) replays the researcher's credential after the fact.
    const replay = await searchApi.search(credential(RESEARCHER), 'agent budget overruns 2026')
    const firstSearch = searchApi.answered.find((answer) => answer.handle === RESEARCHER)
    const replayCode = (replay.body as { error?: { code?: string } }).error?.code ?? 'no error code'
    timeline.line(
      RESEARCHER,
      `replayed its credential at the search API: ${replay.status} ${replayCode} (the same request got ${firstSearch?.status ?? 'nothing'} before the revocation)`,
      replay.status === 401 ? 'ok' : 'stop',
    )
    for (const agent of others) {
      if (agent.done === agent.planned)
        timeline.line(agent.handle, `finished all ${agent.planned} tasks, untouched`, 'ok')
    }
    // The revocation and runaway alerts are on their way: wait for them (briefly) so the
    // timeline is complete before the report.
    await receiver.waitFor(['threshold', 'runaway', 'revoked'], 3_000)
    for (const stop of unsubscribe) stop()

    const outcomes: AgentOutcome[] = [researcher, ...others]
    const agents = await Promise.all(
      outcomes.map(async (outcome) => {
        const state = await ks.agents.get(outcome.handle)
        return {
          handle: outcome.handle,
          framework: outcome.framework,
          status: state.status,
          spent: state.spent,
          spendingCap: state.spendingCap,
          calls: calls.get(outcome.handle) ?? 0,
          done: outcome.done,
          planned: outcome.planned,
          ...(outcome.stoppedBy === undefined ? {} : { stoppedBy: outcome.stoppedBy }),
        }
      }),
    )
    const audit = await ks.audit(RESEARCHER)

    write('')
    write(style.bold('Spend against cap'))
    for (const line of spendTable(agents, style)) write(`  ${line}`)
    const blast = agents.find((agent) => agent.handle === RESEARCHER)
    write(
      `  Blast radius: ${RESEARCHER}'s cap (${formatUsd(blast?.spendingCap ?? 0)}); it spent ${formatUsd(blast?.spent ?? 0)}. The other four never noticed.`,
    )
    write('')
    write(style.bold(`Audit trail of ${RESEARCHER}`))
    for (const line of auditTrail(audit, style)) write(`  ${line}`)
    write('')
    for (const line of whereStateLives(shown(dbPath), RESEARCHER, style)) write(line)

    return {
      dbPath,
      agents,
      researcher: { ...researcher, firstSearch, replay },
      webhooks: [...receiver.received],
      revokedAtMs,
      audit,
      timeline: [...timeline.entries],
    }
  } finally {
    await ks.close()
    await ks.store.close()
    await searchApi.close()
    await receiver.close()
  }
}

if (import.meta.main) await runDemo()
