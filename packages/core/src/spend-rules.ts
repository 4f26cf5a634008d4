// Rules a spend must pass before it is held, whatever pays it (an x402 payment, a paid API):
// which payees may be paid and the most one spend may cost. They are the agent's policy
// (`agents.create({ spendRules })`, stored with the agent, the same on every store) and, for
// one adapter's calls, its own options (x402's `allowedPayees`, `maxPaymentUsd`): both are
// checked here, in one place, and the tighter wins.
import { parseInput, spendRulesSchema } from './config.js'
import { SpendRefusedError } from './errors.js'
import { toMicros, toUsd } from './money.js'

/**
 * Rules every spend of an agent must pass. All optional.
 *
 * @example
 * await ks.agents.create({ handle: 'buyer', spendingCap: 20, spendRules: { allowedPayees: ['0x2096...'], maxSpendUsd: 0.5 } })
 */
export interface SpendRules {
  /**
   * Only these payees may be paid: a spend that names another payee is refused, and so is
   * one that names none. Omit to allow any payee.
   */
  allowedPayees?: readonly string[]
  /** The most one spend may cost, in dollars. */
  maxSpendUsd?: number
}

/**
 * Checks spend rules; returns them, or throws InvalidConfigError naming the field, by the
 * adapter's names for them when it gives some (`maxPaymentUsd` for `maxSpendUsd`): the one
 * set of bounds for an agent's rules and an adapter's own.
 *
 * @example
 * parseSpendRules({ maxSpendUsd: 0.5 }, 'spendRules')
 * parseSpendRules({ maxSpendUsd: -1 }, 'killSwitchFetch', { maxSpendUsd: 'maxPaymentUsd' }) // field maxPaymentUsd
 */
export function parseSpendRules(
  value: unknown,
  what: string,
  names: SpendRuleNames = {},
): SpendRules {
  const { allowedPayees, maxSpendUsd } = names
  return parseInput(spendRulesSchema, value, what, what, { allowedPayees, maxSpendUsd })
}

/**
 * The same payee? EVM addresses (0x and 40 hex digits) compare case-insensitively (their
 * case is only a checksum); every other form (Solana's base58...) exactly.
 */
export function samePayee(a: string, b: string): boolean {
  if (a === b) return true
  const evm = /^0x[0-9a-fA-F]{40}$/
  return evm.test(a) && evm.test(b) && a.toLowerCase() === b.toLowerCase()
}

/** How an adapter names a call's rules, for the refusal's message. */
export interface SpendRuleNames {
  /** Whose rules they are: `killSwitchFetch`. */
  owner?: string
  allowedPayees?: string
  maxSpendUsd?: string
}

/**
 * The refusal for a spend that breaks a rule, or undefined when it may be held.
 *
 * @example
 * const refusal = checkSpendRules({ amountMicros: 10_000, payee: '0xabc...' }, agentRules, 'agent')
 */
export function checkSpendRules(
  spend: { amountMicros: number; payee?: string | undefined; description: string },
  rules: SpendRules | undefined,
  source: 'agent' | 'call',
  names: SpendRuleNames = {},
): SpendRefusedError | undefined {
  if (!rules) return undefined
  const whose =
    source === 'agent'
      ? "the agent's spendRules"
      : names.owner === undefined
        ? "this call's rules"
        : `${names.owner}'s options`
  const allowedPayees = (source === 'call' && names.allowedPayees) || 'allowedPayees'
  const maxSpendUsd = (source === 'call' && names.maxSpendUsd) || 'maxSpendUsd'
  const amountUsd = toUsd(spend.amountMicros)
  const { payee } = spend
  if (rules.allowedPayees !== undefined) {
    if (payee === undefined || !rules.allowedPayees.some((allowed) => samePayee(allowed, payee))) {
      return new SpendRefusedError({
        rule: 'payee_not_allowed',
        source,
        amountUsd,
        ...(payee === undefined ? {} : { payee }),
        message:
          payee === undefined
            ? `Spend of $${amountUsd} for ${spend.description} refused: ${whose} allow only listed payees, and it names none.`
            : `Spend of $${amountUsd} to ${payee} refused: the payee is not in ${whose} ${allowedPayees}. Add it there to allow it.`,
      })
    }
  }
  if (rules.maxSpendUsd !== undefined && spend.amountMicros > toMicros(rules.maxSpendUsd)) {
    return new SpendRefusedError({
      rule: 'max_spend_exceeded',
      source,
      amountUsd,
      ...(payee === undefined ? {} : { payee }),
      message: `Spend of $${amountUsd} for ${spend.description} refused: more than ${whose} ${maxSpendUsd} ($${rules.maxSpendUsd}) allows for one spend. Raise ${maxSpendUsd} to allow it.`,
    })
  }
  return undefined
}
