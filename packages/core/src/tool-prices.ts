// Prices of paid tools, per call, as every adapter takes them: `{ web_search: 0.01 }`.
// Validated here once, so that every framework refuses the same mistakes the same way.
import { InvalidConfigError } from './errors.js'

/** Dollars per call, by tool name. Tools not listed are free. */
export type ToolPrices = Readonly<Record<string, number>>

/**
 * Checks tool prices: each a finite number of dollars >= 0 and, when the tool names are
 * known, each naming a real tool (a price on a misspelled name would leave the real tool
 * free). Returns the prices; throws InvalidConfigError naming `toolPrices.<name>`.
 *
 * @example
 * const prices = parseToolPrices({ web_search: 0.01 }, Object.keys(tools))
 */
export function parseToolPrices(value: unknown, toolNames?: readonly string[]): ToolPrices {
  if (value === undefined) return {}
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidConfigError(
      'toolPrices',
      'toolPrices must be an object of dollars per call by tool name, e.g. { web_search: 0.01 }.',
    )
  }
  for (const [name, price] of Object.entries(value)) {
    if (toolNames && !toolNames.includes(name)) {
      throw new InvalidConfigError(
        `toolPrices.${name}`,
        `toolPrices.${name} names no tool: the tools are ${toolNames.join(', ') || '(none)'}. Fix the tool name.`,
      )
    }
    if (typeof price !== 'number' || !Number.isFinite(price) || price < 0) {
      throw new InvalidConfigError(
        `toolPrices.${name}`,
        `toolPrices.${name} must be a price in dollars per call (a finite number >= 0), got ${String(price)}.`,
      )
    }
  }
  return value as ToolPrices
}
