// Text from the store reaches the operator's terminal: a tool name a prompt-injected model
// chose (in a runaway revocation's reason), an audit summary, an approval's reason. None of
// its control characters may reach the terminal raw (OSC 52 sets the clipboard, CSI moves
// the cursor and erases lines, CR overwrites what was printed); the CLI's own colours stay.
import { describe, expect, it } from 'vitest'
import { runCli } from './run-cli.js'
import { buffer, cliHarness } from './test-helpers.js'

// OSC 52 (clipboard) ended by BEL, erase line, cursor up, CR, and the C1 forms of CSI/OSC/ST.
const EVIL =
  'search\u001b]52;c;cm0gLXJmIH4K\u0007\u001b[2K\u001b[1A\rfake line\u009b2J\u009d0;title\u009c\u007f'
// The only escape sequences the CLI itself writes: bold, dim and four colours, and their ends.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching escapes is the point
const CLI_SGR = /\u001b\[(?:1|2|22|31|32|33|36|39)m/g
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g

/** Control characters in the output once the CLI's own styling is taken out. */
const rawControls = (text: string) => text.replace(CLI_SGR, '').match(CONTROL) ?? []

async function hostileStore() {
  const harness = cliHarness()
  const { ks } = harness
  // A runaway trip: the same tool call over and over, the tool's name chosen by the model.
  const victim = await ks.agents.create({ handle: 'victim', spendingCap: 5 })
  const guard = ks.guard(victim.credential)
  for (let i = 0; i < 100; i++) {
    try {
      const call = await guard.beforeToolCall({ name: EVIL, args: { q: 'same' } })
      await guard.afterToolCall(call, { ok: true })
    } catch {
      break
    }
  }
  await ks.agents.create({ handle: 'manual', spendingCap: 5 })
  await ks.agents.revoke('manual', { reason: EVIL })
  for (const [id, handle] of [
    ['apr_pending', 'asker'],
    ['apr_denied', 'asker2'],
  ] as const) {
    await ks.agents.create({ handle, spendingCap: 5, approvals: { enabled: true, waitMs: 0 } })
    await ks.store.openApproval({
      id,
      handle,
      requestedMicros: 2_000_000,
      reason: EVIL,
      ttlMs: 3_600_000,
      now: Date.now(),
    })
  }
  // Written to the store directly: the API refuses such a `by` now, but a store written by an
  // older version (or by hand) may hold one, and the CLI must still show it safely.
  await ks.store.decideApproval({
    id: 'apr_denied',
    status: 'denied',
    by: EVIL,
    reason: EVIL,
    now: Date.now(),
  })
  return harness
}

const COMMANDS = [
  ['agents', 'list'],
  ['agents', 'get', 'victim'],
  ['agents', 'get', 'manual'],
  ['audit', 'victim'],
  ['audit', 'manual'],
  ['audit', 'manual', '--csv'],
  ['audit', 'manual', '--json'],
  ['approvals', 'list'],
  ['approvals', 'list', '--status', 'denied'],
  ['approvals', 'deny', 'apr_pending', '--reason', EVIL],
  ['revoke', 'manual'],
  ['agents', 'get', 'manual', '--json'],
  ['agents', 'get', `nobody${EVIL}`],
]

describe('terminal safety: stored text never reaches the terminal as control sequences', () => {
  it('the runaway trip stored the tool name, escapes and all (the premise)', async () => {
    const { ks } = await hostileStore()
    const victim = await ks.agents.get('victim')
    expect(victim.status).toBe('revoked')
    expect(victim.revokedReason).toContain('\u001b]52')
    await ks.close()
  })

  for (const tty of [false, true]) {
    it(`escapes ESC, OSC 52, BEL, CR and C1 in every view (${tty ? 'TTY, coloured' : 'piped'})`, async () => {
      const { ks } = await hostileStore()
      const outputs: string[] = []
      for (const argv of COMMANDS) {
        const stdout = buffer(tty)
        const stderr = buffer(tty)
        await runCli(argv, {
          stdout,
          stderr,
          env: {},
          openKillSwitch: async () => ({ killSwitch: ks, close: async () => {} }),
        })
        const text = stdout.text() + stderr.text()
        expect(rawControls(text), `${argv.join(' ')}:\n${text}`).toEqual([])
        outputs.push(text)
      }
      const all = outputs.join('')
      // Shown, not acted on: the operator sees what the agent tried.
      expect(all).toContain('search\\x1b]52;c;cm0gLXJmIH4K\\x07\\x1b[2K\\x1b[1A\\x0dfake line')
      expect(all).toContain('\\u009b2J\\u009d0;title\\u009c\\u007f')
      if (tty) {
        // The CLI's own colours are still there.
        expect(all).toContain('\u001b[31mrevoked\u001b[39m')
        expect(all).toContain('\u001b[1m')
      } else {
        expect(all).not.toContain('\u001b')
      }
      await ks.close()
    })
  }

  it('shows bidi overrides, isolates and zero-width characters as escapes in every view', async () => {
    const harness = cliHarness()
    const { ks } = harness
    const RLO = '\u202e'
    const hidden = `tool call${RLO}toor:ilc yb devorppa \u2066x\u2069\u200b\u200f\u202a\ufeff\u2028`
    await ks.agents.create({
      handle: 'asker',
      spendingCap: 1,
      approvals: { enabled: true, waitMs: 0 },
    })
    await ks.store.openApproval({
      id: 'apr_bidi',
      handle: 'asker',
      requestedMicros: 2_000_000,
      reason: hidden,
      ttlMs: 3_600_000,
      now: Date.now(),
    })
    await ks.agents.create({ handle: 'm', spendingCap: 1 })
    // Shown raw, "x<RLO>evitca" reads "xactive".
    await ks.agents.revoke('m', { reason: `x${RLO}evitca` })
    const FORMAT = /[\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff\ue000\ue001]/
    for (const tty of [false, true]) {
      for (const argv of [
        ['approvals', 'list'],
        ['agents', 'get', 'm'],
        ['revoke', 'm'],
        ['audit', 'm'],
        ['agents', 'get', 'm', '--json'],
      ]) {
        const stdout = buffer(tty)
        const stderr = buffer(tty)
        await runCli(argv, {
          stdout,
          stderr,
          env: {},
          openKillSwitch: async () => ({ killSwitch: ks, close: async () => {} }),
        })
        const text = stdout.text() + stderr.text()
        expect(FORMAT.exec(text)?.[0], `${argv.join(' ')}:\n${text}`).toBeUndefined()
        if (argv.includes('m')) expect(text).toContain('x\\u202eevitca')
        if (argv.includes('--json')) {
          expect(JSON.parse(stdout.text()).revokedReason).toBe(`x${RLO}evitca`)
        }
      }
    }
    const list = await harness.run(['approvals', 'list'])
    expect(list.stdout).toContain(
      'tool call\\u202etoor:ilc yb devorppa \\u2066x\\u2069\\u200b\\u200f\\u202a\\ufeff\\u2028',
    )
    await ks.close()
  })

  it('shows stored text shaped like the style marker as text: columns stay aligned', async () => {
    const { ks } = cliHarness()
    const fake = `\ue000${'0'.repeat(32)}\ue001[31m`
    await ks.agents.create({ handle: 'w', spendingCap: 1 })
    await ks.agents.revoke('w', { reason: `${fake}ABCDEFGHIJ` })
    for (const tty of [false, true]) {
      const stdout = buffer(tty)
      await runCli(['audit', 'w'], {
        stdout,
        stderr: buffer(tty),
        env: {},
        openKillSwitch: async () => ({ killSwitch: ks, close: async () => {} }),
      })
      expect(stdout.text()).toContain(`\\ue000${'0'.repeat(32)}\\ue001[31mABCDEFGHIJ`)
      expect(stdout.text()).not.toMatch(/[\ue000\ue001]/)
    }
    await ks.close()
  })

  it('keeps --json output valid JSON with the stored text intact', async () => {
    const { ks, run } = await hostileStore()
    const result = await run(['agents', 'get', 'manual', '--json'])
    expect(rawControls(result.stdout)).toEqual([])
    expect(JSON.parse(result.stdout).revokedReason).toBe(EVIL)
    const lines = (await run(['audit', 'manual', '--json'])).stdout.trim().split('\n')
    expect(lines.map((line) => JSON.parse(line).summary).join('\n')).toContain(EVIL)
    await ks.close()
  })

  it('keeps a reason on its line in tables, columns aligned', async () => {
    const { ks, run } = await hostileStore()
    await ks.agents.create({ handle: 'plain', spendingCap: 5 })
    await ks.agents.revoke('plain', { reason: 'line one\nSTATUS: active' })
    const got = await run(['agents', 'get', 'plain'])
    expect(got.stdout).toContain('(line one\\x0aSTATUS: active)')
    const audit = (await run(['audit', 'plain'])).stdout.trim().split('\n')
    expect(audit).toHaveLength(3)
    expect(audit[2]).toContain('line one\\x0aSTATUS: active')
    const summaryColumn = audit[0]?.indexOf('SUMMARY')
    expect(audit.slice(1).map((line) => line.indexOf('  ', 30) + 2)).toEqual(
      audit.slice(1).map(() => summaryColumn),
    )
    await ks.close()
  })
})
