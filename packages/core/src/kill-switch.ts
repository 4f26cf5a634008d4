// createKillSwitch: the entry point. It wires a store, prices, runaway detection and alerts
// into an engine, and hands out the agents API and guards.
import { createAgentsApi } from './agents.js'
import { type AlertDispatcher, createAlerting } from './alerting.js'
import { guardAlertRules, type KillSwitchAgentsApi } from './alerts/alert-rule-guard.js'
import { type ApprovalLinksOptions, checkApprovalLinksOptions } from './alerts/approval-link.js'
import {
  createWebhookDispatcher,
  type WebhookDispatcherOptions,
} from './alerts/webhook-dispatcher.js'
import { type AllowPrivateWebhooks, webhookTargetPolicy } from './alerts/webhook-target-policy.js'
import { redactWebhookUrl } from './alerts/webhook-url.js'
import { approvalsOn } from './approval-gate.js'
import { type ApprovalsApi, createApprovalsApi, denyOpenApprovals } from './approvals.js'
import type { AuditEntry } from './audit.js'
import { withReplacedCharge } from './audit-charge.js'
import { type BudgetsApi, createBudgetsApi } from './budgets.js'
import { hashCredential, isWellFormedCredential } from './credentials.js'
import { type Engine, type PendingResults, storeCall } from './engine.js'
import {
  AgentNotFoundError,
  AgentRevokedError,
  InvalidConfigError,
  KillSwitchError,
  RevocationUnreplicatedError,
  StoreUnavailableError,
} from './errors.js'
import { EventHub, type KillSwitchEventName, type Listener } from './events.js'
import { createGuard } from './guard.js'
import type { AgentGuard, GuardOptions } from './guard-types.js'
import { loseEveryLease } from './hold-lease.js'
import { MAX_TTL_MS } from './ledger/ledger-input.js'
import { StoreOutbox } from './ledger/store-outbox.js'
import { toUsd } from './money.js'
import { createPriceSource, type ModelPrice, type PriceSource } from './pricing/price-source.js'
import { storedReason } from './redact.js'
import { createRunawayMonitor } from './runaway/create-runaway-monitor.js'
import { NO_MONITOR, type RunawayMonitor } from './runaway/types.js'
import { type AgentRecord, type AuditPage, REVOKED_ALERT_MARK, type Store } from './store.js'
import { memoryStore } from './stores/memory-store.js'
import { type Binding, bindingOf, tightestLevel } from './tightest-level.js'
import { ToolCallScopes } from './tool-call-scopes.js'
import { parseToolPrices, type ToolPrices } from './tool-prices.js'

/** Options of createKillSwitch. Every one is optional. */
export interface KillSwitchOptions {
  /** Where agents, ledger and audit live. Default: an in-memory store (one process). */
  store?: Store
  /**
   * Price overrides in dollars per million tokens, by model id (or `provider/model`), on
   * top of the bundled price data; or a whole PriceSource of your own.
   */
  prices?: Record<string, ModelPrice> | PriceSource
  /** How long an unsettled hold lives before it lapses (a crashed caller). Default 5 minutes. */
  holdTtlMs?: number
  /**
   * The max output tokens set on calls that set none: a call without a bound cannot be
   * capped. Default 4096. A caller's own value is kept (only ever lowered to fit the budget).
   */
  defaultMaxOutputTokens?: number
  /**
   * Prices of paid tools in dollars per call, by tool name (`{ web_search: 0.01 }`), for
   * every adapter and every guard: each call is held before the tool runs and settled after
   * it (released when it fails). Tools not listed are free. A guard may add its own
   * (`ks.guard(credential, { toolPrices })`).
   */
  toolPrices?: ToolPrices
  /** Runaway detection. Default: the built-in detectors with safe defaults; `false` turns it off. */
  runaway?: RunawayMonitor | false
  /** Delivers alert webhooks. Default: signed webhooks with retries, outcomes audited. */
  alerts?: AlertDispatcher
  /**
   * Tunes the default webhook delivery (timeouts, retries): a one-shot command wants a
   * short retry budget, a server a patient one. Ignored when `alerts` is given.
   */
  webhookDelivery?: Pick<
    WebhookDispatcherOptions,
    | 'timeoutMs'
    | 'maxAttempts'
    | 'baseDelayMs'
    | 'maxDelayMs'
    | 'maxConcurrentPerReceiver'
    | 'resolve'
    | 'closeTimeoutMs'
  >
  /**
   * Webhooks to loopback, private, link-local and metadata addresses are refused (at
   * `setAlert` and at delivery, after DNS) unless allowed here: `true` allows every target,
   * a list of hosts allows those only (e.g. `['127.0.0.1']` for a receiver on this machine).
   */
  allowPrivateWebhooks?: AllowPrivateWebhooks
  /**
   * Signed one-click approve/deny links in the `approval_requested` webhook:
   * `{ baseUrl: 'https://killswitch.example.com', secret }` where `baseUrl` reaches
   * `killswitch serve` and `serve` has the same secret (KILLSWITCH_APPROVAL_LINK_SECRET).
   */
  approvalLinks?: ApprovalLinksOptions
  /** Called with errors that must not break a guarded call (a throwing listener...). */
  onError?: (error: unknown) => void
  /** The clock, in ms since the epoch (tests). */
  now?: () => number
}

