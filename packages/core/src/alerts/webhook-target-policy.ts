// Who may set an alert must not thereby reach what only this machine can reach. A webhook
// URL is an instruction to POST from inside the operator's network, so without a guard it
// is a port scanner (the audit told `HTTP 404` from `ECONNREFUSED`) and a way into cloud
// metadata (169.254.169.254). Targets on loopback, private, link-local, shared (CGNAT),
// multicast, reserved or documentation addresses, tunnels that embed an IPv4 address (6to4,
// Teredo, local-use NAT64), and names that only mean something locally, are refused
// when the rule is set (the host as written) and again at delivery (every address the name
// resolves to: a name that was public at `setAlert` may be rebound to 127.0.0.1 later). The
// operator opts out explicitly: `allowPrivateWebhooks: true`, or a list of hosts.

import { BlockList, isIP } from 'node:net'
import { InvalidConfigError } from '../errors.js'

/** `allowPrivateWebhooks`: true allows every target; a list allows those hosts only. */
export type AllowPrivateWebhooks = boolean | readonly string[]

/** What a webhook may target, as checked at `setAlert` and at delivery. */
export interface WebhookTargetPolicy {
  /** Every target is allowed (the operator opted out of the guard). */
  readonly allowAll: boolean
  /** Hosts (lower case, no brackets, no trailing dot) allowed whatever they resolve to. */
  readonly allowHosts: ReadonlySet<string>
}

/**
 * The one reason a refused target gets, wherever it is refused. It never says which kind of
 * address, which port, or whether anything answered: nothing an attacker could scan with.
 */
export const REFUSED_TARGET_REASON =
  'the webhook host is, or resolves to, a loopback, private, link-local or metadata address, which alerts may not target; allow it explicitly with allowPrivateWebhooks (CLI: --allow-private-webhooks or --allow-webhook-host <host>, on the command that sends the alert)'

const blocked = new BlockList()
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network", 0.0.0.0 reaches loopback on Linux
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // shared address space (CGNAT); Alibaba's metadata is 100.100.100.200
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local: 169.254.169.254 is the cloud metadata service
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, 255.255.255.255 included
] as const) {
  blocked.addSubnet(network, prefix, 'ipv4')
}
for (const [network, prefix] of [
  ['::', 96], // unspecified, loopback (::1) and the old IPv4-compatible form
  ['64:ff9b:1::', 48], // local-use NAT64 (RFC 8215): translated by the operator's own gateway
  ['100::', 64], // discard
  ['2001::', 32], // Teredo: tunnels to an address embedded (obfuscated) in it
  ['2001:2::', 48], // benchmarking
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4: embeds any IPv4 (2002:a9fe:a9fe:: is 169.254.169.254); deprecated
  ['3fff::', 20], // documentation (RFC 9637)
  ['fc00::', 7], // unique local (private); AWS's IPv6 metadata is fd00:ec2::254
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated, still routed by some)
  ['ff00::', 8], // multicast
] as const) {
  blocked.addSubnet(network, prefix, 'ipv6')
}

// Names that only mean something on this machine or network, and the metadata services'.
const LOCAL_SUFFIXES = ['.localhost', '.local', '.internal', '.home.arpa', '.lan']
const LOCAL_NAMES = new Set(['localhost', 'metadata', 'metadata.goog', 'instance-data'])

/** Lower case, without IPv6 brackets or a trailing dot. */
export function normaliseHost(host: string): string {
  return host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
}

/**
 * True for an IP address a webhook may not reach: loopback, private, link-local, shared,
 * multicast, reserved, unspecified, and any of these inside IPv4-mapped (`::ffff:127.0.0.1`)
 * or NAT64 (`64:ff9b::7f00:1`) IPv6. Not an IP address at all: false.
 *
 * @example
 * isForbiddenAddress('169.254.169.254') // true
 * isForbiddenAddress('::ffff:10.0.0.1') // true
 * isForbiddenAddress('93.184.215.14') // false
 */
export function isForbiddenAddress(address: string): boolean {
  const bare = normaliseHost(address)
  const family = isIP(bare)
  if (family === 4) return blocked.check(bare, 'ipv4')
  if (family !== 6) return false
  // BlockList applies the IPv4 rules to IPv4-mapped addresses itself; NAT64 (64:ff9b::/96)
  // and IPv4-translated (::ffff:0:0/96) addresses embed one too, in any spelling (red team
  // rt42b: `64:ff9b:0:0:0:0:7f00:1` and `::ffff:0:7f00:1` were connected to).
  if (blocked.check(bare, 'ipv6')) return true
  let groups: number[]
  try {
    groups = ipv6Groups(bare)
  } catch {
    return true // an address the URL parser refuses (a zone id): never a webhook's
  }
  const embeds =
    groups.slice(0, 6).join(':') === '100:65435:0:0:0:0' || // 64:ff9b::/96
    groups.slice(0, 6).join(':') === '0:0:0:0:65535:0' // ::ffff:0:0/96
  if (!embeds) return false
  const [high = 0, low = 0] = groups.slice(6)
  return blocked.check([high >> 8, high & 0xff, low >> 8, low & 0xff].join('.'), 'ipv4')
}

