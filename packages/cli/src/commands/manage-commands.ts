// `killswitch cap | alert | revoke`: the operator's controls.

import {
  type AgentSnapshot,
  ALERT_FORMATS,
  type AlertFormat,
  type AuditEntry,
  findKillSwitchError,
  InvalidConfigError,
  type KillSwitch,
  maskWebhookUrl,
  REFUSED_TARGET_REASON,
  type RevocationUnreplicatedError,
  StoreUnavailableError,
} from '@killswitch/core'
import { Command } from 'commander'
import type { CliContext } from '../cli-context.js'
import { CliError, CliExit, EXIT_CODES } from '../exit-codes.js'
import { formatUsd } from '../format.js'
import { limitText } from '../limit-format.js'
import { collect, handleArgument, parseFraction } from '../parse-input.js'
import { describeStoreSpec, type StoreSpec } from '../store-spec.js'
import { escapeControls } from '../terminal-style.js'
import { agentUpdateInput, type UpdateFlags, unreconciledNote } from './agents-command.js'
import { cliActor } from './approvals-command.js'

/** Builds `killswitch cap`. */
export function capCommand(context: CliContext): Command {
  return new Command('cap')
    .description(
      "Change an agent's spending cap, windows or budgets (takes effect on the next call, in every process)",
    )
    .argument('<handle>', "the agent's handle", handleArgument)
    .argument('[usd]', 'the new cap in dollars (e.g. 10)')
    .option(
      '--limit <amount/window>',
      'replaces its windows, e.g. --limit 5/hour --limit 20/day (repeatable)',
      collect,
    )
    .option('--no-limits', 'removes every window')
    .option('--budget <id>', 'replaces the budgets it draws on (repeatable)', collect)
    .option('--no-budgets', 'draws on no shared budget')
    .action(
      async (handle: string, usd: string | undefined, options: UpdateFlags, command: Command) => {
        const input = agentUpdateInput({ ...options, ...(usd === undefined ? {} : { cap: usd }) })
        const [before, after] = await context.withKillSwitch(command, async (ks) => {
          const current = await ks.agents.get(handle)
          return [current, await ks.agents.update(handle, input)] as const
        })
        const style = context.style(command)
        context.out(
          `Cap of ${style.bold(after.handle)}: ${formatUsd(before.spendingCap)} -> ${formatUsd(after.spendingCap)} ` +
            `(spent ${formatUsd(after.spent)}, available ${formatUsd(after.available)}).\n`,
        )
        if (input.limits !== undefined) {
          context.out(
            `Windows: ${after.limits.map((limit) => `${limitText(limit)} (available ${formatUsd(limit.available)})`).join(', ') || 'none'}.\n`,
          )
        }
        if (input.budgets !== undefined) {
          context.out(`Budgets: ${after.budgets.join(', ') || 'none'}.\n`)
        }
        if (after.available <= 0 && after.status === 'active') {
          context.out(
            style.yellow('No budget left: every new call is refused until the cap is raised.\n'),
          )
        }
      },
    )
}

