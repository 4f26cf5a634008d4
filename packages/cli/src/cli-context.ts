// What every command gets: the streams, the environment, the styles, and a way to open the
// kill switch over the chosen store (and close it, so buffered audit entries and alert
// deliveries are flushed before the process exits).
//
// Everything written goes through `redactCredentials`: an error that quotes a mistyped
// argument, an audit summary or an access log line never shows a credential. The one
// exception is `reveal`, for what a command exists to show once (a new credential).
// Everything written, `reveal` included, goes through `terminalSafe` too: no control
// character from stored text reaches the terminal raw.

import { existsSync } from 'node:fs'
import {
  type AllowPrivateWebhooks,
  createKillSwitch,
  findKillSwitchError,
  redactCredentials,
} from '@killswitch/core'
import type { Command } from 'commander'
import type { AdminKillSwitch } from './admin-kill-switch.js'
import { CliError, EXIT_CODES } from './exit-codes.js'
import { notFoundInStore, type StoreOrigin, storeFlag, storeRead } from './store-messages.js'
import { openStore, parseStoreSpec, type StoreSpec } from './store-spec.js'
import {
  createTerminalStyle,
  type OutputStream,
  shouldUseColour,
  styleMarker,
  type TerminalStyle,
  terminalSafe,
} from './terminal-style.js'

/** An open kill switch and how to close it. */
export interface OpenedKillSwitch {
  killSwitch: AdminKillSwitch
  /**
   * Closes the kill switch (which flushes its alert deliveries), then the store it opened.
   * `beforeStoreCloses`, when given, runs between the two: the deliveries' outcomes are in
   * the audit log by then, and the store still reads.
   */
  close(beforeStoreCloses?: () => Promise<void>): Promise<void>
}

/** Where `runCli` reads and writes: the real process, or buffers in tests. */
export interface CliIo {
  stdout: OutputStream
  stderr: OutputStream
  /** Default: process.env. */
  env?: Record<string, string | undefined>
  /** Relative store paths resolve against it. Default: process.cwd(). */
  cwd?: string
  /** Where `verify` reads a piped credential. Default: process.stdin. */
  stdin?: NodeJS.ReadableStream
  /** Ends `serve` when aborted (the binary aborts it on SIGINT and SIGTERM). */
  signal?: AbortSignal
  /**
   * Opens the kill switch for a command. Default: `createKillSwitch` over the store that
   * `--store` / KILLSWITCH_STORE names. Tests pass one sharing a store with the test.
   */
  openKillSwitch?: (spec: StoreSpec) => Promise<OpenedKillSwitch>
}

/** Options of `withKillSwitch`. */
export interface WithKillSwitchOptions {
  /**
   * Written to stderr when closing (which flushes alert deliveries) is still going on after
   * `slowCloseMs`: what the command already did stays printed; this says why it has not
   * exited yet.
   */
  slowCloseNotice?: () => string | undefined
  /** Default 300 ms. */
  slowCloseMs?: number
  /**
   * Runs once the kill switch is closed (its alert deliveries ended, their outcomes in the
   * audit log), with its store still open: what a command reports about them. What it
   * throws is ignored: the command's own work is done.
   */
  afterDeliveries?: (ks: AdminKillSwitch) => Promise<void>
  /**
   * The command may create the default store when it does not exist (`agents create`,
   * `budgets create`). Any other, run in the wrong folder, would leave an empty store there
   * that a later `agents create` silently uses: it says there is none instead.
   */
  createsStore?: boolean
}