/** The eight 16-bit groups of an IPv6 address (`isIP` 6), `::` and a dotted tail expanded. */
function ipv6Groups(address: string): number[] {
  // The URL parser writes every spelling one way: compressed, hex, lower case.
  const canonical = new URL(`http://[${address}]`).hostname.slice(1, -1)
  const [head = '', tail] = canonical.split('::')
  const part = (text: string) =>
    text === '' ? [] : text.split(':').map((g) => Number.parseInt(g, 16))
  const left = part(head)
  const right = tail === undefined ? [] : part(tail)
  return [...left, ...Array(8 - left.length - right.length).fill(0), ...right]
}

/**
 * True for a host name (not an address) that only means something locally: `localhost`,
 * `*.localhost`, `*.local`, `*.internal`, metadata names, and single labels (`redis`,
 * `intranet`), which resolve through the machine's search domains.
 */
function isLocalName(host: string): boolean {
  if (LOCAL_NAMES.has(host)) return true
  if (LOCAL_SUFFIXES.some((suffix) => host.endsWith(suffix))) return true
  return !host.includes('.')
}

/**
 * Builds the policy from `allowPrivateWebhooks`. Throws InvalidConfigError for anything but
 * a boolean or a list of host names.
 *
 * @example
 * webhookTargetPolicy(undefined) // the guard on
 * webhookTargetPolicy(['127.0.0.1', 'hooks.corp.internal']) // those hosts allowed, the rest guarded
 */
export function webhookTargetPolicy(
  value: unknown,
  field = 'allowPrivateWebhooks',
): WebhookTargetPolicy {
  if (value === undefined || value === false) return { allowAll: false, allowHosts: new Set() }
  if (value === true) return { allowAll: true, allowHosts: new Set() }
  if (
    Array.isArray(value) &&
    value.every((host) => typeof host === 'string' && normaliseHost(host) !== '')
  ) {
    return { allowAll: false, allowHosts: new Set(value.map((host) => normaliseHost(host))) }
  }
  throw new InvalidConfigError(
    field,
    `Invalid ${field}: give true (every webhook target allowed), false (the default) or a list of host names such as ['127.0.0.1', 'hooks.corp.internal'].`,
  )
}

/**
 * Checks a webhook URL's host as written (no DNS): a refused host gets
 * `REFUSED_TARGET_REASON`, an allowed one undefined. Call it when the rule is set; the
 * dispatcher calls it again and checks every resolved address at delivery.
 *
 * @example
 * checkWebhookHost('http://169.254.169.254/latest', policy) // REFUSED_TARGET_REASON
 */
export function checkWebhookHost(url: string, policy: WebhookTargetPolicy): string | undefined {
  if (!URL.canParse(url)) return 'the webhook URL is not an absolute http(s) URL'
  const parsed = new URL(url)
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    return 'the webhook URL is not an absolute http(s) URL'
  }
  const host = normaliseHost(parsed.hostname)
  if (policy.allowAll || policy.allowHosts.has(host)) return undefined
  if (isIP(host) !== 0) return isForbiddenAddress(host) ? REFUSED_TARGET_REASON : undefined
  return isLocalName(host) ? REFUSED_TARGET_REASON : undefined
}

/**
 * Whether the addresses a host resolved to may be connected to: every one must be allowed
 * (the connection may use any of them), unless the host is allowed as such.
 */
export function mayConnect(
  host: string,
  addresses: ReadonlyArray<{ address: string }>,
  policy: WebhookTargetPolicy,
): boolean {
  if (policy.allowAll || policy.allowHosts.has(normaliseHost(host))) return true
  return addresses.length > 0 && addresses.every(({ address }) => !isForbiddenAddress(address))
}

/**
 * Validates a webhook URL for an alert rule: a well-formed http(s) URL whose host the policy
 * allows. Throws InvalidConfigError naming the field; never echoes the URL (it may carry the
 * receiver's secret).
 *
 * @example
 * assertWebhookTargetAllowed(rule.webhookUrl, policy) // at setAlert
 */
export function assertWebhookTargetAllowed(
  url: string,
  policy: WebhookTargetPolicy,
  field = 'webhookUrl',
): void {
  const reason = checkWebhookHost(url, policy)
  if (reason !== undefined) throw new InvalidConfigError(field, `Invalid ${field}: ${reason}.`)
}
