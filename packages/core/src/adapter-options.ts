// The options every framework adapter takes, checked once here: where its guard comes from
// (a kill switch and an agent credential, or a ready guard), how to name the model for its
// price, the budget scope of its calls and the prices of paid tools. A misconfigured kill
// switch fails loudly when the agent is built, never silently lets calls through.
import { InvalidConfigError } from './errors.js'
import type { AgentGuard, BudgetScope, GuardOptions } from './guard-types.js'
import { redactSecrets } from './redact.js'
import { pickBudgetScope, reserveScope } from './reserve-scope.js'
import { parseToolPrices, type ToolPrices } from './tool-prices.js'

/**
 * Anything that hands out agent guards: the object `createKillSwitch()` returns.
 *
 * @example
 * const source: GuardSource = createKillSwitch()
 */
export interface GuardSource {
  guard(credential: string, options?: GuardOptions): AgentGuard
}

/**
 * What every adapter takes: `{ killSwitch, credential }` or a ready `{ guard }`; `model` and
 * `provider` to price a model whose own id is not priced; the calls' budget scope; and the
 * prices of paid tools (added to the kill switch's own `toolPrices`).
 *
 * @example
 * const options: AdapterOptions = { killSwitch: ks, credential, toolPrices: { web_search: 0.01 } }
 */
export interface AdapterOptions extends BudgetScope {
  /** The kill switch, from `createKillSwitch()`. */
  killSwitch?: GuardSource
  /** The agent's credential (`ks_...`), as `ks.agents.create()` returned it. */
  credential?: string
  /** A ready guard (`ks.guard(credential)`), instead of `killSwitch` and `credential`. */
  guard?: AgentGuard
  /** The model id to price the calls with, when the model's own id is not priced. */
  model?: string
  /** The provider id to price with, when the framework does not say it. */
  provider?: string
  /**
   * Prices of paid tools in dollars per call, by tool name: each call is held before the
   * tool runs and settled after it. Added to `createKillSwitch({ toolPrices })`.
   */
  toolPrices?: ToolPrices
}

/** The adapter's guard, the model naming and the budget scope its options give. */
export interface AdapterSetup {
  guard: AgentGuard
  naming: { model?: string; provider?: string }
  scope: BudgetScope
}

/** The options every adapter reads here. */
const ADAPTER_OPTIONS = [
  ...['killSwitch', 'credential', 'guard', 'model', 'provider', 'toolPrices'],
  ...['runId', 'runCap', 'parentRunId', 'budgets'],
] as const

/** How an adapter names itself and the options it takes beside or instead of the core's. */
export interface AdapterOptionNames {
  /** The entry point, for the messages: `killSwitchFetch`. */
  name: string
  /** Its own options, read by the adapter (`idleConsumerMs`, x402's `client`...). */
  own?: readonly string[]
  /** The core's options it does not take (x402's `model`). */
  without?: readonly (typeof ADAPTER_OPTIONS)[number][]
}

/**
 * Checks an adapter's options and returns its guard; throws InvalidConfigError naming the
 * field and the fix. An option the adapter does not take is refused, never ignored: a
 * misspelt `runcap` would otherwise run without the run's cap.
 *
 * @example
 * const { guard, naming, scope } = adapterSetup(options, { name: 'killSwitchMiddleware' })
 */
