/**
 * The Redis to benchmark against, from REDIS_URL: when unset, bench/run.ts starts its own
 * redis-server and the standalone benches leave Redis out.
 *
 * @example
 * const url = redisUrlFromEnv() // 'redis://127.0.0.1:6379' or undefined
 */
export function redisUrlFromEnv(): string | undefined {
  // biome-ignore lint/suspicious/noUndeclaredEnvVars: the benchmarks are not a turbo task (nothing is cached); the variable only picks a server.
  return process.env.REDIS_URL || undefined
}