/** Builds `killswitch alert`. */
export function alertCommand(context: CliContext): Command {
  return new Command('alert')
    .description(
      'Send a signed webhook when spend crosses a fraction of the cap (once per crossing)',
    )
    .argument('<handle>', "the agent's handle", handleArgument)
    .requiredOption('--at <fraction>', 'fraction of the cap, e.g. 0.8 or 80%')
    .requiredOption('--webhook <url>', 'http(s) URL that receives the alert (POST, JSON)')
    .option(
      '--secret <secret>',
      'HMAC-SHA256 signing secret, at least 16 characters (visible in ps: prefer --secret-env); without one, one is generated and shown once',
    )
    .option('--secret-env <name>', 'read the signing secret from this environment variable')
    .option(
      '--format <format>',
      'body shape for where on-call lives: json (default), slack, pagerduty (always signed)',
    )
    .option(
      '--routing-key-env <name>',
      'for --format pagerduty: read the PagerDuty Events v2 routing key from this environment variable',
    )
    .addHelpText(
      'after',
      '\nExample:\n  KS_HOOK_SECRET=$(openssl rand -hex 32) killswitch alert researcher-agent-7 --at 80% --webhook https://hooks.example.com/ks --secret-env KS_HOOK_SECRET\n',
    )
    .action(
      async (
        handle: string,
        options: {
          at: string
          webhook: string
          secret?: string
          secretEnv?: string
          format?: string
          routingKeyEnv?: string
        },
        command: Command,
      ) => {
        const thresholdPct = parseFraction(options.at, 'at')
        let secret = options.secret
        if (options.secretEnv !== undefined) {
          secret = context.io.env[options.secretEnv]
          if (!secret) {
            throw new CliError(
              `the environment variable ${options.secretEnv} (--secret-env) is not set or empty.`,
              EXIT_CODES.usage,
            )
          }
        }
        const format = options.format
        if (format !== undefined && !(ALERT_FORMATS as readonly string[]).includes(format)) {
          throw new InvalidConfigError(
            'format',
            `Invalid --format: "${format}"; give one of ${ALERT_FORMATS.join(', ')}.`,
          )
        }
        let routingKey: string | undefined
        if (options.routingKeyEnv !== undefined) {
          routingKey = context.io.env[options.routingKeyEnv]
          if (!routingKey) {
            throw new CliError(
              `the environment variable ${options.routingKeyEnv} (--routing-key-env) is not set or empty.`,
              EXIT_CODES.usage,
            )
          }
        }
        // The key goes only into a PagerDuty payload: with another format nobody is paged.
        if (routingKey !== undefined && format !== 'pagerduty') {
          throw new InvalidConfigError(
            'routingKey',
            '--routing-key-env is used only with --format pagerduty: add that format, or leave --routing-key-env out.',
          )
        }
        if (format === 'pagerduty' && routingKey === undefined) {
          throw new InvalidConfigError(
            'routingKey',
            'A PagerDuty alert needs its routing key: --format pagerduty --routing-key-env PD_ROUTING_KEY (the Events API v2 integration key).',
          )
        }
        const rule = {
          thresholdPct,
          webhookUrl: options.webhook,
          ...(secret ? { secret } : {}),
          ...(format === undefined ? {} : { format: format as AlertFormat }),
          ...(routingKey === undefined ? {} : { routingKey }),
        }
        const agent = await context.withKillSwitch(command, (ks) =>
          ks.agents.setAlert(handle, rule),
        )
        const style = context.style(command)
        // The URL as every view shows it: its query, userinfo and tokens may be secrets.
        context.out(
          `Alert set: ${style.bold(agent.handle)} -> POST ${maskWebhookUrl(options.webhook)} when spend crosses ` +
            `${Math.round(thresholdPct * 1000) / 10}% of the cap (${formatUsd(agent.spendingCap * thresholdPct)} of ${formatUsd(agent.spendingCap)}), ` +
            `signed (Killswitch-Signature, HMAC-SHA256)${format && format !== 'json' ? `, as a ${format === 'slack' ? 'Slack' : 'PagerDuty Events v2'} payload` : ''}.\n`,
        )
        const generated = agent.webhookSecrets?.[0]?.secret
        if (generated !== undefined) {
          context.out('Its signing secret, for the receiver to verify Killswitch-Signature:\n\n')
          context.reveal(`  ${style.cyan(generated)}\n\n`)
          context.err(
            `${context.errStyle(command).yellow('This secret is shown only once.')} Configure your receiver with it now; to change it, set the alert again with --secret-env.\n`,
          )
        } else if (!secret) {
          context.out('Signed with the secret this store already uses for that URL.\n')
        }
      },
    )
}

