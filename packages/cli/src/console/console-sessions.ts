// Console sign-in: the admin token is entered once, checked, and exchanged for a random
// session id in a cookie that scripts cannot read (HttpOnly) and that no other site's request
// carries (SameSite=Strict). The cookie never holds the token; sessions live in this
// process's memory, so restarting `serve` signs everyone out.

import { randomBytes } from 'node:crypto'

export const SESSION_COOKIE = 'ks_console'
/** How long a sign-in lasts without use. */
const IDLE_MS = 12 * 3600_000
/** At most this many live sessions; the least recently used is dropped past it. */
const MAX_SESSIONS = 1_000

/** Live console sessions by id. */
export class ConsoleSessions {
  // Insertion order is last-use order: a used session is moved to the end.
  readonly #expiry = new Map<string, number>()
  readonly #now: () => number

  constructor(now: () => number = Date.now) {
    this.#now = now
  }

  create(): string {
    const id = randomBytes(32).toString('base64url')
    this.#expiry.set(id, this.#now() + IDLE_MS)
    while (this.#expiry.size > MAX_SESSIONS) {
      const oldest = this.#expiry.keys().next().value
      if (oldest === undefined) break
      this.#expiry.delete(oldest)
    }
    return id
  }

  /** True for a live session (and extends it). */
  check(id: string | undefined): boolean {
    if (id === undefined) return false
    const expiry = this.#expiry.get(id)
    if (expiry === undefined) return false
    this.#expiry.delete(id)
    if (expiry <= this.#now()) return false
    this.#expiry.set(id, this.#now() + IDLE_MS)
    return true
  }

  end(id: string | undefined): void {
    if (id !== undefined) this.#expiry.delete(id)
  }
}

/** The Set-Cookie value for a session (Secure when the console is reached over https). */
export function sessionCookie(id: string, secure: boolean): string {
  return [
    `${SESSION_COOKIE}=${id}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${IDLE_MS / 1000}`,
    ...(secure ? ['Secure'] : []),
  ].join('; ')
}

/** The Set-Cookie value that ends a session in the browser. */
export function clearedSessionCookie(): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`
}

/** The session id in a Cookie header, if any. */
export function sessionIdFrom(cookieHeader: string | undefined): string | undefined {
  if (!cookieHeader) return undefined
  for (const part of cookieHeader.split(';')) {
    const [name, ...value] = part.trim().split('=')
    if (name === SESSION_COOKIE) return value.join('=') || undefined
  }
  return undefined
}