/**
 * What `verify` tells a downstream service about a credential; `limitedBy`, `budgetId`,
 * `per` and `resetsAt` (Binding) name the level `available` comes from.
 */
export interface VerifyResult extends Partial<Binding> {
  active: boolean
  handle?: string
  /**
   * Dollars the agent can still spend: the tightest of its cap (with the grants approved
   * past it), its windows and its budgets' windows.
   */
  available?: number
  /**
   * True when the agent has approvals on: past its own spending cap (not its windows, not a
   * shared budget), a call asks a person instead of being refused.
   */
  approvals?: boolean
  spendingCap?: number
  spent?: number
}

/** A kill switch: see createKillSwitch. */
export interface KillSwitch {
  readonly agents: KillSwitchAgentsApi
  /** Shared budgets (a team, an org, an end customer) that agents draw on. */
  readonly budgets: BudgetsApi
  /** Requests to spend past a cap, and their decisions. */
  readonly approvals: ApprovalsApi
  /** The store this kill switch uses. */
  readonly store: Store
  /**
   * A guard for an agent credential: the seam framework adapters call. Throws only for bad
   * options (InvalidConfigError); a bad credential is refused at the guard's first call.
   */
  guard(credential: string, options?: GuardOptions): AgentGuard
  /** Checks a credential for a downstream service: `{ active: false }` if revoked, unknown or malformed. */
  verify(credential: string): Promise<VerifyResult>
  /** The agent's audit entries, oldest first. */
  /**
   * The agent's audit entries, oldest first: with `limit`, the most recent `limit`; with
   * `before` (an entry's `seq`), the page before that entry. Paged by the store.
   */
  audit(handle: string, options?: AuditPage): Promise<AuditEntry[]>
  /** Subscribes to an event; returns the unsubscribe function. */
  on<Name extends KillSwitchEventName>(name: Name, listener: Listener<Name>): () => void
  /** Flushes audit entries and alert deliveries, and stops listening to the store. */
  close(): Promise<void>
}

const DEFAULT_HOLD_TTL_MS = 5 * 60_000
/** How long `close()` waits for settles that are still being retried against the store. */
const CLOSE_DRAIN_MS = 10_000
const DEFAULT_MAX_OUTPUT_TOKENS = 4096
/** A store's RevocationUnreplicatedError (by code: the store may use another copy of core). */
function unreplicated(error: unknown): error is RevocationUnreplicatedError {
  return KillSwitchError.isInstance(error) && error.code === 'revocation_unreplicated'
}

/** What close() says of revocations still pending: not written, or written with no replica. */
function lostRevocations(
  lost: string[],
  onPrimaryOnly: Map<string, { alreadyRevoked: boolean; message?: string }>,
): StoreUnavailableError {
  const names = (handles: string[]) => handles.map((handle) => `agent "${handle}"`).join(', ')
  const primaryOnly = lost.filter((handle) => onPrimaryOnly.has(handle))
  const inForce =
    primaryOnly.length === 0
      ? ''
      : `The revocation of ${names(primaryOnly)} is in force now (every process refuses the credential), but no replica confirmed it before this kill switch closed: a failover before one does could undo it. Check with agents.get after any failover`
  const unwritten = lost.filter((handle) => !onPrimaryOnly.has(handle))
  if (unwritten.length === 0) {
    const [handle] = primaryOnly as [string]
    const { alreadyRevoked, message } = onPrimaryOnly.get(handle) as {
      alreadyRevoked: boolean
      message?: string
    }
    // One whose ledger is not yet written (sqlite): the store's own words.
    const said = primaryOnly.length === 1 && message !== undefined ? message : inForce
    const pending = message === undefined ? 'replica' : 'ledger'
    return new RevocationUnreplicatedError({ handle, alreadyRevoked, message: said, pending })
  }
  return new StoreUnavailableError(
    `The revocation of ${names(unwritten)} was NOT written: the store stayed out until this kill switch closed, so other processes and restarts still accept the credential. Revoke again once the store is back${inForce === '' ? '' : `. ${inForce}`}`,
  )
}