/** Builds `killswitch revoke`. */
export function revokeCommand(context: CliContext): Command {
  return new Command('revoke')
    .description(
      'Revoke an agent: its credential is refused everywhere from now on, in-flight calls included',
    )
    .argument('<handle>', "the agent's handle", handleArgument)
    .option('--reason <text>', 'why (goes in the audit log)', 'revoked with the killswitch CLI')
    .action(async (handle: string, options: { reason: string }, command: Command) => {
      const style = context.style(command)
      // The confirmation is printed as soon as the store confirms, inside the kill switch's
      // lifetime: closing it flushes the alert deliveries, which a hung receiver can stretch
      // to seconds. The revoke has taken effect by then; the operator should not wait to see so.
      let revoked = false
      // Set when the store did not take the revocation in time: closing the kill switch
      // drains its outbox, which retries it once more; what is true after that is said.
      let unconfirmed: CliError | undefined
      // Set (to when the revoke began) when the store wrote it where every process reads it,
      // but no replica confirmed it: closing retries it until one does, or says so (exit 6).
      let unreplicatedSince: number | undefined
      const confirm = (agent: AgentSnapshot, spec: StoreSpec, how: string) => {
        revoked = true
        context.out(
          `${style.red('Revoked')} ${style.bold(agent.handle)} ${how} (reason: ${escapeControls(agent.revokedReason ?? options.reason)}).\n` +
            `Confirmed: the store (${describeStoreSpec(spec)}) reports it revoked since ${agent.revokedAt}; its credential is refused by every guard and by introspection, in-flight calls included.\n` +
            `It spent ${formatUsd(agent.spent)} of ${formatUsd(agent.spendingCap)}${unreconciledNote(agent, context.storeFlag(command))}${inFlight(agent.held)}. See why and on what: killswitch audit ${agent.handle}${context.storeFlag(command)}\n`,
        )
      }
      const revoking = context.withKillSwitch(
        command,
        async (ks, spec) => {
          // Timed from the command's first store call: nothing is read before the revoke (a
          // read waiting out a frozen store held the revoke back and was left out of the time:
          // red team rt26). The store's write says whether it was revoked already.
          const started = performance.now()
          const answer = await ks.agents
            .revoke(handle, { reason: options.reason, by: cliActor(context.io.env) })
            .catch(async (error: unknown) => {
              if (findKillSwitchError(error)?.code === 'revocation_unreplicated') {
                // In force already: nothing to confirm but a replica's copy (rt27 printed
                // "Confirmed", then "NOT written", exit 5, for a credential refused everywhere).
                unreplicatedSince = started
                context.err(
                  `In force now: every process refuses the credential of ${handle}. Waiting for the store to confirm it (a replica, or the sqlite ledger's lock; up to about 10 s, as the CLI closes)...\n`,
                )
                return
              }
              if (!(error instanceof StoreUnavailableError)) throw error
              // The kill switch retries it while this process runs: wait for the store to take
              // it (a lock released, Redis back) before telling the operator either way.
              context.err(`The store is unavailable; retrying the revoke for about 10 s...
`)
              if (await revokedWithin(ks, handle, REVOKE_RETRY_MS)) return
              unconfirmed = new CliError(
                `${handle} is NOT confirmed revoked: the store did not take the revocation within ${REVOKE_RETRY_MS / 1000} s, nor as the CLI closed (${error.message}). Run this command again until it says Revoked or already revoked.`,
                EXIT_CODES.storeUnavailable,
              )
              context.err(
                'Not written yet; trying once more as the CLI closes (up to about 10 s)...\n',
              )
            })
          if (unconfirmed !== undefined || unreplicatedSince !== undefined) return
          if (answer?.alreadyRevoked) {
            context.out(
              `${style.bold(answer.handle)} was already revoked at ${answer.revokedAt} (${escapeControls(answer.revokedReason ?? 'no reason')}); nothing changed.\n`,
            )
            return
          }
          const tookMs = performance.now() - started
          // Confirm with a fresh read from the store, not the revoke call's own answer.
          const agent = await ks.agents.get(handle)
          if (agent.status !== 'revoked') {
            throw new CliError(
              `revoking ${agent.handle} did not take effect: the store still reports it "${agent.status}". This is a bug; the credential may still work.`,
              EXIT_CODES.internal,
            )
          }
          confirm(agent, spec, `in ${tookMs.toFixed(1)} ms`)
        },
        {
          afterDeliveries: async (ks) => {
            // Closed without an error: a replica confirmed it as the outbox drained.
            if (unreplicatedSince !== undefined) {
              unreplicatedSince = undefined
              const how = 'and the store confirmed it as the CLI closed'
              confirm(await ks.agents.get(handle), context.storeSpec(command), how)
            }
            // Closed: its outbox drained. Re-read: the revocation may have landed meanwhile.
            if (unconfirmed !== undefined) {
              const agent = await ks.agents.get(handle)
              if (agent.status !== 'revoked') return
              unconfirmed = undefined
              confirm(agent, context.storeSpec(command), 'as the CLI closed (written at close)')
            }
            // The revoke is done and said; an alert that did not go out is said too, or
            // on-call is never told and the operator believes it was.
            if (!revoked || ks.store === undefined) return
            for (const line of undeliveredRevokeAlerts(
              await ks.store.readAudit(handle, { limit: 50 }),
            ))
              context.err(`${context.errStyle(command).yellow('warning:')} ${line}\n`)
          },
          // Said only while the alert is still going out: the revoke itself is over.
          slowCloseNotice: () =>
            revoked
              ? 'The revoke is done; still delivering its alert (up to about 10 s if the receiver does not answer; the outcome goes in the audit log).\n'
              : undefined,
        },
      )
      await revoking.catch((error: unknown) => {
        // Closed with it still unconfirmed: one outcome, the truth (exit 6).
        const found = findKillSwitchError(error)
        if (found?.code !== 'revocation_unreplicated' || unreplicatedSince === undefined)
          throw error
        const seconds = Math.round((performance.now() - unreplicatedSince) / 1000)
        const what = (found as RevocationUnreplicatedError).alreadyRevoked
          ? `${style.bold(handle)} was already revoked`
          : `${style.red('Revoked')} ${style.bold(handle)}`
        // Pending on a replica (Redis) or on the sqlite ledger's lock: each says its own risk.
        const pending =
          (found as RevocationUnreplicatedError).pending === 'ledger'
            ? `the sqlite ledger's lock stayed held for ${seconds} s (a process frozen inside a transaction), so it is in the -revocations file only: processes of an earlier release, which read only the ledger, still accept the credential until another process writes the ledger. Stop or upgrade them, then check with killswitch agents get ${handle}${context.storeFlag(command)}.`
            : `no replica confirmed it within ${seconds} s, so a failover before one does could undo it. Check with killswitch agents get ${handle}${context.storeFlag(command)} after any failover.`
        context.out(`${what}: in force now, every process refuses its credential; ${pending}\n`)
        throw new CliExit(EXIT_CODES.unreplicated)
      })
      if (unconfirmed !== undefined) throw unconfirmed
    })
}

