// How the Redis store runs on a Redis Cluster: which slot each script goes to, the steps of a
// reservation over several slots (redis-cluster-ledger.ts, redis-scripts-cluster.ts), and the
// global indexes (agents, credentials, budgets, approvals, revocations) that live in slots of
// their own and are written next to the records they index. redis-store.ts asks this for the
// cluster's half of each operation; on one Redis it is not used.

import type { AuditEntry, NewAgentRecord, ReserveRequest } from '@killswitch/core'
import type { Redis } from 'ioredis'
import type { ActivitySend } from './redis-activity-mirror.js'
import { NO_ACTIVITY } from './redis-activity-mirror.js'
import {
  applyOutbox,
  type ClusterLedgerContext,
  handleOf,
  holdBudgets,
  PartialHoldError,
  saveRuns,
} from './redis-cluster-ledger.js'
import type { RedisKeys } from './redis-keys.js'
import { missingBudget } from './redis-ledger-errors.js'
import {
  type AgentPatch,
  entryArgs,
  type ScriptCall,
  type ScriptCalls,
  validId,
} from './redis-script-calls.js'
import { CLUSTER_AGENT_SCRIPT } from './redis-scripts-cluster.js'

/** What a ledger script replies: an outcome, and the agent's record (or a detail) after it. */
export type LedgerReply = [string, unknown?, unknown?, unknown?, unknown?]

/** Scripts that reach keys of several slots: never sent to a cluster (it would refuse them). */
const NOT_ON_CLUSTER = new Set<string>(['killswitchDecideApprovalV2', 'killswitchApprovalsV2'])

export interface ClusterRoutingContext {
  client: Redis
  keys: RedisKeys
  calls: ScriptCalls
  ledger: ClusterLedgerContext
  /** One command with the store's deadline; failures become StoreUnavailableError. */
  call<T>(operation: string, command: () => Promise<T>): Promise<T>
  /** One script as it is (on the slot of its first key). */
  send(operation: string, call: ScriptCall): Promise<unknown>
  unavailable(operation: string, error: unknown): Error
  /** Takes this agent's buffered audit entries, to ride on a script; giveBack after a failure. */
  takeBuffered(handle: string): AuditEntry[]
  giveBack(entries: AuditEntry[]): void
}

export class ClusterRouting {
  readonly #c: ClusterRoutingContext

  constructor(context: ClusterRoutingContext) {
    this.#c = context
  }

  /** A store script on the cluster: an agent's on its slot (outbox applied), else as it is. */
  async run(operation: string, call: ScriptCall): Promise<unknown> {
    if (NOT_ON_CLUSTER.has(call.name)) {
      throw this.#c.unavailable(operation, new Error('this script spans slots'))
    }
    const name = CLUSTER_AGENT_SCRIPT[call.name]
    if (!name) return this.#c.send(operation, call)
    return this.onAgentSlot(operation, handleOf(call.keys[0] as string), { ...call, name })
  }

