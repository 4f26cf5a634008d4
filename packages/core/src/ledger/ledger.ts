// The ledger, written once. Every change to an agent's money is one of these transitions,
// run atomically by a store over its LedgerStorage (memory: one synchronous step; sqlite: one
// write transaction). Redis runs a port of this file as Lua, held to it by the differential
// test. Amounts are integer micro-dollars; times are the store's clock in ms.
//
// A hold ends exactly once, in one of three ways:
// - settled at its real cost;
// - released, when the caller proves nothing can have been spent (the request never left);
// - lapsed, when its lease ran out: its owner vanished, so money may have left. A lapsed
//   hold is CHARGED at its full amount, as unreconciled spend; a settle that arrives later
//   replaces the charge with the real cost, once.
// Invariant: spent + held <= cap after every reserve; settles and lapses may pass the cap
// (the money is gone), and then nothing more is reserved. Running totals saturate at
// MAX_TOTAL_MICROS (ledger-input.ts), so every figure stored stays a safe integer.
import type { AuditEntry } from '../audit.js'
import { AgentNotFoundError, ConcurrentUpdateError, InvalidConfigError } from '../errors.js'
import type {
  AgentPatch,
  AgentRecord,
  BudgetRecord,
  LevelRefusal,
  LimitRecord,
  NewAgentRecord,
  ReleaseRequest,
  ReleaseResult,
  RenewRequest,
  RenewResult,
  ReserveRequest,
  ReserveResult,
  SettleRequest,
  SettleResult,
} from '../store.js'
import { effectiveCap, grantExpiredEntry } from './approvals.js'
import { checkId, checkMicros, checkTime, checkTtl, saturated } from './ledger-input.js'
import type { HoldRecord, LedgerStorage } from './ledger-storage.js'
import { collectLevels, type Level, runBudgetId } from './levels.js'

/** The levels of a hold on no window and no budget (most holds): one array, never written. */
const NO_LEVELS: readonly string[] = Object.freeze([])

/**
 * Adds `spent` and `held` (either may be negative) to each window a hold touched. A window's
 * spent saturates (MAX_TOTAL_MICROS): settles are unbounded in number. Its held does not need
 * to: every reserve keeps it within the window's limit.
 */
function applyToLevels(
  storage: LedgerStorage,
  keys: readonly string[],
  spent: number,
  held: number,
): void {
  for (const key of keys) {
    const usage = storage.usage(key)
    storage.saveUsage(key, {
      spentMicros: saturated(usage.spentMicros + spent),
      heldMicros: usage.heldMicros + held,
    })
  }
}

function withLevels(
  audit: AuditEntry | undefined,
  levels: readonly string[],
): AuditEntry | undefined {
  return audit && levels.length > 0
    ? { ...audit, data: { ...audit.data, levels: [...levels] } }
    : audit
}

/** The audit entry written when a hold lapses: charged, not released. */
export function lapsedEntry(handle: string, hold: HoldRecord, now: number): AuditEntry {
  const amount = hold.amountMicros / 1_000_000
  // What it was for, when its reserve said (red team r20: three lapses of one crash, each
  // only an amount; which model is the question at 2 AM).
  const label = hold.label ? ` for ${hold.label}` : ''
  return {
    at: now,
    handle,
    type: 'lapsed',
    summary: `hold of $${amount}${label} lapsed at ${new Date(hold.expiresAt).toISOString()} with no settlement: charged in full as unreconciled spend until its settlement arrives`,
    data: {
      holdId: hold.id,
      amount,
      expiredAt: hold.expiresAt,
      unreconciled: amount,
      ...(hold.label ? { for: hold.label } : {}),
    },
  }
}

/**
 * How long a charge on the ledger's own figures stays open to correction: a lapsed hold, a
 * settle at a bound (`unreconciled`). A provider bills monthly; this is its cycle with days to
 * spare for the invoice. Past it a store forgets the hold, and writeOff makes its charge final.
 */
export const UNRECONCILED_RETENTION_MS = 35 * 24 * 3600_000

/**
 * A store forgets a lapsed hold (past UNRECONCILED_RETENTION_MS, or past what a memory store
 * keeps): its charge stays spent, final, and leaves `unreconciled`, audited. Without this the
 * agent's `unreconciled` kept charges no reconcile could reach any more (red team rt32). The
 * caller deletes the hold in the same step; the money of the windows it was in is unchanged.
 */