/**
 * One line for each `revoked` alert of the latest revocation that was not delivered, from the
 * audit log's delivery outcomes (`entries` oldest first): where to, and why.
 */
export function undeliveredRevokeAlerts(entries: readonly AuditEntry[]): string[] {
  const since = entries.findLastIndex((entry) => entry.type === 'revoked')
  if (since < 0) return []
  const lines: string[] = []
  for (const entry of entries.slice(since + 1)) {
    const data = entry.data as {
      eventType?: unknown
      ok?: unknown
      url?: unknown
      error?: unknown
      attempts?: unknown
    }
    if (entry.type !== 'alert_delivery' || data.eventType !== 'revoked' || data.ok !== false)
      continue
    // Core's reason names the library option and `serve`: this command takes the flags too.
    const why =
      data.error === REFUSED_TARGET_REASON
        ? 'its webhook host is, or resolves to, a loopback, private, link-local or metadata address; to send alerts there, revoke with --allow-private-webhooks or --allow-webhook-host <host> (or KILLSWITCH_ALLOW_PRIVATE_WEBHOOKS)'
        : `${String(data.error ?? 'no reason recorded')}, after ${String(data.attempts ?? '?')} attempt(s)`
    lines.push(
      `the revoke alert to ${String(data.url ?? 'its webhook')} was NOT delivered (${why}). The revoke itself is done; tell on-call another way.`,
    )
  }
  return lines
}

/** Money still held by calls that were in flight: they are charged as they end, just after. */
function inFlight(heldUsd: number): string {
  return heldUsd > 0 ? `, plus ${formatUsd(heldUsd)} held by calls in flight (settling now)` : ''
}

/** How long `revoke` waits for a store that is out to take the revocation. */
const REVOKE_RETRY_MS = 10_000

/**
 * Whether the store reports `handle` revoked within `ms` (read every quarter second). A read
 * the store holds up (a lock, a stopped Redis) is given up at the deadline: "10 s" took 25.
 * A store back that has no such agent throws its AgentNotFoundError: the operator is told
 * so (exit 2), not that the store stayed out (red team rt41b).
 */
export async function revokedWithin(
  ks: Pick<KillSwitch, 'agents'>,
  handle: string,
  ms: number,
): Promise<boolean> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(250, deadline - Date.now())))
    let timer: NodeJS.Timeout | undefined
    const gaveUp = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), Math.max(0, deadline - Date.now()))
    })
    const read = ks.agents.get(handle).catch((error: unknown) => {
      if (findKillSwitchError(error)?.code === 'agent_not_found') throw error
      return undefined
    })
    const agent = await Promise.race([read, gaveUp])
    clearTimeout(timer)
    if (agent?.status === 'revoked') return true
  }
  return false
}
