// Token amounts in atomic units (USDC has 6 decimals: "10000" is $0.01), as payment protocols
// such as x402 write them, and what they count on the ledger: micro-dollars, rounded up, so
// the ledger never records less than is paid.

/**
 * An atomic amount as payment protocols write it (a string of digits), else undefined: a
 * number, a sign, a fraction or an exponent is not read as some other amount.
 *
 * @example
 * parseAtomic('10000') // 10000n
 * parseAtomic('1.5') // undefined
 */
export function parseAtomic(value: unknown): bigint | undefined {
  return typeof value === 'string' && /^\d+$/.test(value) ? BigInt(value) : undefined
}

/**
 * Atomic units of a USD-pegged token with `decimals` in micro-dollars, rounded up; past 2^53
 * infinite, which every cap refuses.
 *
 * @example
 * atomicToMicros(10_000n, 6) // 10_000 ($0.01 of USDC)
 */
export function atomicToMicros(atomic: bigint, decimals: number): number {
  const scale = 10n ** BigInt(decimals)
  const micros = (atomic * 1_000_000n + scale - 1n) / scale
  return micros > BigInt(Number.MAX_SAFE_INTEGER) ? Number.POSITIVE_INFINITY : Number(micros)
}
