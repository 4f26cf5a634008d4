// Runs the admin API on node:http. Refuses to listen without a token unless the caller
// explicitly asked for no auth AND the address is loopback: an unauthenticated API that can
// raise caps and mint credentials must never be reachable from another machine.

import { isIP } from 'node:net'
import { serve } from '@hono/node-server'
import { InvalidConfigError } from '@killswitch/core'
import { type AdminApiOptions, createAdminApi } from './admin-api.js'

/** Options of `startAdminServer`. */
export interface AdminServerOptions extends AdminApiOptions {
  /** The address to bind. Default `127.0.0.1`. */
  host?: string
  /** The port; 0 picks a free one. Default 8787. */
  port?: number
}

/** A running admin server. */
export interface AdminServer {
  /** e.g. `http://127.0.0.1:8787` */
  readonly url: string
  readonly port: number
  /** Stops accepting connections and ends open ones. Does not close the kill switch. */
  close(): Promise<void>
}

/**
 * True for addresses only this machine can reach.
 *
 * @example
 * isLoopbackHost('127.0.0.1') // true: `serve --insecure-no-auth` is allowed there only
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '')
  if (bare === 'localhost' || bare === '::1') return true
  return isIP(bare) === 4 && bare.startsWith('127.')
}

// The usual reasons a server cannot listen, said in terms of the flags that fix them.
function listenError(error: NodeJS.ErrnoException, host: string, port: number): Error {
  if (error.code === 'EADDRINUSE') {
    return new InvalidConfigError(
      'port',
      `Port ${port} on ${host} is in use: pick another with --port (0 picks a free one).`,
    )
  }
  if (error.code === 'EACCES') {
    return new InvalidConfigError(
      'port',
      `Not allowed to listen on ${host}:${port}: use a port above 1023.`,
    )
  }
  if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND') {
    return new InvalidConfigError(
      'host',
      `Cannot listen on ${host}: no such address on this machine.`,
    )
  }
  return error
}

/**
 * Starts the admin API and resolves once it listens.
 *
 * @example
 * const server = await startAdminServer({ killSwitch: ks, token: process.env.KILLSWITCH_ADMIN_TOKEN, port: 8787 })
 * console.log(`admin API on ${server.url}`)
 * process.once('SIGTERM', () => server.close())
 */
export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const host = options.host ?? '127.0.0.1'
  const port = options.port ?? 8787
  if (!Number.isSafeInteger(port) || port < 0 || port > 65_535) {
    throw new InvalidConfigError(
      'port',
      `Invalid port: ${port}; give 0-65535 (0 picks a free one).`,
    )
  }
  if (options.token === undefined && options.insecureNoAuth && !isLoopbackHost(host)) {
    throw new InvalidConfigError(
      'host',
      `Refusing to serve without authentication on ${host}: --insecure-no-auth is allowed on loopback only (127.0.0.1, ::1, localhost). Set an admin token to listen on ${host}.`,
    )
  }
  // Requests may address the bound host too (a configured name or address), besides loopback.
  const app = createAdminApi({ ...options, allowedHosts: [host, ...(options.allowedHosts ?? [])] })
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const started = serve({ fetch: app.fetch, hostname: host, port }, () => resolve(started))
    started.once('error', (error: NodeJS.ErrnoException) => reject(listenError(error, host, port)))
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
