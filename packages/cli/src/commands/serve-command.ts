// `killswitch serve`: the admin HTTP API over the same store as the CLI.

import { GRANT_TTL_BOUNDS_MS, InvalidConfigError } from '@killswitch/core'
import { Command } from 'commander'
import { startAdminServer } from '../admin-server.js'
import type { CliContext } from '../cli-context.js'
import { parseDurationMs, parseWholeNumber } from '../parse-input.js'
import { describeStoreSpec } from '../store-spec.js'

interface ServeOptions {
  host: string
  port: string
  token?: string
  introspectToken?: string
  insecureNoAuth?: boolean
  quiet?: boolean
  allowedHost?: string[]
  approvalLinkSecret?: string
  approvalGrantTtl: string
}

/** Builds `killswitch serve`. */
export function serveCommand(context: CliContext): Command {
  return new Command('serve')
    .description(
      'Serve the admin HTTP API (agents, caps, alerts, revocation, audit, introspection)',
    )
    .option('--host <address>', 'address to bind', '127.0.0.1')
    .option('--port <port>', 'port (0 picks a free one)', '8787')
    .option(
      '--token <token>',
      'admin bearer token (prefer KILLSWITCH_ADMIN_TOKEN: arguments show in ps)',
    )
    .option(
      '--introspect-token <token>',
      'a token allowed ONLY to call /v1/introspect (or KILLSWITCH_INTROSPECT_TOKEN)',
    )
    .option('--insecure-no-auth', 'no authentication at all: local development on loopback only')
    .option(
      '--allowed-host <name>',
      'a name clients use to reach the API (Host header); loopback and --host are always allowed (repeatable)',
      (name: string, previous: string[] = []) => [...previous, name],
    )
    .option(
      '--approval-link-secret <secret>',
      'serve the signed one-click links of approval_requested webhooks at /approval-links/ (prefer KILLSWITCH_APPROVAL_LINK_SECRET: arguments show in ps)',
    )
    .option(
      '--approval-grant-ttl <duration>',
      'how long a one-click approve grants the requested amount for (e.g. 30m, 1h)',
      '1h',
    )
    .option('--quiet', 'no access log on stderr')
    .addHelpText(
      'after',
      "\nAlert webhooks to loopback, private and link-local addresses are refused unless the\noperator allows them: --allow-private-webhooks or --allow-webhook-host <host>.\n\nOne-click approval links: the processes that run agents set\nKILLSWITCH_APPROVAL_LINK_BASE_URL (this server as browsers reach it) and\nKILLSWITCH_APPROVAL_LINK_SECRET (or createKillSwitch({ approvalLinks: { baseUrl, secret } }));\nserve gets the same secret and --allowed-host <the base URL's host>.\n",
    )
    .action(async (options: ServeOptions, command: Command) => {
      const { env } = context.io
      const port = parseWholeNumber(options.port, 'port', 0, 65_535)
      const token = options.token ?? (env.KILLSWITCH_ADMIN_TOKEN || undefined)
      const introspectionToken =
        options.introspectToken ?? (env.KILLSWITCH_INTROSPECT_TOKEN || undefined)
      if (token === undefined && !options.insecureNoAuth) {
        throw new InvalidConfigError(
          'token',
          'Refusing to serve the admin API without an admin token: set KILLSWITCH_ADMIN_TOKEN (e.g. export KILLSWITCH_ADMIN_TOKEN=$(openssl rand -hex 32)). For local development only, --insecure-no-auth serves without one on loopback.',
        )
      }
      const linkSecret =
        options.approvalLinkSecret ?? (env.KILLSWITCH_APPROVAL_LINK_SECRET || undefined)
      // Checked now: a grant the core would refuse must not be offered on every link's page.
      const grantTtlMs = parseDurationMs(options.approvalGrantTtl, 'approval-grant-ttl', {
        ...GRANT_TTL_BOUNDS_MS,
        range: 'a duration from 1s to 7d',
      })
      const errStyle = context.errStyle(command)
      if (options.approvalLinkSecret !== undefined) {
        context.err(
          `${errStyle.yellow('warning:')} --approval-link-secret is visible to other users in the process list; prefer KILLSWITCH_APPROVAL_LINK_SECRET.\n`,
        )
      }
      if (options.token !== undefined) {
        context.err(
          `${errStyle.yellow('warning:')} --token is visible to other users in the process list; prefer KILLSWITCH_ADMIN_TOKEN.\n`,
        )
      }
      const opened = await context.open(command)
      let server: Awaited<ReturnType<typeof startAdminServer>>
      try {
        server = await startAdminServer({
          killSwitch: opened.killSwitch,
          host: options.host,
          port,
          ...(token === undefined ? {} : { token }),
          ...(introspectionToken === undefined ? {} : { introspectionToken }),
          insecureNoAuth: options.insecureNoAuth === true && token === undefined,
          ...(options.allowedHost ? { allowedHosts: options.allowedHost } : {}),
          ...(linkSecret === undefined
            ? {}
            : { approvalLinks: { secret: linkSecret, grantTtlMs } }),
          ...(options.quiet ? {} : { log: (line: string) => context.err(`${line}\n`) }),
        })
      } catch (error) {
        await opened.close()
        throw error
      }
      const auth =
        token === undefined
          ? errStyle.red('NO AUTHENTICATION (--insecure-no-auth)')
          : 'bearer token'
      context.out(`killswitch admin API listening on ${server.url}\n`)
      context.err(`store: ${describeStoreSpec(opened.spec)}; auth: ${auth}. Stop with Ctrl-C.\n`)

      // Runs until the signal (SIGINT/SIGTERM in the binary), then closes cleanly: pending
      // audit entries and alert deliveries are flushed before the process exits.
      await new Promise<void>((resolve) => {
        const { signal } = context.io
        if (signal?.aborted) return resolve()
        signal?.addEventListener('abort', () => resolve(), { once: true })
      })
      await server.close()
      await opened.close()
      context.err('admin API stopped.\n')
    })
}
