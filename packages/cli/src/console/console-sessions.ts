// Console sign-in: the admin token is entered once, checked, and exchanged for a session
// with two halves, both needed on every request:
//  - a random id in a cookie that scripts cannot read (HttpOnly) and that no other site's
//    request carries (SameSite=Strict). Cookies are scoped by host, not port, so a browser
//    also sends it to any other server on the same host: alone it proves nothing;
//  - a random secret in the sign-in answer, which the page keeps in sessionStorage (scoped to
//    this origin, port included) and sends in the `x-killswitch-session` header. A server on
//    another port never sees it.
// Neither holds the token; sessions live in this process's memory, so restarting `serve`
// signs everyone out.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

export const SESSION_COOKIE = 'ks_console'
/** The header carrying the session's secret half. */
export const SESSION_HEADER = 'x-killswitch-session'
/** How long a sign-in lasts without use. */
const IDLE_MS = 12 * 3600_000
/** At most this many live sessions; the least recently used is dropped past it. */
const MAX_SESSIONS = 1_000

const digest = (value: string) => createHash('sha256').update(value).digest()

/** A new session: `id` goes in the cookie, `secret` to the page (and back in a header). */
export interface NewSession {
  id: string
  secret: string
}

/** Live console sessions by id. */
export class ConsoleSessions {
  // Insertion order is last-use order: a used session is moved to the end.
  readonly #expiry = new Map<string, number>()
  readonly #secrets = new Map<string, Buffer>()
  readonly #now: () => number

  constructor(now: () => number = Date.now) {
    this.#now = now
  }

  create(): NewSession {
    const id = randomBytes(32).toString('base64url')
    const secret = randomBytes(32).toString('base64url')
    this.#expiry.set(id, this.#now() + IDLE_MS)
    this.#secrets.set(id, digest(secret))
    while (this.#expiry.size > MAX_SESSIONS) {
      const oldest = this.#expiry.keys().next().value
      if (oldest === undefined) break
      this.end(oldest)
    }
    return { id, secret }
  }

  /**
   * True for a live session whose secret is `secret` (and extends it). The cookie's id alone
   * is refused: another server on this host may have been sent it.
   */
  check(id: string | undefined, secret: string | undefined): boolean {
    if (id === undefined || secret === undefined) return false
    const expiry = this.#expiry.get(id)
    const expected = this.#secrets.get(id)
    if (expiry === undefined || expected === undefined) return false
    if (!timingSafeEqual(digest(secret), expected)) return false
    if (expiry <= this.#now()) {
      this.end(id)
      return false
    }
    this.#expiry.delete(id)
    this.#expiry.set(id, this.#now() + IDLE_MS)
    return true
  }

  end(id: string | undefined): void {
    if (id === undefined) return
    this.#expiry.delete(id)
    this.#secrets.delete(id)
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
