// Fills an agent's sparse runaway settings with the defaults. Runs on every observation, so
// it is cached: by object identity (the memory store hands back the same policy object) and,
// for stores that deserialise a fresh object each time, by its JSON text.
import type { RunawayConfig } from './config.js'
import { DEFAULT_RUNAWAY_CONFIG, type ResolvedRunawayConfig } from './runaway-defaults.js'

const byObject = new WeakMap<object, ResolvedRunawayConfig>()
const byText = new Map<string, ResolvedRunawayConfig>()
/** Distinct configurations kept by text; a fleet has a handful, so this never fills in practice. */
const MAX_BY_TEXT = 1_000

const SECTIONS = [
  'repeatedToolCall',
  'toolCycle',
  'noProgress',
  'spendVelocity',
  'callRate',
  'errorStreak',
  'slowLoop',
  'throttle',
  'runLimits',
  'thresholdBreach',
] as const

/**
 * The agent's runaway settings with every default filled in. The input was validated with
 * `runawayConfigSchema` when it was stored; unknown fields are ignored here.
 *
 * @example
 * resolveRunawayConfig({ repeatedToolCall: { tripAt: 8 } }).repeatedToolCall
 * // { enabled: true, warnAt: 3, tripAt: 8, withinCalls: 20, windowMs: 600000, action: 'revoke' }
 */
export function resolveRunawayConfig(
  config: RunawayConfig | undefined | null,
): ResolvedRunawayConfig {
  if (config === undefined || config === null) return DEFAULT_RUNAWAY_CONFIG
  // The last settings resolved, first: the guard resolves them several times a call.
  if (config === last.config) return last.resolved
  if (isEmpty(config)) return DEFAULT_RUNAWAY_CONFIG
  // Settings seen before (several agents in one process take turns as the last).
  const cached = byObject.get(config)
  if (cached) return remember(config, cached)
  // A durable store parses a fresh copy of the same settings at every call: comparing it
  // with the last costs less than a JSON text and a WeakMap entry per call. Remembered as
  // the last, so that its next resolves are an identity check.
  if (last.config !== undefined && sameJson(config, last.config, 0)) {
    return remember(config, last.resolved)
  }
  const text = JSON.stringify(config)
  let resolved = byText.get(text)
  if (!resolved) {
    resolved = merge(config)
    if (byText.size >= MAX_BY_TEXT) byText.clear()
    byText.set(text, resolved)
  }
  byObject.set(config, resolved)
  return remember(config, resolved)
}

const last: { config: RunawayConfig | undefined; resolved: ResolvedRunawayConfig } = {
  config: undefined,
  resolved: DEFAULT_RUNAWAY_CONFIG,
}

function remember(config: RunawayConfig, resolved: ResolvedRunawayConfig): ResolvedRunawayConfig {
  last.config = config
  last.resolved = resolved
  return resolved
}

/**
 * Whether two parsed JSON values (settings as a store gives them back) are the same: plain
 * objects, arrays and primitives, compared in depth. Anything else, or deeper than a
 * settings object goes, is "not known to be the same" (it is then resolved by its text).
 */
function sameJson(a: unknown, b: unknown, depth: number): boolean {
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (depth > 4 || Array.isArray(a) !== Array.isArray(b)) return false
  const left = a as Record<string, unknown>
  const right = b as Record<string, unknown>
  let count = 0
  for (const key in left) {
    if (!Object.hasOwn(left, key)) return false
    if (!Object.hasOwn(right, key) || !sameJson(left[key], right[key], depth + 1)) return false
    count++
  }
  for (const key in right) {
    if (!Object.hasOwn(right, key)) return false
    count--
  }
  return count === 0
}

function merge(config: RunawayConfig): ResolvedRunawayConfig {
  const d = DEFAULT_RUNAWAY_CONFIG
  const resolved = {
    enforce: config.enforce ?? d.enforce,
    recordArguments: config.recordArguments ?? d.recordArguments,
    historySize: config.historySize ?? d.historySize,
  } as ResolvedRunawayConfig
  for (const section of SECTIONS) {
    const given = (config as Record<string, object | undefined>)[section]
    // Only defined values override: `{ tripAt: undefined }` keeps the default.
    const merged: Record<string, unknown> = { ...d[section] }
    if (given) {
      for (const [key, value] of Object.entries(given)) {
        if (value !== undefined && key in merged) merged[key] = value
      }
    }
    ;(resolved as unknown as Record<string, unknown>)[section] = Object.freeze(merged)
  }
  return Object.freeze(resolved)
}

function isEmpty(config: object): boolean {
  for (const _ in config) return false
  return true
}