export function writeOff(storage: LedgerStorage, handle: string, hold: HoldRecord, now: number) {
  const agent = storage.agent(handle)
  if (!agent || hold.state !== 'lapsed') return
  storage.saveAgent({
    ...agent,
    unreconciledMicros: agent.unreconciledMicros - hold.chargedMicros,
  })
  storage.appendAudit(writtenOffEntry(handle, hold, now))
}

/**
 * The audit entry of a write-off: a settlement of the hold at what it charged, replacing
 * that charge (so the log still sums to `spent`, and the hold reads as ended).
 */
export function writtenOffEntry(handle: string, hold: HoldRecord, now: number): AuditEntry {
  const charged = hold.chargedMicros / 1_000_000
  const days = Math.floor((now - hold.updatedAt) / 86_400_000)
  return {
    at: now,
    handle,
    type: 'settled',
    summary: `unreconciled charge of $${charged} for hold ${hold.id} written off after ${days} days: no settlement corrected it, and the hold is forgotten; it stays spent, final`,
    data: { holdId: hold.id, cost: charged, outcome: 'written_off', replaces: charged },
  }
}

/** A grant is past its expiry: the sweep drops it and audits grant_expired. */
export function hasExpiredGrant(grants: readonly { expiresAt: number }[], now: number): boolean {
  return grants.some((grant) => grant.expiresAt <= now)
}

/** Charges every hold whose lease ran out by `now`. Returns the agent after the sweep. */
export function sweep(
  storage: LedgerStorage,
  handle: string,
  now: number,
): AgentRecord | undefined {
  const found = storage.agent(handle)
  if (!found) return undefined
  let agent = found
  if (hasExpiredGrant(agent.grants, now)) {
    for (const grant of agent.grants) {
      if (grant.expiresAt <= now) {
        storage.appendAudit(grantExpiredEntry(handle, grant.approvalId, grant.amountMicros, now))
      }
    }
    agent = { ...agent, grants: agent.grants.filter((grant) => grant.expiresAt > now) }
    storage.saveAgent(agent)
  }
  const due = storage.dueHolds(handle, now)
  if (due.length === 0) return agent
  let { spentMicros, heldMicros, unreconciledMicros } = agent
  for (const hold of due) {
    heldMicros -= hold.amountMicros
    spentMicros = saturated(spentMicros + hold.amountMicros)
    // Unreconciled is part of spent (the charges of lapsed holds, each first held within the
    // effective cap, itself at most MAX_TOTAL_MICROS): never above spent, so never past it.
    unreconciledMicros += hold.amountMicros
    storage.saveHold(handle, {
      ...hold,
      state: 'lapsed',
      chargedMicros: hold.amountMicros,
      updatedAt: now,
    })
    // In the windows it was held in too, held becomes spent.
    applyToLevels(storage, hold.levels, hold.amountMicros, -hold.amountMicros)
    storage.appendAudit(lapsedEntry(handle, hold, now))
  }
  const swept = { ...agent, spentMicros, heldMicros, unreconciledMicros }
  storage.saveAgent(swept)
  return swept
}

function withOutcome(
  audit: AuditEntry | undefined,
  outcome: string,
  levels: readonly string[] = [],
  replacesMicros?: number,
): AuditEntry | undefined {
  // An ending of a lapsed hold says which charge it takes back (`replaces`, dollars): the
  // log's charges then sum to `spent` (settled costs + lapse amounts - replaces) without
  // joining entries on their hold id (red team r25: a $0.30 lapse settled at $0.10 read $0.60).
  const replaces = replacesMicros === undefined ? {} : { replaces: replacesMicros / 1_000_000 }
  return withLevels(audit && { ...audit, data: { ...audit.data, outcome, ...replaces } }, levels)
}

/**
 * Checks a new agent's figures before any store writes it (the Redis create script repeats
 * these checks): a poisoned cap or time is a typed error naming the field, and no agent.
 * A cap has one bound wherever it is set, at creation as at an update: the ledger's.
 */
export function checkNewAgent(record: NewAgentRecord): void {
  checkMicros('capMicros', record.capMicros)
  checkTime('createdAt', record.createdAt)
  checkTime('updatedAt', record.updatedAt)
}

/**
 * Whether a stored agent is the one `record` creates: a create retried with the same record
 * (a timed-out create the store ran after all, red team rt41b: its credential, shown once,
 * was lost, and the retry refused as "exists") answers the agent; any other create of the
 * handle is refused. The credential hash is the proof: only the caller holding the credential
 * can send it.
 */
