// How the Redis store connects: fail closed and fast. A command is never queued while Redis
// is unreachable (it would run later, after its caller gave up and maybe retried), never
// resent after the line dropped, and never waited on past its deadline.

import type { Redis, RedisOptions } from 'ioredis'
import type { ResolvedOptions } from './redis-store-options.js'

/** Options of the connections the store opens itself (from a `url`). */
export function connectionOptions(options: ResolvedOptions): RedisOptions {
  return {
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeoutMs,
    connectTimeout: options.connectTimeoutMs,
    // Reconnect quickly and forever: the store resumes as soon as Redis is back.
    retryStrategy: (times: number) => Math.min(50 * times, 1_000),
    connectionName: 'killswitch',
  }
}

/** Options of the pub/sub connection, duplicated from the command connection. */
export function subscriberOptions(options: ResolvedOptions): RedisOptions {
  return {
    ...connectionOptions(options),
    // It only sends SUBSCRIBE, which is safe to queue and to resend.
    enableOfflineQueue: true,
    autoResendUnfulfilledCommands: true,
    commandTimeout: undefined,
    connectionName: 'killswitch-events',
  }
}

/** `promise`, or a rejection with `error()` after `ms`. */
export async function withDeadline<T>(
  promise: Promise<T>,
  ms: number,
  error: () => Error,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(error()), ms)
  })
  try {
    return await Promise.race([promise, deadline])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Resolves when `client` can take a command. Only the very first connection is waited for
 * (up to `timeoutMs`); once the client has been ready, a dropped connection fails at once,
 * because a caller waiting on a reconnect is a caller not told that its call is refused.
 */
export async function untilConnected(
  client: Redis,
  { everReady, timeoutMs }: { everReady: boolean; timeoutMs: number },
): Promise<void> {
  if (client.status === 'ready') return
  if (client.status === 'wait') client.connect().catch(() => {})
  const starting =
    client.status === 'wait' || client.status === 'connecting' || client.status === 'connect'
  if (everReady || !starting) throw new Error(`the connection is ${client.status}`)
  let onReady = () => {}
  let onClose = () => {}
  // Why it closed, when Redis or the socket said: a wrong password must not read as "down".
  let cause: Error | undefined
  const onError = (error: Error) => {
    cause = error
  }
  const connected = new Promise<void>((resolve, reject) => {
    onReady = () => resolve()
    onClose = () => reject(new Error(closedBecause(cause)))
    client.on('ready', onReady)
    client.on('close', onClose)
    client.on('error', onError)
  })
  try {
    await withDeadline(
      connected,
      timeoutMs,
      () => new Error(`not connected within ${timeoutMs} ms`),
    )
  } finally {
    client.off('ready', onReady)
    client.off('close', onClose)
    client.off('error', onError)
  }
}

/** Why the first connection failed, with the fix when it is the caller's (the URL). */
function closedBecause(cause: Error | undefined): string {
  const said = cause?.message ?? ''
  if (/WRONGPASS|invalid password|invalid username-password/i.test(said)) {
    return 'Redis refused the username or password in the URL (WRONGPASS): check them'
  }
  if (/NOAUTH/.test(said)) {
    return 'Redis requires a password (NOAUTH): give it in the URL, redis://:<password>@host:port'
  }
  if ((cause as { code?: unknown } | undefined)?.code === 'ECONNREFUSED') {
    return 'the connection was refused: nothing listens at that address'
  }
  return 'the connection was refused or closed'
}