/** A revocation written this long after it was asked for records the request's time too. */
const LATE_REVOCATION_MS = 1_000

function positiveInteger(value: number | undefined, field: string, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || value < 1) {
    throw new InvalidConfigError(
      field,
      `Invalid ${field}: a whole number >= 1 is required (got ${String(value)}).`,
    )
  }
  return value
}

/**
 * `alerts` is a dispatcher (dispatch, flush, close), not alert rules or a URL: anything else
 * was taken, and every alert then failed unseen (red team rt33: `alerts: {}` or a Slack URL
 * sent nothing, and close() threw). Its value is never shown: it may be a webhook URL.
 */
function checkAlertDispatcher(alerts: unknown): void {
  if (alerts === undefined) return
  const methods = ['dispatch', 'flush', 'close'] as const
  const given = alerts as Partial<Record<(typeof methods)[number], unknown>> | null
  const missing = methods.filter((name) => typeof given?.[name] !== 'function')
  if (missing.length === 0) return
  throw new InvalidConfigError(
    'alerts',
    `Invalid alerts: an alert dispatcher with dispatch, flush and close methods is required (got ${typeof alerts === 'string' ? `a string of ${alerts.length} characters, not shown` : alerts === null ? 'null' : `a value without ${missing.join(', ')}`}). Alert rules and webhook URLs belong to each agent: ks.agents.create({ handle, spendingCap, alerts: [{ thresholdPct: 0.8, webhookUrl: 'https://...' }] }); leave alerts out for the default signed webhooks.`,
  )
}

/**
 * Creates a kill switch.
 *
 * @example
 * const ks = createKillSwitch()
 * const agent = await ks.agents.create({ handle: 'researcher-agent-7', spendingCap: 50 })
 * const guard = ks.guard(agent.credential)
 * await ks.agents.revoke('researcher-agent-7', { reason: 'loop in search tool' })
 */
/**
 * The clock, never stepping back in this process: a clock stepped back (an NTP step, a VM
 * restored) would find an earlier window again, with the room it had left, and spend it
 * twice. A step back is added to an offset instead, so the kill switch's time goes on from
 * where it was at the clock's own pace: windows roll, leases and grants age, detectors see
 * calls spread as they are. (A restart forgets it: the core README, "Whose clock judges
 * the windows".)
 */
function monotonic(clock: () => number): () => number {
  let latest = Number.NEGATIVE_INFINITY
  let offset = 0
  return () => {
    const time = clock() + offset
    if (time >= latest) {
      latest = time
    } else {
      offset += latest - time
    }
    return latest
  }
}