export function sameCreation(agent: AgentRecord, record: NewAgentRecord): boolean {
  const json = (value: unknown) => JSON.stringify(value)
  return (
    agent.credentialHash === record.credentialHash &&
    agent.capMicros === record.capMicros &&
    agent.createdAt === record.createdAt &&
    json(agent.policy) === json(record.policy) &&
    json(agent.limits) === json(record.limits ?? []) &&
    json(agent.budgets) === json(record.budgets ?? [])
  )
}

/** Holds `amountMicros` if the agent is active and `spent + held + amount <= cap`. */
export function reserve(storage: LedgerStorage, request: ReserveRequest): ReserveResult {
  checkId('holdId', request.holdId)
  const amount = checkMicros('amountMicros', request.amountMicros)
  const ttl = checkTtl('ttlMs', request.ttlMs)
  const now = checkTime('now', request.now)
  const agent = sweep(storage, request.handle, now)
  if (!agent) return { ok: false, reason: 'not_found' }
  if (agent.status === 'revoked') return { ok: false, reason: 'revoked', agent }
  const existing = storage.hold(request.handle, request.holdId)
  if (existing) {
    // A retried reserve with the same id must not hold twice; an ended id is never reused.
    if (existing.state === 'held') {
      return { ok: true, agent, expiresAt: existing.expiresAt, levels: existing.levels }
    }
    throw new InvalidConfigError(
      'holdId',
      `Invalid holdId: hold "${request.holdId}" has ended (${existing.state}); use a fresh id for a new hold.`,
    )
  }
  // The run's budget as this call holds against it (made on first use, its cap set by the
  // first call that gives one, never above this call's own cap); saved only if this reserve
  // is granted, and only when it is new or gains its cap.
  let runBudget: BudgetRecord | undefined
  let saveRun = false
  // The agent's own list as it is when nothing is added (most calls): no copy per reserve.
  let budgetIds: readonly string[] =
    request.budgets === undefined || request.budgets.length === 0
      ? agent.budgets
      : [...agent.budgets, ...request.budgets]
  if (request.run) {
    const id = runBudgetId(request.run.id)
    budgetIds = [...budgetIds, id]
    const held = runBudgetFor(storage.budget(id), request.run, now)
    runBudget = held.budget
    saveRun = held.save
  }
  const levels = collectLevels(
    agent,
    budgetIds,
    (id) => (id === runBudget?.id ? runBudget : storage.budget(id)),
    now,
  )
  const check = checkLevels(storage, agent, levels, amount, now)
  if (check.refusal) {
    return {
      ok: false,
      reason: 'cap',
      agent,
      refusal: check.refusal,
      availableMicros: check.available,
    }
  }
  if (runBudget && saveRun) storage.saveBudget(runBudget)
  const expiresAt = now + ttl
  const keys = levels.length === 0 ? NO_LEVELS : levels.map((level) => level.key)
  storage.saveHold(request.handle, {
    id: request.holdId,
    amountMicros: amount,
    expiresAt,
    state: 'held',
    chargedMicros: 0,
    updatedAt: now,
    levels: keys,
    // A plain field (undefined when not given): no spread on every reserve.
    label: request.label,
  })
  applyToLevels(storage, keys, 0, amount)
  const held = { ...agent, heldMicros: agent.heldMicros + amount }
  storage.saveAgent(held)
  // Past the cap itself, this hold draws on grants: say so, with the approvals behind them.
  const overCap = held.spentMicros + held.heldMicros - agent.capMicros
  const audit = withLevels(
    request.audit && overCap > 0
      ? { ...request.audit, data: { ...request.audit.data, grants: liveGrants(held, now) } }
      : request.audit,
    keys,
  )
  if (audit) storage.appendAudit(audit)
  return { ok: true, agent: held, expiresAt, levels: keys }
}

/** The approvals behind the grants still live at `now`. */
function liveGrants(agent: AgentRecord, now: number): string[] {
  return agent.grants.filter((grant) => grant.expiresAt > now).map((grant) => grant.approvalId)
}

/**
 * The run's budget a reserve that names `run` holds against, given the one stored (if any).
 * A call is never admitted past the cap it names itself: its lifetime limit is the lower of
 * the stored cap and `run.capMicros`. The stored budget keeps the first cap given: a run
 * made without one (a call with only a parent) takes this call's, saved (`save`) if the
 * reserve is granted, as a new run's budget is. A call without a cap is held to the stored
 * one. Every field of `run` is checked, on every reserve that names it.
 *
 * @example
 * runBudgetFor(stored, { id: 'job1', capMicros: 300_000 }, now) // limit min(stored cap, 300_000)
 */
