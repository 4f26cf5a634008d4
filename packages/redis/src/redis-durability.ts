// The store refuses a Redis that can lose what it acknowledged. A Redis without its
// append-only file restarts from its last snapshot (or empty): spend since then is gone, and
// a credential revoked since then works again. An eviction policy other than noeviction
// drops keys under memory pressure: an agent's ledger, a revocation. Both are settings of the
// server, read from INFO (allowed where CONFIG is often not, e.g. on managed Redis).

/** What is wrong with the server's settings for the kill switch; empty when nothing is. */
export function durabilityProblems(info: string): string[] {
  const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim()
  const problems: string[] = []
  const aof = field('aof_enabled')
  if (aof !== '1') {
    problems.push(
      aof === undefined
        ? 'INFO does not say whether the append-only file is on'
        : 'it runs without its append-only file (appendonly no), so a restart loses acknowledged spend and revocations',
    )
  }
  const policy = field('maxmemory_policy')
  if (policy !== 'noeviction') {
    problems.push(
      policy === undefined
        ? 'INFO does not say its eviction policy'
        : `its eviction policy (maxmemory-policy ${policy}) may drop ledger keys under memory pressure`,
    )
  }
  return problems
}

/**
 * Why the server cannot run the store's scripts, if it cannot: a revocation is a script
 * flagged `allow-oom` (a full Redis must still take it), which Redis before 7.0 cannot run.
 * Checked whatever `allowVolatile` says: without it nothing could be revoked.
 */
export function versionProblem(label: string, info: string): string | undefined {
  const version = /^redis_version:(\S+)$/m.exec(info)?.[1]
  const major = Number(version?.split('.')[0])
  if (!(major < 7)) return undefined
  return `Redis at ${label} is version ${version}: the kill switch needs Redis 7.0 or later (its revocation runs as a script flagged allow-oom, so that a Redis at its maxmemory still takes it). Upgrade the server.`
}

/** The message of the refusal: what is wrong and how to fix it. */
export function volatileMessage(label: string, problems: string[]): string {
  return (
    `Redis at ${label} can lose kill switch state: ${problems.join('; ')}. ` +
    'Run it with `appendonly yes` and `maxmemory-policy noeviction` (redis.conf, or ' +
    'CONFIG SET appendonly yes and CONFIG SET maxmemory-policy noeviction, then CONFIG REWRITE), ' +
    'or pass allowVolatile: true to redisStore to accept the risk'
  )
}