/** The per-run context commands use. */
export interface CliContext {
  readonly io: Required<Pick<CliIo, 'stdout' | 'stderr' | 'env' | 'cwd'>> & CliIo
  /** Style for stdout. */
  style(command: Command): TerminalStyle
  /** Style for stderr. */
  errStyle(command: Command): TerminalStyle
  /** A style (colours on or off) whose colours `out`, `err` and `reveal` let through. */
  makeStyle(enabled: boolean): TerminalStyle
  /** Writes to stdout, credentials redacted, control characters escaped (`terminalSafe`). */
  out(text: string): void
  /** Writes to stderr, credentials redacted, control characters escaped (`terminalSafe`). */
  err(text: string): void
  /** Writes to stdout unredacted: only for the credential a command shows once. */
  reveal(text: string): void
  /** The store the command acts on. */
  storeSpec(command: Command): StoreSpec
  /** Where that store came from: `--store`, KILLSWITCH_STORE, or the default file. */
  storeOrigin(command: Command): StoreOrigin
  /**
   * ` --store <spec>` (secrets masked) when `--store` chose the store, else '': appended to
   * every command a hint suggests, so that it acts on the same store.
   */
  storeFlag(command: Command): string
  /** Runs `action` with an open kill switch, closing it afterwards (also on error). */
  withKillSwitch<T>(
    command: Command,
    action: (ks: AdminKillSwitch, spec: StoreSpec) => Promise<T>,
    options?: WithKillSwitchOptions,
  ): Promise<T>
  /** Opens the kill switch and leaves closing to the caller (`serve`). */
  open(command: Command): Promise<OpenedKillSwitch & { spec: StoreSpec }>
}

/**
 * Which private webhook targets the operator allowed: `--allow-private-webhooks` (all),
 * `--allow-webhook-host <host>` (repeatable), or KILLSWITCH_ALLOW_PRIVATE_WEBHOOKS
 * (`1`/`true` for all, or a comma-separated list of hosts).
 */
export function allowedPrivateWebhooks(
  options: { allowPrivateWebhooks?: boolean; allowWebhookHost?: string[] },
  env: Record<string, string | undefined>,
): AllowPrivateWebhooks {
  if (options.allowPrivateWebhooks) return true
  const fromEnv = env.KILLSWITCH_ALLOW_PRIVATE_WEBHOOKS?.trim() ?? ''
  if (fromEnv === '1' || fromEnv.toLowerCase() === 'true') return true
  const hosts = [
    ...(options.allowWebhookHost ?? []),
    ...fromEnv
      .split(',')
      .map((host) => host.trim())
      .filter((host) => host !== '' && host !== '0' && host.toLowerCase() !== 'false'),
  ]
  return hosts.length > 0 ? hosts : false
}

async function defaultOpen(
  spec: StoreSpec,
  err: (text: string) => void,
  lifetime: 'command' | 'server',
  allowPrivateWebhooks: AllowPrivateWebhooks,
  approvalLinks?: { baseUrl: string; secret: string },
): Promise<OpenedKillSwitch> {
  const store = await openStore(spec)
  const killSwitch = createKillSwitch({
    store,
    allowPrivateWebhooks,
    ...(approvalLinks === undefined ? {} : { approvalLinks }),
    // A command exits once its alerts are delivered (revoke sends one): retry briefly, so a
    // dead on-call receiver delays the exit by seconds, not half a minute. A server keeps
    // the patient defaults. The outcome is in the audit log either way.
    ...(lifetime === 'command'
      ? {
          webhookDelivery: {
            timeoutMs: 3_000,
            maxAttempts: 3,
            baseDelayMs: 250,
            maxDelayMs: 1_000,
          },
        }
      : {}),
    onError: (error) => {
      // A command's revoke says this one itself, as its outcome (manage-commands.ts).
      const code = findKillSwitchError(error)?.code
      if (lifetime === 'command' && code === 'revocation_unreplicated') return
      err(`warning: ${error instanceof Error ? error.message : String(error)}\n`)
    },
  })
  return {
    killSwitch,
    async close(beforeStoreCloses) {
      let failed: { error: unknown } | undefined
      try {
        await killSwitch.close()
        await beforeStoreCloses?.()
      } catch (error) {
        failed = { error }
      }
      // A store passed in is not closed by the kill switch: close it here. Its own failure
      // (an audit flush behind the same held lock) never hides the kill switch's (a
      // revocation in force: red team rt39, exit 5 instead of 6).
      try {
        await store.close()
      } catch (error) {
        failed ??= { error }
      }
      if (failed) throw failed.error
    },
  }
}

/**
 * Signed approval links for the alerts this process sends, when both
 * KILLSWITCH_APPROVAL_LINK_BASE_URL and KILLSWITCH_APPROVAL_LINK_SECRET are set.
 */
export function approvalLinksFromEnv(
  env: Record<string, string | undefined>,
): { baseUrl: string; secret: string } | undefined {
  const baseUrl = env.KILLSWITCH_APPROVAL_LINK_BASE_URL
  const secret = env.KILLSWITCH_APPROVAL_LINK_SECRET
  return baseUrl && secret ? { baseUrl, secret } : undefined
}