export function runBudgetFor(
  stored: BudgetRecord | undefined,
  run: NonNullable<ReserveRequest['run']>,
  now: number,
): { budget: BudgetRecord; save: boolean } {
  if (!stored) return { budget: newRunBudget(run, now), save: true }
  // Checked as a new run's are (a poisoned cap or parent is refused by name), with no
  // record built: this runs on every reserve that names an existing run.
  checkRun(run)
  const cap = run.capMicros
  if (cap === undefined) return { budget: stored, save: false }
  const at = stored.limits.findIndex((limit) => limit.per === 'lifetime')
  if (at === -1) {
    const limits = [...stored.limits, { amountMicros: cap, per: 'lifetime' as const }]
    return { budget: { ...stored, limits, updatedAt: now }, save: true }
  }
  if (cap >= (stored.limits[at]?.amountMicros ?? cap)) return { budget: stored, save: false }
  const limits = stored.limits.map((limit, i) =>
    i === at ? { ...limit, amountMicros: cap } : limit,
  )
  return { budget: { ...stored, limits }, save: false }
}

/** A run's budget as its first granted reserve saves it: its cap, drawing on its parent's. */
export function newRunBudget(run: NonNullable<ReserveRequest['run']>, now: number): BudgetRecord {
  checkRun(run)
  const limits: LimitRecord[] =
    run.capMicros === undefined ? [] : [{ amountMicros: run.capMicros, per: 'lifetime' }]
  return {
    id: runBudgetId(run.id),
    limits,
    ...(run.parentId === undefined ? {} : { parentId: runBudgetId(run.parentId) }),
    createdAt: now,
    updatedAt: now,
  }
}

/** Refuses a run whose id, cap or parent the ledger cannot take, naming the field. */
function checkRun(run: NonNullable<ReserveRequest['run']>): void {
  checkId('run.id', run.id)
  if (run.capMicros !== undefined) checkMicros('run.capMicros', run.capMicros)
  if (run.parentId !== undefined) checkId('run.parentId', run.parentId)
}

/**
 * Checks `amount` against the agent's cap, then every level in order. Returns the first
 * level that cannot hold it, and the most any reserve could hold now (the tightest level).
 */
function checkLevels(
  storage: LedgerStorage,
  agent: AgentRecord,
  levels: readonly Level[],
  amount: number,
  now: number,
): { refusal?: LevelRefusal; available: number } {
  // Live grants from approvals raise the agent's own cap (never a budget's).
  const cap = effectiveCap(agent, now)
  let available = cap - agent.spentMicros - agent.heldMicros
  let refusal: LevelRefusal | undefined =
    available <= 0 || amount > available
      ? {
          level: 'agent',
          limitMicros: cap,
          spentMicros: agent.spentMicros,
          heldMicros: agent.heldMicros,
        }
      : undefined
  for (const level of levels) {
    const usage = storage.usage(level.key)
    const room = level.limitMicros - usage.spentMicros - usage.heldMicros
    if (!refusal && (room <= 0 || amount > room)) refusal = { ...level.refusal, ...usage }
    available = Math.min(available, room)
  }
  return { refusal, available: Math.max(0, available) }
}

/** Extends a live hold's lease to `now + ttlMs` (never shortens it). */
export function renew(storage: LedgerStorage, request: RenewRequest): RenewResult {
  checkId('holdId', request.holdId)
  const ttl = checkTtl('ttlMs', request.ttlMs)
  const now = checkTime('now', request.now)
  const agent = sweep(storage, request.handle, now)
  if (!agent) throw new AgentNotFoundError(request.handle)
  // A revoked agent's holder hears it here too (a missed event must not leave a call running).
  const revoked =
    agent.status === 'revoked'
      ? { revoked: { reason: agent.revokedReason ?? '', at: agent.revokedAt ?? now } }
      : {}
  const hold = storage.hold(request.handle, request.holdId)
  if (hold?.state !== 'held') return { renewed: false, ...revoked }
  const expiresAt = Math.max(hold.expiresAt, now + ttl)
  if (expiresAt !== hold.expiresAt) storage.saveHold(request.handle, { ...hold, expiresAt })
  return { renewed: true, expiresAt, ...revoked }
}

