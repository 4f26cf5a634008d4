// `killswitch gateway`: the OpenAI/Anthropic-compatible gateway over the same store as the
// CLI. Agents use their ks_ credential as API key; the provider keys come from a providers
// file (--providers) or the environment under the official SDKs' names, and are never printed.

import { resolve as resolvePath } from 'node:path'
import type { KillSwitch } from '@killswitch/core'
import { InvalidConfigError } from '@killswitch/core'
import {
  type ProvidersFile,
  type RunningGateway,
  readProvidersFile,
  startGateway,
} from '@killswitch/gateway'
import { Command } from 'commander'
import type { CliContext } from '../cli-context.js'
import { parseWholeNumber } from '../parse-input.js'
import { describeStoreSpec } from '../store-spec.js'

interface GatewayCommandOptions {
  host: string
  port: string
  providers?: string
  quiet?: boolean
}

/** Builds `killswitch gateway`. */
export function gatewayCommand(context: CliContext): Command {
  return new Command('gateway')
    .description(
      'Serve the OpenAI/Anthropic-compatible gateway: agents send their ks_ credential as API key; provider keys from OPENAI_API_KEY, OPENAI_BASE_URL, ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL',
    )
    .option('--host <address>', 'address to bind', '127.0.0.1')
    .option('--port <port>', 'port (0 picks a free one)', '8788')
    .option(
      '--providers <file>',
      'JSON file with provider keys: {"openai":{"apiKey","baseURL"},"anthropic":{...}} (over the environment)',
    )
    .option('--quiet', 'no request log on stderr')
    .action(async (options: GatewayCommandOptions, command: Command) => {
      const port = parseWholeNumber(options.port, 'port', 0, 65_535)
      const providers: ProvidersFile =
        options.providers === undefined
          ? {}
          : await readProvidersFile(resolvePath(context.io.cwd, options.providers))
      const opened = await context.open(command)
      let gateway: RunningGateway
      try {
        const killSwitch = opened.killSwitch as Partial<KillSwitch>
        if (typeof killSwitch.guard !== 'function') {
          throw new InvalidConfigError(
            'store',
            'The kill switch opened for the gateway has no guard.',
          )
        }
        gateway = await startGateway({
          killSwitch: killSwitch as Pick<KillSwitch, 'guard'>,
          host: options.host,
          port,
          env: context.io.env,
          ...providers,
          ...(options.quiet ? {} : { log: (line: string) => context.err(`${line}\n`) }),
          onError: (error) =>
            context.err(`warning: ${error instanceof Error ? error.message : String(error)}\n`),
        })
      } catch (error) {
        await opened.close()
        throw error
      }
      const { env } = context.io
      const upstreams = [
        providers.openai || env.OPENAI_API_KEY || env.OPENAI_BASE_URL ? 'openai' : undefined,
        providers.anthropic || env.ANTHROPIC_API_KEY || env.ANTHROPIC_BASE_URL
          ? 'anthropic'
          : undefined,
      ].filter(Boolean)
      context.out(`killswitch gateway listening on ${gateway.url}\n`)
      context.err(
        `store: ${describeStoreSpec(opened.spec)}; upstreams: ${upstreams.join(', ') || 'none (set OPENAI_API_KEY or ANTHROPIC_API_KEY)'}.\n` +
          `Agents: OpenAI baseURL ${gateway.url}/v1, Anthropic baseURL ${gateway.url}, apiKey: their ks_ credential. Stop with Ctrl-C.\n`,
      )
      // Runs until the signal (SIGINT/SIGTERM in the binary), then closes cleanly.
      await new Promise<void>((resolve) => {
        const { signal } = context.io
        if (signal?.aborted) return resolve()
        signal?.addEventListener('abort', () => resolve(), { once: true })
      })
      await gateway.close()
      await opened.close()
      context.err('gateway stopped.\n')
    })
}