export function createKillSwitch(options: KillSwitchOptions = {}): KillSwitch {
  const ownsStore = options.store === undefined
  const store = options.store ?? memoryStore()
  const prices =
    options.prices !== undefined && typeof (options.prices as PriceSource).resolve === 'function'
      ? (options.prices as PriceSource)
      : createPriceSource(options.prices as Record<string, ModelPrice> | undefined)
  const holdTtlMs = positiveInteger(options.holdTtlMs, 'holdTtlMs', DEFAULT_HOLD_TTL_MS)
  if (holdTtlMs < 1_000 || holdTtlMs > MAX_TTL_MS) {
    throw new InvalidConfigError(
      'holdTtlMs',
      `Invalid holdTtlMs: a hold's lease is from 1000 ms to ${MAX_TTL_MS} ms (7 days); live calls renew it (got ${holdTtlMs}).`,
    )
  }
  const toolPrices = Object.freeze({ ...parseToolPrices(options.toolPrices) })
  const defaultMaxOutputTokens = positiveInteger(
    options.defaultMaxOutputTokens,
    'defaultMaxOutputTokens',
    DEFAULT_MAX_OUTPUT_TOKENS,
  )
  const now = monotonic(options.now ?? Date.now)
  const webhookPolicy = webhookTargetPolicy(options.allowPrivateWebhooks)
  const onError = options.onError ?? ((error: unknown) => console.warn('[killswitch]', error))
  const events = new EventHub(onError)
  const monitor: RunawayMonitor =
    options.runaway === false ? NO_MONITOR : (options.runaway ?? createRunawayMonitor(store))
  if (typeof (monitor as Partial<RunawayMonitor> | null)?.observe !== 'function') {
    // Detector settings here (`runaway: { callRate }`) made every guarded call fail as a
    // store failure: they belong to each agent.
    throw new InvalidConfigError(
      'runaway',
      'Invalid runaway: false (off) or a RunawayMonitor (createRunawayMonitor). Tune the detectors per agent: ks.agents.create({ handle, spendingCap, runaway: { callRate: { tripModelCalls: 5000 } } }) or ks.agents.update.',
    )
  }

  checkAlertDispatcher(options.alerts)

  // One AbortController per credential in this process, shared by its guards; a revocation
  // (from any process, through the store's subscription) aborts it.
  const controllers = new Map<string, AbortController>()
  const pendings = new Map<string, PendingResults>()
  const toolCallScopes = new Map<string, ToolCallScopes>()
  const handles = new Map<string, string>()
  const audit = (entry: AuditEntry) => {
    try {
      store.appendAudit(entry)
    } catch (error) {
      onError(error)
    }
  }
  // Signed webhooks with retries by default; each delivery's outcome goes to the audit log.
  const dispatcher =
    options.alerts ??
    createWebhookDispatcher({
      ...options.webhookDelivery,
      allowPrivateWebhooks: options.allowPrivateWebhooks,
      onOutcome: (outcome) =>
        audit({
          at: now(),
          handle: outcome.event.agent,
          type: 'alert_delivery',
          summary: `${outcome.event.type} alert ${outcome.ok ? 'delivered' : 'NOT delivered'} to ${redactWebhookUrl(outcome.url)} after ${outcome.attempts} attempt(s)${outcome.error ? `: ${outcome.error}` : ''}`,
          data: {
            eventId: outcome.event.id,
            eventType: outcome.event.type,
            url: redactWebhookUrl(outcome.url),
            ok: outcome.ok,
            attempts: outcome.attempts,
            status: outcome.status ?? null,
            ...(outcome.error ? { error: outcome.error } : {}),
          },
        }),
    })
  const approvalLinks =
    options.approvalLinks === undefined
      ? undefined
      : checkApprovalLinksOptions(options.approvalLinks)
  const alerting = createAlerting({
    store,
    events,
    dispatcher,
    now,
    audit,
    onError,
    ...(approvalLinks === undefined ? {} : { approvalLinks }),
  })

  const abortAgent = (handle: string, reason: string) => {
    const hash = handles.get(handle)
    const controller = hash === undefined ? undefined : controllers.get(hash)
    if (controller && !controller.signal.aborted)
      controller.abort(new AgentRevokedError({ handle, reason }))
  }

  const unsubscribe = store.subscribe((event) => {
    if (event.type === 'lost') {
      // Calls in flight stop now, not at their next renewal (red team rt41b: a sqlite file
      // deleted under a process, its streams ran 19 s more).
      const why = `The ${store.kind} store is lost to this process (${event.reason}): the call was stopped, as no revocation can reach it any more`
      loseEveryLease(engine, new StoreUnavailableError(why))
      return
    }
    if (event.type !== 'revoked') return
    abortAgent(event.handle, event.reason)
    events.emit('revoked', { handle: event.handle, reason: event.reason, at: event.at })
  })

  const outbox = new StoreOutbox()
  /** Revocations the store has not taken yet (it was out): handle -> reason, until written. */
  const unwritten = new Map<string, string>()
  /**
   * Of those, the ones written on the store's primary that no replica confirmed yet: in force
   * everywhere (refused here too, in `unwritten`, should a failover lose them), said so.
   */
  const onPrimaryOnly = new Map<string, { alreadyRevoked: boolean; message?: string }>()
  const engine: Engine = {
    store,
    prices,
    monitor,
    events,
    holdTtlMs,
    outbox,
    defaultMaxOutputTokens,
    toolPrices,
    now,
    pendingFor: (credentialHash) =>
      sharedIn(pendings, credentialHash, () => ({ items: [], flushTimer: undefined, taken: 0 })),
    toolCallScopesFor: (credentialHash) =>
      sharedIn(toolCallScopes, credentialHash, () => new ToolCallScopes()),
    controllerFor: (credentialHash) =>
      sharedIn(controllers, credentialHash, () => new AbortController()),
    bindHandle(credentialHash, handle) {
      handles.set(handle, credentialHash)
      // A guard made while its agent's revocation waits for the store is stopped at once.
      const reason = unwritten.get(handle)
      if (reason !== undefined) abortAgent(handle, reason)
    },
    noticeRevoked: (handle, reason) => abortAgent(handle, reason),
    async revoke(handle, rawReason, by, detector) {
      // Every revocation's reason passes here, once: no secret it quotes is kept, shown or sent.
      const reason = storedReason(rawReason)
      const requestedAt = now()
      // Abort this process's guards first: a revocation never waits on the store to stop
      // what runs here (the store write below makes it reach every other process and
      // survive restarts).
      if (handles.has(handle)) abortAgent(handle, reason)
      const inForce = async (agent: AgentRecord, alreadyRevoked: boolean, at: number) => {
        // The store also publishes the event; aborting here too makes it synchronous locally.
        if (!alreadyRevoked) abortAgent(handle, reason)
        // On-call hears of it once, from whichever revoke comes first to the mark: also a
        // retry of one that failed after its write (that retry finds it already revoked).
        // Unmarked (the store failed just now), the revoke that wrote it alerts.
        const first = await store.markOnce(handle, REVOKED_ALERT_MARK).catch(() => !alreadyRevoked)
        if (first) alerting.notifyRevoked(agent)
        // Its open approval requests can only be denied now: closed, so nobody is asked.
        await denyOpenApprovals(store, events, handle, at).catch(() => undefined)
      }
      const write = async (): Promise<{ agent: AgentRecord; alreadyRevoked: boolean }> => {
        const before = await storeCall(store, () => store.getAgent(handle, now()))
        if (!before) {
          // Nothing to revoke, here or anywhere: a revoke of a handle no agent has, kept while
          // the store was out, must not stay in force in this process for an agent made
          // later under that name, nor be said lost at close (red team rt41b).
          unwritten.delete(handle)
          onPrimaryOnly.delete(handle)
          throw new AgentNotFoundError(handle)
        }
        // Stamped as the store answers, not as the operator asked: a revocation the store
        // took only after an outage or a lock was not in force everywhere before (other
        // processes admitted calls meanwhile). A late one keeps the request's time beside it
        // (red team r16: the audit said "revoked at 43.5 s" above holds made at 52.7 s).
        const at = now()
        const late = at - requestedAt >= LATE_REVOCATION_MS ? { requestedAt } : {}
        const spent = toUsd(before.spentMicros)
        const spendingCap = toUsd(before.capMicros)
        const held = toUsd(before.heldMicros)
        // Calls in flight are charged as they end, just after: said, or "$0 spent" misleads.
        const inFlight = held > 0 ? ` (plus $${held} held by calls in flight)` : ''
        const written = storeCall(store, () =>
          store.revokeAgent(handle, reason, at, {
            at,
            handle,
            type: 'revoked',
            summary: `revoked by ${by} at $${spent} of $${spendingCap}${inFlight}: ${reason}`,
            data: {
              reason,
              by,
              ...(detector === undefined ? {} : { detector }),
              spent,
              spendingCap,
              held,
              ...late,
            },
          }),
        )
        // Written where every process reads it, but no replica confirmed it: in force now, so
        // alerted now (once); only the replica's confirmation is retried.
        const { agent, alreadyRevoked } = await written.catch(async (error: unknown) => {
          if (!unreplicated(error) || onPrimaryOnly.has(handle)) throw error
          // A ledger not yet written (sqlite) is said in the store's own words at close.
          const said = error.pending === 'ledger' ? error.message : undefined
          onPrimaryOnly.set(handle, { alreadyRevoked: error.alreadyRevoked, message: said })
          const agent = await store.getAgent(handle, now()).catch(() => undefined)
          if (agent) await inForce(agent, error.alreadyRevoked, at)
          throw error
        })
        unwritten.delete(handle)
        onPrimaryOnly.delete(handle)
        await inForce(agent, alreadyRevoked, at)
        return { agent, alreadyRevoked }
      }
      try {
        // Delivered like a settle: a store that is out keeps it, retried until written,
        // at a steady short interval (it must be in force as soon as the store is back).
        return await outbox.deliver(write, { urgent: true })
      } catch (error) {
        if (!(error instanceof StoreUnavailableError)) throw error
        unwritten.set(handle, reason)
        if (unreplicated(error)) {
          // A ledger not yet written (sqlite) in the store's own words; a replica in ours.
          const { alreadyRevoked, pending } = error
          const message = pending === 'ledger' ? error.message : undefined
          throw new RevocationUnreplicatedError(
            { handle, alreadyRevoked, message, pending },
            { cause: error },
          )
        }
        throw new StoreUnavailableError(
          `The revocation of agent "${handle}" is not written yet: it stopped this process's calls and is retried while this process runs (ks.close() waits for it, then fails if it is still not written); other processes and restarts do not see it until it is written: revoke again if unsure`,
          { cause: error },
        )
      }
    },
    afterSpend: (agent) => alerting.afterSpend(agent),
    notifyRunaway: (agent, finding, action) => alerting.notifyRunaway(agent, finding, action),
    notifyApproval: (agent, event) => alerting.notifyApproval(agent, event),
    audit,
  }

  return {
    agents: guardAlertRules(createAgentsApi(engine), { store, now, policy: webhookPolicy }),
    budgets: createBudgetsApi(engine),
    approvals: createApprovalsApi(engine),
    store,
    guard(credential, guardOptions) {
      return createGuard(engine, credential, guardOptions)
    },
    async verify(credential) {
      if (!isWellFormedCredential(credential)) return { active: false }
      const agent: AgentRecord | undefined = await storeCall(store, () =>
        store.findAgentByCredentialHash(hashCredential(credential), now()),
      )
      if (agent?.status !== 'active') return { active: false }
      // Revoked here, waiting for the store to take it: refused here all the same.
      if (unwritten.has(agent.handle)) return { active: false }
      // The tightest level decides: its cap, each of its windows, each budget's windows.
      const tightest = await storeCall(store, () => tightestLevel(store, agent, now()))
      return {
        active: true,
        handle: agent.handle,
        available: toUsd(Math.max(0, tightest.leftMicros)),
        ...bindingOf(tightest.level),
        ...(approvalsOn(agent) ? { approvals: true } : {}),
        spendingCap: toUsd(agent.capMicros),
        spent: toUsd(agent.spentMicros),
      }
    },
    async audit(handle, auditOptions) {
      const agent = await storeCall(store, () => store.getAgent(handle, now()))
      if (!agent) throw new AgentNotFoundError(handle)
      await storeCall(store, () => store.flush())
      const entries = await storeCall(store, () => store.readAudit(handle, auditOptions))
      return entries.map(withReplacedCharge)
    },
    on(name, listener) {
      return events.on(name, listener)
    },
    async close() {
      unsubscribe()
      // Settles and revocations still waiting for the store: give them time to land.
      await outbox.drain(CLOSE_DRAIN_MS)
      // A revocation the store never took is lost with this process: said, never swallowed.
      const lost = [...unwritten.keys()]
      // Each step is taken, and a pending revocation is said first: the audit flush behind the
      // same held lock fails too, and must not hide it (red team rt39: exit 5, "fail closed",
      // for a revocation in force, when the agent had an alert to write).
      let failed: { error: unknown } | undefined
      const step = async (close: () => Promise<void> | void) => {
        try {
          await close()
        } catch (error) {
          failed ??= { error }
        }
      }
      // The alerts decided, then their deliveries, for at most the dispatcher's close timeout
      // (a receiver that never answers must not hold a shutdown past its grace period).
      await step(() => alerting.flush({ deliveries: false }))
      await step(() => dispatcher.close())
      await step(() => store.flush())
      if (ownsStore) await step(() => store.close())
      if (lost.length > 0) {
        const error = lostRevocations(lost, onPrimaryOnly)
        onError(error)
        throw error
      }
      if (failed) throw failed.error
    },
  }
}

/** What `map` keeps for `key`, made by `make` the first time: one per credential. */
function sharedIn<T>(map: Map<string, T>, key: string, make: () => T): T {
  let value = map.get(key)
  if (value === undefined) {
    value = make()
    map.set(key, value)
  }
  return value
}