/** Turns a hold into spend at its real cost. Idempotent per hold id. */
export function settle(storage: LedgerStorage, request: SettleRequest): SettleResult {
  checkId('holdId', request.holdId)
  const cost = checkMicros('costMicros', request.costMicros)
  const now = checkTime('now', request.now)
  const agent = sweep(storage, request.handle, now)
  if (!agent) throw new AgentNotFoundError(request.handle)
  const hold = storage.hold(request.handle, request.holdId)
  if (hold?.state === 'settled') return raiseSettled(storage, request, agent, hold, cost, now)
  // A bound for a lapsed hold (its own retry, or a lapse first, which charged it whole): it
  // stays as charged, unreconciled, for the truth to correct.
  if (request.unreconciled === true && hold?.state === 'lapsed') {
    return { outcome: 'duplicate', agent }
  }
  if (request.onlyIfLapsed === true && hold?.state !== 'lapsed') {
    return { outcome: 'not_lapsed', agent }
  }
  if (request.atMostCharged === true && hold?.state === 'lapsed' && cost > hold.chargedMicros) {
    return { outcome: 'above_charge', agent, chargedMicros: hold.chargedMicros }
  }
  let { spentMicros, heldMicros, unreconciledMicros } = agent
  let outcome: SettleResult['outcome']
  const levels = hold?.levels ?? []
  if (hold?.state === 'held') {
    heldMicros -= hold.amountMicros
    spentMicros = saturated(spentMicros + cost)
    applyToLevels(storage, levels, cost, -hold.amountMicros)
    // A bound, not the truth: charged as a lapse is, and corrected the same ways.
    if (request.unreconciled === true) unreconciledMicros += cost
    outcome = request.unreconciled === true ? 'unreconciled' : 'settled'
  } else if (hold?.state === 'lapsed') {
    // The truth arrived: the real cost replaces the lapse's charge, once.
    spentMicros = saturated(spentMicros + cost - hold.chargedMicros)
    unreconciledMicros -= hold.chargedMicros
    applyToLevels(storage, levels, cost - hold.chargedMicros, 0)
    outcome = 'corrected'
  } else {
    // Never held here, pruned, or released: money reported spent is recorded as spent.
    spentMicros = saturated(spentMicros + cost)
    outcome = 'late'
  }
  storage.saveHold(request.handle, {
    id: request.holdId,
    amountMicros: hold?.amountMicros ?? 0,
    expiresAt: hold?.expiresAt ?? now,
    state: outcome === 'unreconciled' ? 'lapsed' : 'settled',
    chargedMicros: cost,
    updatedAt: now,
    // Its window keys kept only where a later settle may raise its charge (a correction of a
    // lapse: an operator's reconcile, then its owner's own settle); a late settle (no hold
    // known) lands on the agent only: its windows are unknown.
    levels: hold?.state === 'lapsed' || outcome === 'unreconciled' ? levels : [],
  })
  const settled = { ...agent, spentMicros, heldMicros, unreconciledMicros }
  storage.saveAgent(settled)
  const audit = withOutcome(
    request.audit,
    outcome,
    hold?.state === 'held' || hold?.state === 'lapsed' ? levels : [],
    hold?.state === 'lapsed' ? hold.chargedMicros : undefined,
  )
  if (audit) storage.appendAudit(audit)
  return { outcome, agent: settled }
}

/**
 * A settle of a hold settled before. The same figure again is the outbox's retry, and a lower
 * one changes nothing. A higher one is the truth arriving after another figure (an operator's
 * reconcile made while the hold's owner was only frozen, then the owner's own settle: red
 * team rt30, the ledger left below the provider's bill and nothing audited): it raises the
 * charge, audited with the figure it replaces, in every window it was charged in (red team
 * rt31: on the agent alone, a day limit and a shared budget were passed). A reconcile or a
 * bound never raises one.
 */
function raiseSettled(
  storage: LedgerStorage,
  request: SettleRequest,
  agent: AgentRecord,
  hold: HoldRecord,
  cost: number,
  now: number,
): SettleResult {
  const lower = cost <= hold.chargedMicros
  if (lower || request.onlyIfLapsed === true || request.unreconciled === true) {
    return { outcome: 'duplicate', agent }
  }
  const raise = cost - hold.chargedMicros
  const raised = { ...agent, spentMicros: saturated(agent.spentMicros + raise) }
  applyToLevels(storage, hold.levels, raise, 0)
  storage.saveHold(request.handle, { ...hold, chargedMicros: cost, updatedAt: now })
  storage.saveAgent(raised)
  const audit = withOutcome(request.audit, 'raised', hold.levels, hold.chargedMicros)
  if (audit) storage.appendAudit(audit)
  return { outcome: 'raised', agent: raised }
}

