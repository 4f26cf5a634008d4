// Carrying out a runaway verdict: every verdict is audited and emitted; an enforced one
// ends the run or revokes the credential everywhere, and the call is refused. In shadow mode
// the audit says what would have happened and nothing is blocked.
import type { Engine } from './engine.js'
import { RunawayDetectedError } from './errors.js'
import { auditEntry, emit } from './guard-ledger.js'
import type { Observation, RunawayVerdict } from './runaway/types.js'
import type { AgentRecord } from './store.js'

/**
 * Applies a verdict. Returns the error that refuses the call, or undefined when the call
 * may go on (none, warn, shadow mode). `onStop` ends a run; `onRevoked` aborts the signal.
 */
export async function enforceVerdict(
  engine: Engine,
  agent: AgentRecord,
  verdict: RunawayVerdict,
  observation: Observation,
  hooks: { onStop(runId: string | undefined): void; onRevoked(agent: AgentRecord): void },
): Promise<RunawayDetectedError | undefined> {
  const action = verdict.action
  if (action === 'none') return undefined
  const finding = verdict.finding ?? { detector: 'unknown', status: 'trip' as const }
  const summary = finding.summary ?? `${finding.detector} tripped`
  const outcome = verdict.enforced ? action : `would have ${action} (shadow mode)`
  // A call refused while a throttle lasts is no new trip: the caller audits it as a refusal
  // (`denied`, naming the detector and what is left), and on-call was alerted when the
  // throttle began. As a `runaway` entry and event each read as a new detection (red team
  // r25: 14 `runaway` entries for 3 trips).
  const held = finding.evidence?.held === true
  if (!held) {
    engine.audit(
      auditEntry(
        agent.handle,
        'runaway',
        engine.now(),
        `${finding.detector}: ${summary}: ${outcome}`,
        {
          detector: finding.detector,
          status: finding.status,
          action,
          enforced: verdict.enforced,
          evidence: finding.evidence ?? {},
          observation: observation.kind,
        },
      ),
    )
    emit(engine, 'runaway', {
      handle: agent.handle,
      detector: finding.detector,
      action,
      enforced: verdict.enforced,
      summary,
    })
  }
  if (!verdict.enforced || action === 'warn') return undefined

  if (!held) engine.notifyRunaway(agent, finding, action)
  if (action === 'stop') hooks.onStop(observation.runId)
  if (action === 'revoke') {
    const reason = `runaway: ${finding.detector}: ${summary}`
    const { agent: revoked } = await engine.revoke(
      agent.handle,
      reason,
      'runaway',
      finding.detector,
    )
    hooks.onRevoked(revoked)
  }
  // A throttle says when calls are admitted again: what is left of it, not its length.
  const until = finding.evidence?.throttledUntil
  return new RunawayDetectedError({
    handle: agent.handle,
    detector: finding.detector,
    action,
    summary,
    ...(action === 'block' && typeof until === 'number'
      ? { retryAfterMs: Math.max(0, until - engine.now()) }
      : {}),
  })
}
