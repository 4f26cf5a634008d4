// One way to show money to people, used by the CLI, the demo and anything else that prints
// dollars: the same agent must never read "$0.0179 / 18%" in one view and "$0.02 / 17%" in
// another. Display only: the ledger counts integer micro-dollars and never parses these.

/**
 * Dollars for people: cents from $1 up ($1,234.50), and up to 4 decimals there when the amount
 * is not whole cents ($49.996, cut, not rounded: spent just under a $50 cap must not read
 * "$50.00"); below $1, up to 4 decimals ($0.0179), and up to 6 below a cent ($0.00045), so a
 * model call's cost never shows as $0.00. Trailing zeros past the cents are dropped ($0.10,
 * not $0.1000).
 *
 * @example
 * formatUsd(50) // '$50.00'
 * formatUsd(49.996) // '$49.996'
 * formatUsd(0.0179) // '$0.0179'
 * formatUsd(0.00045) // '$0.00045'
 */
export function formatUsd(usd: number): string {
  const sign = usd < 0 ? '-' : ''
  const abs = Math.abs(usd)
  if (abs >= 1 || abs === 0) {
    // Whole ten-thousandths of a dollar, cut toward zero (micro-dollars first: no float noise).
    const tenThousandths = Math.floor(Math.round(abs * 1_000_000) / 100)
    const dollars = Math.floor(tenThousandths / 10_000)
    const fraction = String(tenThousandths % 10_000)
      .padStart(4, '0')
      .replace(/0{1,2}$/, '')
    return `${sign}$${dollars.toLocaleString('en-US')}.${fraction}`
  }
  const digits = abs < 0.01 ? 6 : 4
  const [whole, fraction = ''] = abs.toFixed(digits).split('.')
  const trimmed = fraction.replace(/0+$/, '').padEnd(2, '0')
  return `${sign}$${whole}.${trimmed}`
}

/**
 * How much of the cap is spent, in whole percent, rounded down: 100% only once the cap is
 * reached. A $0 cap reads 100% as soon as anything is spent.
 *
 * @example
 * spentPercent(0.0179, 0.1) // 17
 */
export function spentPercent(spent: number, cap: number): number {
  if (cap <= 0) return spent > 0 ? 100 : 0
  // Micro-dollars, so 0.3 / 0.1 style float noise cannot turn 300% into 299%.
  return Math.floor((Math.round(spent * 1_000_000) * 100) / Math.round(cap * 1_000_000))
}