/**
 * Ends a hold without spending: the caller proves the request never left. A lapsed hold's
 * charge is withdrawn the same way (the owner came back and knows nothing was sent).
 */
export function release(storage: LedgerStorage, request: ReleaseRequest): ReleaseResult {
  checkId('holdId', request.holdId)
  const now = checkTime('now', request.now)
  const agent = sweep(storage, request.handle, now)
  if (!agent) throw new AgentNotFoundError(request.handle)
  const hold = storage.hold(request.handle, request.holdId)
  if (!hold) {
    // Released before its reserve landed: remember it, so that reserve cannot hold it later.
    storage.saveHold(request.handle, {
      id: request.holdId,
      amountMicros: 0,
      expiresAt: now,
      state: 'released',
      chargedMicros: 0,
      updatedAt: now,
      levels: [],
    })
    return { outcome: 'none', agent }
  }
  if (hold.state !== 'held' && hold.state !== 'lapsed') return { outcome: 'none', agent }
  const released =
    hold.state === 'held'
      ? { ...agent, heldMicros: agent.heldMicros - hold.amountMicros }
      : {
          ...agent,
          spentMicros: agent.spentMicros - hold.chargedMicros,
          unreconciledMicros: agent.unreconciledMicros - hold.chargedMicros,
        }
  if (hold.state === 'held') applyToLevels(storage, hold.levels, 0, -hold.amountMicros)
  else applyToLevels(storage, hold.levels, -hold.chargedMicros, 0)
  storage.saveHold(request.handle, { ...hold, state: 'released', chargedMicros: 0, updatedAt: now })
  storage.saveAgent(released)
  const audit = withOutcome(
    request.audit,
    hold.state === 'held' ? 'released' : 'lapse_withdrawn',
    hold.levels,
    hold.state === 'lapsed' ? hold.chargedMicros : undefined,
  )
  if (audit) storage.appendAudit(audit)
  return { outcome: 'released', agent: released }
}

/** Changes the cap and/or policy. */
export function updateAgent(
  storage: LedgerStorage,
  handle: string,
  patch: AgentPatch,
  now: number,
  audit?: AuditEntry,
): AgentRecord {
  if (patch.capMicros !== undefined) checkMicros('capMicros', patch.capMicros)
  for (const [i, limit] of (patch.limits ?? []).entries()) {
    checkMicros(`limits.${i}.amountMicros`, limit.amountMicros)
  }
  for (const [i, id] of (patch.budgets ?? []).entries()) {
    if (!storage.budget(checkId(`budgets.${i}`, id))) {
      throw new InvalidConfigError(
        `budgets.${i}`,
        `Invalid budgets.${i}: no budget has the id "${id}"; create it first (ks.budgets.create).`,
      )
    }
  }
  checkTime('now', now)
  const agent = sweep(storage, handle, now)
  if (!agent) throw new AgentNotFoundError(handle)
  // A policy made from one that has changed since would undo that change: refused.
  if (patch.policyFrom !== undefined && JSON.stringify(agent.policy) !== patch.policyFrom) {
    throw new ConcurrentUpdateError(handle)
  }
  const updated: AgentRecord = {
    ...agent,
    capMicros: patch.capMicros ?? agent.capMicros,
    policy: patch.policy ?? agent.policy,
    limits: patch.limits ?? agent.limits,
    budgets: patch.budgets ?? agent.budgets,
    updatedAt: now,
  }
  storage.saveAgent(updated)
  if (audit) storage.appendAudit(audit)
  return updated
}

/** Revokes for good. Revoking twice keeps the first reason and writes nothing. */
export function revoke(
  storage: LedgerStorage,
  handle: string,
  reason: string,
  now: number,
  audit?: AuditEntry,
): { agent: AgentRecord; alreadyRevoked: boolean } {
  checkTime('now', now)
  const agent = storage.agent(handle)
  if (!agent) throw new AgentNotFoundError(handle)
  if (agent.status === 'revoked') return { agent, alreadyRevoked: true }
  const revoked: AgentRecord = {
    ...agent,
    status: 'revoked',
    revokedAt: now,
    revokedReason: reason,
    updatedAt: now,
  }
  storage.saveAgent(revoked)
  if (audit) storage.appendAudit(audit)
  return { agent: revoked, alreadyRevoked: false }
}