export function adapterSetup(
  options: AdapterOptions,
  names: AdapterOptionNames = { name: 'the kill switch adapter' },
): AdapterSetup {
  if (options === null || typeof options !== 'object') {
    throw new InvalidConfigError(
      'options',
      `Pass { killSwitch, credential } (or a ready { guard }) to ${names.name}.`,
    )
  }
  refuseUnknownOptions(options, names)
  for (const field of ['model', 'provider'] as const) {
    const value = options[field]
    if (value !== undefined && (typeof value !== 'string' || value.length === 0)) {
      throw new InvalidConfigError(field, `${field} must be a non-empty string when given.`)
    }
  }
  const toolPrices = parseToolPrices(options.toolPrices)
  const naming = {
    ...(options.model === undefined ? {} : { model: options.model }),
    ...(options.provider === undefined ? {} : { provider: options.provider }),
  }
  const scope = pickBudgetScope(options)
  // Checked now as every call will check it, so a bad runCap fails the build, not each call.
  // A runId may come with each call (a framework's run), so its absence is not judged here.
  reserveScope({ ...scope, runId: scope.runId ?? 'given-per-call' })
  return { guard: guardOf(options, toolPrices), naming, scope }
}

function refuseUnknownOptions(options: object, names: AdapterOptionNames): void {
  const taken = new Set<string>(ADAPTER_OPTIONS)
  for (const left of names.without ?? []) taken.delete(left)
  for (const own of names.own ?? []) taken.add(own)
  refuseUnknownKeys(options, taken, names.name)
}

/**
 * Refuses an option `name` does not have (a misspelling, an option of another version),
 * naming it and the nearest known one: an option ignored is a setting silently not applied.
 *
 * @example
 * refuseUnknownKeys(options, ['killSwitch', 'openai', 'anthropic'], 'createGateway')
 */
export function refuseUnknownKeys(options: object, known: Iterable<string>, name: string): void {
  const taken = new Set(known)
  const unknown = Object.keys(options).find((key) => !taken.has(key))
  if (unknown === undefined) return
  const near = [...taken].find((key) => key.toLowerCase() === unknown.toLowerCase())
  const hint = near ? `did you mean ${near}?` : `its options are ${[...taken].join(', ')}`
  // The key is the caller's text: the field, like the message, shows it masked and bounded.
  const field = redactSecrets(unknown.slice(0, 64))
  throw new InvalidConfigError(
    field,
    `${JSON.stringify(field)} is not an option of ${name} (${hint}): refused rather than ignored.`,
  )
}

function guardOf(options: AdapterOptions, toolPrices: ToolPrices): AgentGuard {
  // Checked at runtime too: plain JavaScript callers and `as any` reach here.
  const given = options as { killSwitch?: unknown; credential?: unknown; guard?: unknown }
  if (given.guard !== undefined) {
    if (given.killSwitch !== undefined || given.credential !== undefined) {
      throw new InvalidConfigError(
        'guard',
        'Pass either { guard } or { killSwitch, credential }, not both: the guard already carries its credential.',
      )
    }
    if (Object.keys(toolPrices).length > 0) {
      throw new InvalidConfigError(
        'toolPrices',
        'A ready guard carries its tool prices: pass them as ks.guard(credential, { toolPrices }) or createKillSwitch({ toolPrices }), or pass { killSwitch, credential, toolPrices } here.',
      )
    }
    const guard = given.guard as Partial<AgentGuard> | null
    if (typeof guard?.startModelCall !== 'function' || !(guard.signal instanceof AbortSignal)) {
      throw new InvalidConfigError(
        'guard',
        'guard must be the object ks.guard(credential) returns, or pass { killSwitch, credential }.',
      )
    }
    return guard as AgentGuard
  }
  const killSwitch = given.killSwitch as GuardSource | undefined
  if (typeof killSwitch?.guard !== 'function') {
    throw new InvalidConfigError(
      'killSwitch',
      'killSwitch must be the object createKillSwitch() returns (it has a guard(credential) method), or pass a ready { guard }.',
    )
  }
  // The credential itself never goes into a message.
  if (typeof given.credential !== 'string' || given.credential.length === 0) {
    throw new InvalidConfigError(
      'credential',
      'credential must be the agent credential string (ks_...) that ks.agents.create() returned.',
    )
  }
  return Object.keys(toolPrices).length > 0
    ? killSwitch.guard(given.credential, { toolPrices })
    : killSwitch.guard(given.credential)
}
