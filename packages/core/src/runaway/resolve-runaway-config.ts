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
  if (config === undefined || config === null || isEmpty(config)) return DEFAULT_RUNAWAY_CONFIG
  const cached = byObject.get(config)
  if (cached) return cached
  const text = JSON.stringify(config)
  let resolved = byText.get(text)
  if (!resolved) {
    resolved = merge(config)
    if (byText.size >= MAX_BY_TEXT) byText.clear()
    byText.set(text, resolved)
  }
  byObject.set(config, resolved)
  return resolved
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
