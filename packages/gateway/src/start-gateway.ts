// Runs the gateway on node:http.
import { serve } from '@hono/node-server'
import { InvalidConfigError } from '@killswitch/core'
import { createGateway, type GatewayOptions } from './create-gateway.js'

/** Options of startGateway: the gateway's, plus where to listen. */
export interface StartGatewayOptions extends GatewayOptions {
  /** The address to bind. Default `127.0.0.1`. */
  host?: string
  /** The port; 0 picks a free one. Default 8788. */
  port?: number
}

/** A running gateway. */
export interface RunningGateway {
  /** e.g. `http://127.0.0.1:8788`; agents use `${url}/v1` as their base URL. */
  readonly url: string
  readonly port: number
  /** Stops accepting connections and ends open ones. Does not close the kill switch. */
  close(): Promise<void>
}

/**
 * Starts the gateway and resolves once it listens.
 *
 * @example
 * const gateway = await startGateway({ killSwitch: ks, port: 8788 })
 * console.log(`OpenAI base URL: ${gateway.url}/v1, Anthropic base URL: ${gateway.url}`)
 */
export async function startGateway(options: StartGatewayOptions): Promise<RunningGateway> {
  const { host = '127.0.0.1', port = 8788, ...gateway } = options ?? {}
  if (!Number.isSafeInteger(port) || port < 0 || port > 65_535) {
    throw new InvalidConfigError(
      'port',
      `Invalid port: ${port}; give 0-65535 (0 picks a free one).`,
    )
  }
  const app = createGateway(gateway)
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const started = serve({ fetch: app.fetch, hostname: host, port }, () => resolve(started))
    started.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'EADDRINUSE'
          ? new InvalidConfigError(
              'port',
              `Port ${port} on ${host} is in use: pick another with --port.`,
            )
          : error,
      )
    })
  })
  const address = server.address()
  const boundPort = typeof address === 'object' && address !== null ? address.port : port
  const urlHost = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
  return {
    url: `http://${urlHost}:${boundPort}`,
    port: boundPort,
    close: () =>
      new Promise<void>((resolve, reject) => {
        if ('closeAllConnections' in server) server.closeAllConnections()
        server.close((error) => (error ? reject(error) : resolve()))
      }),
  }
}