/** Builds the context for one run. */
export function createCliContext(io: CliIo): CliContext {
  const full = { ...io, env: io.env ?? process.env, cwd: io.cwd ?? process.cwd() }
  // Stored text (reasons, summaries, tool and model names) must never reach the terminal as
  // control sequences: everything written is escaped, and only the colours made with this
  // run's marker become real escape sequences (terminal-style.ts).
  const marker = styleMarker()
  const makeStyle = (enabled: boolean) => createTerminalStyle(enabled, marker)
  const safe = (text: string) => terminalSafe(text, marker)
  const colour = (command: Command, stream: OutputStream) =>
    makeStyle(command.optsWithGlobals().color !== false && shouldUseColour(stream, full.env))
  const privateWebhooks = (command: Command) =>
    allowedPrivateWebhooks(command.optsWithGlobals(), full.env)
  const context: CliContext = {
    io: full,
    style: (command) => colour(command, full.stdout),
    errStyle: (command) => colour(command, full.stderr),
    makeStyle,
    out: (text) => void full.stdout.write(safe(redactCredentials(text))),
    err: (text) => void full.stderr.write(safe(redactCredentials(text))),
    reveal: (text) => void full.stdout.write(safe(text)),
    storeSpec(command) {
      const flag = command.optsWithGlobals().store as string | undefined
      return parseStoreSpec(flag ?? full.env.KILLSWITCH_STORE, full.cwd)
    },
    storeOrigin(command) {
      if (command.optsWithGlobals().store !== undefined) return 'flag'
      return full.env.KILLSWITCH_STORE?.trim() ? 'env' : 'default'
    },
    storeFlag: (command) => storeFlag(context.storeSpec(command), context.storeOrigin(command)),
    async open(command) {
      const spec = context.storeSpec(command)
      const opened = await (io.openKillSwitch?.(spec) ??
        defaultOpen(
          spec,
          context.err,
          'server',
          privateWebhooks(command),
          approvalLinksFromEnv(full.env),
        ))
      return { ...opened, spec }
    },
    async withKillSwitch(command, action, options) {
      const spec = context.storeSpec(command)
      const origin = context.storeOrigin(command)
      // Only the implicit default: a store the operator named is opened (created) as asked.
      if (
        !io.openKillSwitch &&
        !options?.createsStore &&
        origin === 'default' &&
        spec.kind === 'sqlite' &&
        !existsSync(spec.path)
      ) {
        throw new CliError(
          `No store at ${storeRead(spec, origin)}. Point at yours with --store sqlite:PATH (or redis://...) or KILLSWITCH_STORE, or run this from the folder where the agents were created.`,
          EXIT_CODES.notFound,
        )
      }
      const opened = {
        ...(await (io.openKillSwitch?.(spec) ??
          defaultOpen(
            spec,
            context.err,
            'command',
            privateWebhooks(command),
            approvalLinksFromEnv(full.env),
          ))),
        spec,
      }
      if (opened.spec.kind === 'memory' && !io.openKillSwitch) {
        context.err(
          'note: the memory store lives only as long as this command; use sqlite:PATH or redis:// to keep agents.\n',
        )
      }
      try {
        return await action(opened.killSwitch, opened.spec)
      } catch (error) {
        // Not found names the store it was looked for in: the wrong folder reads another one.
        throw notFoundInStore(error, opened.spec, origin)
      } finally {
        const notice = options?.slowCloseNotice
        const timer =
          notice === undefined
            ? undefined
            : setTimeout(() => {
                const text = notice()
                if (text !== undefined) context.err(text)
              }, options?.slowCloseMs ?? 300)
        const after = options?.afterDeliveries
        let reported = false
        const report =
          after === undefined
            ? undefined
            : async () => {
                reported = true
                await after(opened.killSwitch).catch(() => {})
              }
        try {
          await opened.close(report)
          // A kill switch handed in (tests, embedding) may close without calling it: its
          // store is its owner's, still open.
          if (report !== undefined && !reported) await report()
        } finally {
          clearTimeout(timer)
        }
      }
    },
  }
  return context
}
