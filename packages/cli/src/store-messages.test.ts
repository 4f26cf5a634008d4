// Messages name the store they read, and the commands they suggest act on that store: run
// from the wrong folder, "No agents yet" and "not found" must not send the operator astray.
import { afterEach, describe, expect, it } from 'vitest'
import { EXIT_CODES } from './exit-codes.js'
import { storeFlagValue } from './store-messages.js'
import { cliHarness } from './test-helpers.js'

// The harness runs in /nonexistent: the default store is its .killswitch/state.db.
const DEFAULT_STORE = 'sqlite:/nonexistent/.killswitch/state.db'

let harness = cliHarness()
afterEach(async () => {
  await harness.ks.close()
  harness = cliHarness()
})

describe('storeFlagValue', () => {
  it('names the store again from any folder, quoting for the shell, never a password', () => {
    expect(storeFlagValue({ kind: 'sqlite', path: '/srv/ks.db' })).toBe('sqlite:/srv/ks.db')
    expect(storeFlagValue({ kind: 'sqlite', path: "/srv/my agents/it's.db" })).toBe(
      `'sqlite:/srv/my agents/it'\\''s.db'`,
    )
    // Quoted: `*` is a glob to the shell (zsh refuses an unmatched one).
    expect(storeFlagValue({ kind: 'redis', url: 'redis://user:s3cret@cache:6379/1' })).toBe(
      `'redis://***@cache:6379/1'`,
    )
    expect(storeFlagValue({ kind: 'redis', url: 'rediss://cache:6380' })).toBe(
      'rediss://cache:6380',
    )
    expect(storeFlagValue({ kind: 'memory' })).toBe('memory')
  })
})

describe('messages name the store they read', () => {
  it('not found names the store and the CLI command that lists, not the library call', async () => {
    for (const [argv, what, list] of [
      [['agents', 'get', 'nobody'], 'No agent has the handle "nobody"', 'agents'],
      [['revoke', 'nobody'], 'No agent has the handle "nobody"', 'agents'],
      [['budgets', 'get', 'nope'], 'No budget has the id "nope"', 'budgets'],
      [['approvals', 'deny', 'apr_9'], 'No approval request has the id "apr_9"', 'approvals'],
    ] as const) {
      const result = await harness.run([...argv])
      expect(result.code, argv.join(' ')).toBe(EXIT_CODES.notFound)
      expect(result.stderr).toContain(
        `${what} in the store ${DEFAULT_STORE} (the default, under the working directory). List them: killswitch ${list} list\n`,
      )
      expect(result.stderr).not.toMatch(/\.list\(\)|approvals\.list shows/)
    }
  })

  it('carries a --store given into the commands it suggests, masking a redis password', async () => {
    const given = await harness.run(['agents', 'get', 'nobody', '--store', 'sqlite:other.db'])
    expect(given.stderr).toContain(
      'in the store sqlite:/nonexistent/other.db. List them: killswitch agents list --store sqlite:/nonexistent/other.db\n',
    )
    const redis = await harness.run([
      '--store',
      'redis://admin:s3cret@cache:6379/1',
      'budgets',
      'get',
      'nope',
    ])
    expect(redis.code).toBe(EXIT_CODES.notFound)
    expect(redis.stderr).toContain(
      "in the store redis://cache:6379/1. List them: killswitch budgets list --store 'redis://***@cache:6379/1'\n",
    )
    expect(redis.stderr).not.toMatch(/s3cret|admin/)
    // KILLSWITCH_STORE is still set for the next command: named, not repeated as a flag.
    const fromEnv = cliHarness({ KILLSWITCH_STORE: 'sqlite:/srv/ks.db' })
    try {
      const result = await fromEnv.run(['agents', 'get', 'nobody'])
      expect(result.stderr).toContain(
        'in the store sqlite:/srv/ks.db. List them: killswitch agents list\n',
      )
    } finally {
      await fromEnv.ks.close()
    }
  })

  it('"No agents yet", "No budgets yet" and no approvals name the store read', async () => {
    const agents = await harness.run(['agents', 'list'])
    expect(agents.stdout).toBe(
      `No agents yet in ${DEFAULT_STORE} (the default, under the working directory). Create one: killswitch agents create <handle> --cap <usd>\n`,
    )
    const other = await harness.run(['--store', 'sqlite:/srv/ks.db', 'agents', 'list'])
    expect(other.stdout).toBe(
      'No agents yet in sqlite:/srv/ks.db. Create one: killswitch agents create <handle> --cap <usd> --store sqlite:/srv/ks.db\n',
    )
    expect((await harness.run(['budgets', 'list', '--store', 'sqlite:/srv/ks.db'])).stdout).toBe(
      'No budgets yet in sqlite:/srv/ks.db. Create one: killswitch budgets create <id> --limit 100/day --store sqlite:/srv/ks.db\n',
    )
    expect((await harness.run(['approvals', 'list', '--status', 'pending'])).stdout).toBe(
      `No pending approval requests in ${DEFAULT_STORE} (the default, under the working directory).\n`,
    )
  })

  it('revoke and get suggest their follow-up commands on the same store', async () => {
    await harness.run(['agents', 'create', 'alpha', '--cap', '5'])
    const got = await harness.run(['agents', 'get', 'alpha', '--store', 'sqlite:/srv/ks.db'])
    expect(got.stdout).toContain(
      'none (killswitch alert alpha --at 0.8 --webhook URL --store sqlite:/srv/ks.db)',
    )
    const revoked = await harness.run(['--store', 'sqlite:/srv/ks.db', 'revoke', 'alpha'])
    expect(revoked.code).toBe(0)
    expect(revoked.stdout).toContain(
      'See why and on what: killswitch audit alpha --store sqlite:/srv/ks.db\n',
    )
    // Without --store, the hint is the plain command, as before.
    await harness.run(['agents', 'create', 'beta', '--cap', '5'])
    expect((await harness.run(['revoke', 'beta'])).stdout).toContain(
      'See why and on what: killswitch audit beta\n',
    )
  })
})
