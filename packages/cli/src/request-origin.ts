// Where a request to the admin API may come from. A bearer token stops a stranger, but not a
// web page in the operator's own browser: with `--insecure-no-auth` a cross-site form POST
// could revoke an agent (CSRF), and a page whose name is rebound to 127.0.0.1 talks to the
// API as if it were same-origin (DNS rebinding). So, whatever the auth mode:
// - the Host header must name this machine's loopback (localhost, 127.0.0.0/8, ::1) or a
//   host the operator configured (the bound address, --allowed-host): a rebound page sends
//   its own name;
// - a request that changes state must not come from another site: `Sec-Fetch-Site` other
//   than same-origin/none, an `Origin: null`, or an Origin that is not this very host is
//   refused. Clients that are not browsers (curl, the CLI, services) send no Origin.

import { isIP } from 'node:net'

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])
// Wildcard binds are not names a client should use: never accepted as a Host.
const WILDCARDS = new Set(['0.0.0.0', '::'])

function normalise(host: string): string {
  return host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
}

/** The host names a request may address: loopback's, plus the configured ones. */
export function allowedHostSet(configured: ReadonlyArray<string | undefined>): Set<string> {
  const hosts = new Set(['localhost'])
  for (const host of configured) {
    if (host === undefined) continue
    const name = normalise(host)
    if (name !== '' && !WILDCARDS.has(name)) hosts.add(name)
  }
  return hosts
}

function isLoopbackName(name: string): boolean {
  if (name === 'localhost' || name === '::1') return true
  return isIP(name) === 4 && name.startsWith('127.')
}

/** `host[:port]` as sent in a Host header or an Origin's authority, parsed; undefined if not. */
function parseAuthority(authority: string): { name: string; authority: string } | undefined {
  if (authority === '' || /[\s/@?#]/.test(authority)) return undefined
  if (!URL.canParse(`http://${authority}`)) return undefined
  const url = new URL(`http://${authority}`)
  return { name: normalise(url.hostname), authority: url.host }
}

/**
 * Why this request is refused (a message for the 403), or undefined when it may proceed.
 *
 * @example
 * const refused = refuseCrossSite('POST', (name) => c.req.header(name), allowedHostSet(['127.0.0.1']))
 * if (refused) return c.json({ error: { code: 'forbidden', message: refused } }, 403)
 */
export function refuseCrossSite(
  method: string,
  header: (name: string) => string | undefined,
  allowedHosts: ReadonlySet<string>,
  fallbackHost?: string,
): string | undefined {
  const host = parseAuthority(header('host') ?? fallbackHost ?? '')
  if (!host || !(isLoopbackName(host.name) || allowedHosts.has(host.name))) {
    return 'Refused: the Host header names neither this machine (localhost, 127.0.0.1, [::1]) nor a host the server was configured with (DNS rebinding protection). Use http://127.0.0.1:<port>, or start serve with --allowed-host <name>.'
  }
  if (SAFE_METHODS.has(method.toUpperCase())) return undefined
  const crossSite =
    'Refused: a request from a web page on another site may not change anything here (CSRF protection). Call the API from curl, the CLI or a service: they send no Origin header.'
  const fetchSite = header('sec-fetch-site')
  if (fetchSite !== undefined && fetchSite !== 'same-origin' && fetchSite !== 'none') {
    return crossSite
  }
  const origin = header('origin')
  if (origin === undefined) return undefined
  if (!URL.canParse(origin)) return crossSite
  const parsed = new URL(origin)
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return crossSite
  // Same origin: the page was served by this very host and port.
  return parsed.host.toLowerCase() === host.authority.toLowerCase() ? undefined : crossSite
}