  /** An agent-slot cluster script: its outbox applied to the budget slots before it returns. */
  async onAgentSlot(operation: string, handle: string, call: ScriptCall): Promise<unknown> {
    const { keys } = this.#c
    const withOutbox = [...call.keys, keys.pending(handle), keys.outbox(handle)]
    // The hook sees the script's own reply, not the outbox riding with it.
    const onReply = call.onReply && ((reply: unknown) => call.onReply?.((reply as unknown[])[0]))
    const [inner, outbox] = (await this.#c.send(operation, {
      ...call,
      keys: withOutbox,
      onReply,
    })) as [unknown, string[]]
    const now = Number(call.args[1])
    await this.#c.call(operation, () =>
      applyOutbox(this.#c.ledger, handle, outbox, Number.isSafeInteger(now) ? now : 0),
    )
    return inner
  }

  // Agents -------------------------------------------------------------------------------

  /** The create script writes the agent's slot only (its credential and index come next). */
  createCall(call: ScriptCall): void {
    const [agentKey] = call.keys as [string]
    call.keys = [agentKey, `${agentKey}:cred`, `${agentKey}:created`]
  }

  /** Its credential, then the agents index: each written as it is again when repeated. */
  async indexAgent(
    record: Pick<NewAgentRecord, 'handle' | 'credentialHash' | 'createdAt'>,
  ): Promise<void> {
    const { client, keys } = this.#c
    await this.#c.call('index an agent', async () => {
      await client.set(keys.credential(record.credentialHash), record.handle)
      await client.zadd(keys.agents, String(record.createdAt), record.handle)
    })
  }

  credentialHandle(hash: string): Promise<string | null> {
    const key = this.#c.keys.credential(hash)
    return this.#c.call('look up a credential', () => this.#c.client.get(key))
  }

  handles(): Promise<string[]> {
    const index = this.#c.keys.agents
    return this.#c.call('list agents', () => this.#c.client.zrange(index, '0', '-1'))
  }

  /** Each budget is in its own slot: checked to exist, in order, before the update. */
  async checkBudgets(patch: AgentPatch): Promise<void> {
    for (const [i, id] of (patch.budgets ?? []).entries()) {
      if (!validId(id)) break
      const key = this.#c.keys.budget(id).record
      const found = await this.#c.call('update an agent', () => this.#c.client.exists(key))
      if (found === 0) throw missingBudget(`budgets.${i}`, id)
    }
  }

  /**
   * The revoke script writes the agent's slot only; the revocations index (read by
   * subscribers catching up) is written next, and the event published after it, so a
   * subscriber that missed the event finds the revocation in the index (revoked()).
   */
  revokeCall(call: ScriptCall): void {
    call.keys[6] = `${call.keys[0]}:revoked`
    call.args[7] = `${call.keys[0]}:unheard`
  }

  /**
   * Announces a revocation written on the agent's slot: indexed, then published. Idempotent
   * (the index keeps its first entry, subscribers publish a revocation once), so it is run
   * again by every later revoke of the agent: a revoke that failed here is finished by its
   * retry.
   */
  async revoked(handle: string, event: string): Promise<void> {
    await this.index(this.#c.keys.revocations, 'time', handle)
    const channel = this.#c.keys.channel
    await this.#c.call('revoke an agent', () => this.#c.client.publish(channel, event))
  }

  // Reservations over several slots ------------------------------------------------------

  /**
   * Steps 2 and 3 of a cluster reserve (redis-scripts-cluster.ts): the budgets, slot by slot,
   * then the hold confirmed on the agent's slot, or undone everywhere when a budget refused.
   */
  async reserveOnBudgets(
    request: ReserveRequest,
    partial: LedgerReply,
    activity: ActivitySend | undefined,
  ): Promise<LedgerReply> {
    const [, , , , budgetIds, available, version] = partial as unknown as [
      string,
      unknown,
      string,
      string[],
      string[],
      string,
      string,
    ]
    const { handle, holdId, now } = request
    const { calls, keys } = this.#c
    const agentKeys = keys.ledger(handle)
    const undo = (taken: string[]) =>
      this.onAgentSlot('reserve', handle, {
        name: 'killswitchCUndoV1',
        keys: agentKeys,
        args: [...calls.header(now), holdId, JSON.stringify(taken)],
      }) as Promise<LedgerReply>
    let held: Awaited<ReturnType<typeof holdBudgets>>
    try {
      held = await this.#c.call('reserve on a budget', () =>
        holdBudgets(this.#c.ledger, request, budgetIds, version, Number(available)),
      )
    } catch (error) {
      // Nothing was granted: whatever was held is given back, as a refusal would. If that
      // fails too, the pending hold lapses at the end of its lease and is charged (its
      // budgets' shares too, by their own slots): never lost, never spent twice.
      const cause = (error as { cause?: unknown }).cause
      await undo(cause instanceof PartialHoldError ? cause.held : []).catch(() => {})
      throw error
    }
    if (held.refused) {
      const undone = await undo(held.held)
      return ['cap', undone[1], held.refused.refusal, held.available]
    }
    const made = await this.#c.call('reserve on a budget', () =>
      saveRuns(this.#c.ledger, request, held.runs),
    )
    for (const id of made) await this.index(keys.budgets, 'seq', id)
    const carried = this.#c.takeBuffered(handle)
    try {
      return (await this.onAgentSlot('reserve', handle, {
        name: 'killswitchCConfirmV1',
        keys: [...agentKeys, keys.activity(handle), keys.activityState(handle)],
        onReply: activity?.onReserveReply,
        args: [
          ...calls.header(now),
          holdId,
          JSON.stringify(held.held),
          ...entryArgs(request.audit),
          ...(activity?.args ?? NO_ACTIVITY),
          ...carried.map((entry) => JSON.stringify(entry)),
        ],
      })) as LedgerReply
    } catch (error) {
      this.#c.giveBack(carried)
      throw error
    }
  }

  /**
   * A reserve refused on the agent's slot: the figure of the refusal is still the least room
   * of every level, the budgets' (on their slots) included.
   */
  async refusedFigure(request: ReserveRequest, reply: LedgerReply): Promise<LedgerReply> {
    const budgetIds = reply[4]
    if (!Array.isArray(budgetIds) || budgetIds.length === 0) return reply
    const { available } = await this.#c.call('reserve', () =>
      holdBudgets(this.#c.ledger, request, budgetIds, '0', Number(reply[3]), true),
    )
    return [reply[0], reply[1], reply[2], available]
  }

  // Budgets, usage, approvals, audit -----------------------------------------------------

  /** A budget script on the budget's slot: routed by its record, run with its prefix. */
  onBudgetSlot(call: ScriptCall, id: string): ScriptCall {
    const slot = this.#c.keys.budget(id)
    const args = [...call.args]
    args[4] = slot.slot
    const name =
      call.name === 'killswitchCreateBudgetV2'
        ? 'killswitchCCreateBudgetV1'
        : 'killswitchCUpdateBudgetV1'
    return { name, keys: [slot.record], args }
  }

  /** Budget records by id (every budget without ids): one read per slot. */
  budgets(operation: string, ids: string[]): Promise<unknown[]> {
    const { client, keys } = this.#c
    return this.#c.call(operation, async () => {
      const all = ids.length > 0 ? ids : await client.zrange(keys.budgets, '0', '-1')
      const records = await Promise.all(all.map((id) => client.hgetall(keys.budget(id).record)))
      return records.map((record) => Object.entries(record).flat())
    })
  }

  /** Each window's spent and held, read on its own slot (flat: spent, held, ...). */
  async usage(windowKeys: readonly string[]): Promise<string[]> {
    const { client, keys } = this.#c
    const replies = await this.#c.call('read usage', () =>
      Promise.all(
        windowKeys.map((key) => client.hmget(keys.usage(key), 'spentMicros', 'heldMicros')),
      ),
    )
    return replies.flatMap(([spent, held]) => [spent ?? '0', held ?? '0'])
  }

  /** Approvals live in their agent's slot: an open request is run there, then indexed. */
  openCall(call: ScriptCall, handle: string): void {
    call.args[4] = this.#c.keys.levelPrefix(handle)
  }

  async opened(id: string, handle: string): Promise<void> {
    const key = this.#c.keys.approvalAgent(id)
    await this.#c.call('open an approval request', () => this.#c.client.set(key, handle))
    await this.index(this.#c.keys.approvals, 'seq', id)
  }

  /** A decision runs on the slot of the approval's agent (none found: one with no approvals). */
  async decideCall(call: ScriptCall, id: unknown): Promise<void> {
    const { keys } = this.#c
    const key = keys.approvalAgent(String(id))
    const handle = validId(id)
      ? await this.#c.call('decide an approval request', () => this.#c.client.get(key))
      : null
    call.args[4] = handle === null ? `${keys.prefix}{idx}` : keys.levelPrefix(handle)
    call.keys = [handle === null ? keys.approvals : (keys.ledger(handle)[0] as string)]
    call.name = 'killswitchCDecideApprovalV1'
  }

  /** Approvals read on each agent's slot, in the global order. */
  async approvals(
    operation: string,
    now: number,
    status: string | undefined,
    ids: string[],
  ): Promise<LedgerReply> {
    if (!Number.isSafeInteger(now) || now < 0) return ['invalid', 'now']
    const { client, keys, calls } = this.#c
    return this.#c.call(operation, async () => {
      const all = ids.length > 0 ? ids : await client.zrange(keys.approvals, '0', '-1')
      const handles = await Promise.all(all.map((id) => client.get(keys.approvalAgent(id))))
      const byAgent = new Map<string, string[]>()
      all.forEach((id, i) => {
        const handle = handles[i]
        if (handle) byAgent.set(handle, [...(byAgent.get(handle) ?? []), id])
      })
      const found = new Map<string, unknown>()
      await Promise.all(
        [...byAgent].map(async ([handle, mine]) => {
          const [, records] = (await this.#c.send(operation, {
            name: 'killswitchCApprovalsV1',
            keys: [keys.ledger(handle)[0] as string],
            args: [...calls.header(now), keys.levelPrefix(handle), status ?? '', ...mine],
          })) as [string, string[][]]
          for (const fields of records)
            found.set(fields[fields.indexOf('id') + 1] as string, fields)
        }),
      )
      return ['ok', all.flatMap((id) => (found.has(id) ? [found.get(id)] : []))]
    })
  }

  /** Buffered audit entries: one script per agent (a pipeline must stay in one slot). */
  async appendAudit(byAgent: Map<string, AuditEntry[]>): Promise<void> {
    await Promise.all(
      [...byAgent].map(([handle, entries]) =>
        this.#c.send('write the audit log', this.#c.calls.auditAppend(handle, entries)),
      ),
    )
  }

  /** Adds to a global index of the cluster (its own slot), kept where it was if present. */
  async index(index: string, score: 'seq' | 'time', member: string): Promise<void> {
    const { keys } = this.#c
    const counter =
      index === keys.budgets
        ? keys.budgetSeq
        : index === keys.approvals
          ? keys.approvalSeq
          : keys.agentSeq
    await this.#c.send('update an index', {
      name: 'killswitchCIndexV1',
      keys: [index, counter],
      args: [score, member],
    })
  }
}
