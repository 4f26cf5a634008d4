// Mastra's suspend and resume at the spending cap: a two-step workflow (research, then write
// the report) runs a Mastra agent on `killSwitchModel`. The report's model call would cross
// the cap; the agent's approvals are on with waitMs: 0, so the kill switch opens an approval
// request and throws ApprovalRequiredError at once, and the step `suspend()`s the workflow
// with the request's id. A person approves with ks.approvals.approve; `run.resume()` runs the
// step again, now under the grant, and the workflow finishes. Offline: the AI SDK's
// MockLanguageModelV4. Run: npm run example -- approvals-mastra
import { createKillSwitch, findKillSwitchError } from '@killswitch/core'
import { killSwitchLogFilter, killSwitchModel } from '@killswitch/mastra'
import { Agent } from '@mastra/core/agent'
import { ConsoleLogger } from '@mastra/core/logger'
import { Mastra } from '@mastra/core/mastra'
import { InMemoryStore } from '@mastra/core/storage'
import { createStep, createWorkflow } from '@mastra/core/workflows'
import { MockLanguageModelV4 } from 'ai/test'
import { z } from 'zod'

export interface MastraApprovalResult {
  /** The workflow's status after the first start, and the step it suspended in. */
  firstStatus: string
  suspendedStep: string | undefined
  /** What the step suspended with. */
  suspendPayload: { approvalId: string } | undefined
  finalStatus: string
  report: string | undefined
  modelCalls: number
  spent: number
  spendingCap: number
  held: number
  /** The approval entries of the audit log, in order. */
  audited: string[]
}

/** Answers every call with a paragraph; usage as OpenAI reports it: $0.0003 a call as gpt-4o-mini. */
function writerModel() {
  return new MockLanguageModelV4({
    provider: 'openai.chat',
    modelId: 'gpt-4o-mini',
    doGenerate: async () => ({
      content: [
        { type: 'text', text: 'Caps stop runaway agents; approvals let a person extend them.' },
      ],
      finishReason: { unified: 'stop', raw: 'stop' },
      usage: {
        inputTokens: { total: 1000, noCache: 1000, cacheRead: 0, cacheWrite: 0 },
        outputTokens: { total: 250, text: 250, reasoning: 0 },
      },
      warnings: [],
    }),
  })
}

export async function runMastraApprovals(
  log: (line: string) => void = console.log,
): Promise<MastraApprovalResult> {
  const ks = createKillSwitch()
  const agent = await ks.agents.create({
    handle: 'writer-mastra',
    spendingCap: 0.0003,
    approvals: { enabled: true, waitMs: 0 },
  })
  log(`provisioned ${agent.handle}: $${agent.spendingCap} cap, approvals on (waitMs: 0)`)
  ks.on('approval_requested', (event) =>
    log(`approval_requested ${event.id}: $${event.requested} past the cap (${event.reason})`),
  )

  const model = writerModel()
  const writer = new Agent({
    id: 'writer',
    name: 'writer',
    instructions: 'Write short, accurate research notes.',
    model: killSwitchModel(model, { killSwitch: ks, credential: agent.credential }),
  })

  const research = createStep({
    id: 'research',
    inputSchema: z.object({ topic: z.string() }),
    outputSchema: z.object({ notes: z.string() }),
    execute: async ({ inputData }) => {
      const { text } = await writer.generate(`Research ${inputData.topic}.`)
      return { notes: text }
    },
  })
  const report = createStep({
    id: 'report',
    inputSchema: z.object({ notes: z.string() }),
    outputSchema: z.object({ report: z.string() }),
    suspendSchema: z.object({ approvalId: z.string() }),
    resumeSchema: z.object({ approved: z.boolean() }),
    execute: async ({ inputData, suspend }) => {
      try {
        const { text } = await writer.generate(`Write the report from: ${inputData.notes}`)
        return { report: text }
      } catch (error) {
        // Past the cap with nobody's approval yet: suspend the workflow on the request.
        // Resumed, Mastra runs this step again and the call fits under the grant.
        const found = findKillSwitchError(error)
        if (found?.code !== 'approval_required') throw error
        const { approvalId } = found as typeof found & { approvalId: string }
        return await suspend({ approvalId })
      }
    },
  })
  const workflow = createWorkflow({
    id: 'research-report',
    inputSchema: z.object({ topic: z.string() }),
    outputSchema: z.object({ report: z.string() }),
  })
    .then(research)
    .then(report)
    .commit()
  // Suspended runs are snapshots in Mastra's storage (in memory here; a database in production,
  // so a run can resume in another process). The log filter makes each kill switch refusal
  // Mastra logs one line instead of a stack.
  new Mastra({
    workflows: { workflow },
    agents: { writer },
    storage: new InMemoryStore(),
    logger: new ConsoleLogger({ filter: killSwitchLogFilter({ report: log }) }),
  })

  const run = await workflow.createRun()
  const first = await run.start({ inputData: { topic: 'agent budget overruns' } })
  const suspendedStep = first.status === 'suspended' ? first.suspended[0]?.[0] : undefined
  const suspendPayload =
    first.status === 'suspended' ? first.suspendPayload?.[suspendedStep ?? ''] : undefined
  log(`workflow ${first.status} in step ${suspendedStep}: ${JSON.stringify(suspendPayload)}`)

  // The person: approves the request the run is suspended on.
  if (!suspendPayload) throw new Error('expected the workflow to suspend for approval')
  await ks.approvals.approve(suspendPayload.approvalId, { amount: 0.01, ttlMs: 600_000 })
  log(`approved ${suspendPayload.approvalId}: up to $0.01 more`)

  const final = await run.resume({ step: 'report', resumeData: { approved: true } })
  const reportText = final.status === 'success' ? final.result.report : undefined
  log(`workflow ${final.status}: "${reportText}"`)

  const state = await ks.agents.get(agent.handle)
  const audited = (await ks.audit(agent.handle))
    .filter((entry) => entry.type === 'approval')
    .map((entry) => String(entry.data.event))
  log(`spent $${state.spent} of the $${state.spendingCap} cap plus the grant`)
  await ks.close()
  return {
    firstStatus: first.status,
    suspendedStep,
    suspendPayload,
    finalStatus: final.status,
    report: reportText,
    modelCalls: model.doGenerateCalls.length,
    spent: state.spent,
    spendingCap: state.spendingCap,
    held: state.held,
    audited,
  }
}

if (import.meta.main) await runMastraApprovals()
