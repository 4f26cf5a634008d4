// StoreEvents from every process, through Redis pub/sub. Pub/sub delivers at most once and
// only to connected subscribers, so a process that was disconnected may have missed a
// revocation. On every reconnect the feed therefore re-reads the revocations index (after
// the subscription is live again, so nothing falls between the two) and publishes a
// `revoked` event for each agent revoked meanwhile. Until that is done the feed is not
// `ready`, and the store admits no reserve.

import type { StoreEvent } from '@killswitch/core'
import type { Redis } from 'ioredis'

/** Revocations this long before the subscription are still published on first catch-up. */
const SLACK_MS = 1_000

export class RedisEventFeed {
  readonly #subscriber: Redis
  readonly #reader: Redis
  readonly #channel: string
  readonly #revocations: string
  readonly #agentKey: (handle: string) => string
  readonly #emit: (event: StoreEvent) => void
  readonly #origin: string
  readonly #cluster: boolean
  /** Revocations already published here (once each, however often they are announced). */
  readonly #known = new Set<string>()
  #ready: Promise<void>
  #markReady: () => void = () => {}
  #live = false
  #everCaughtUp = false
  #stopped = false
  readonly #since = Date.now()

  constructor(options: {
    subscriber: Redis
    reader: Redis
    channel: string
    revocations: string
    agentKey: (handle: string) => string
    /** This store's id: its own events, published to its listeners directly, are skipped. */
    origin: string
    emit: (event: StoreEvent) => void
    /** The reader is a Redis Cluster client (no pipeline across slots). */
    cluster?: boolean
  }) {
    this.#cluster = options.cluster === true
    this.#subscriber = options.subscriber
    this.#reader = options.reader
    this.#channel = options.channel
    this.#revocations = options.revocations
    this.#agentKey = options.agentKey
    this.#emit = options.emit
    this.#origin = options.origin
    this.#ready = this.#notReady()
    this.#subscriber.on('message', this.#onMessage)
    this.#subscriber.on('ready', this.#onReady)
    this.#subscriber.on('close', this.#onClose)
    if (this.#subscriber.status === 'ready') void this.#onReady()
    else if (this.#subscriber.status === 'wait') void this.#subscriber.connect().catch(() => {})
  }

  /** True while subscribed and caught up. */
  get isReady(): boolean {
    return this.#live
  }

  /** Resolves once subscribed and caught up; stays pending while disconnected. */
  get ready(): Promise<void> {
    return this.#ready
  }

  /**
   * A revocation this process publishes itself: not to be published again (by a message or
   * a catch-up). False when it was published here already.
   */
  remember(handle: string): boolean {
    if (this.#known.has(handle)) return false
    this.#known.add(handle)
    return true
  }

  stop(): void {
    this.#stopped = true
    this.#subscriber.off('message', this.#onMessage)
    this.#subscriber.off('ready', this.#onReady)
    this.#subscriber.off('close', this.#onClose)
  }

  #notReady(): Promise<void> {
    return new Promise((resolve) => {
      this.#markReady = resolve
    })
  }

  #onMessage = (channel: string, message: string) => {
    if (channel !== this.#channel || this.#stopped) return
    let parsed: StoreEvent & { origin?: string }
    try {
      parsed = JSON.parse(message) as StoreEvent & { origin?: string }
    } catch {
      return
    }
    const { origin, ...event } = parsed
    // This store's own events: its listeners heard them from it (revokeAgent remembers).
    if (origin === this.#origin) return
    // A revocation is final, and may be announced more than once (a repeated revoke on a
    // cluster announces it again): published here once.
    if (event.type === 'revoked' && !this.remember(event.handle)) return
    this.#emit(event as StoreEvent)
  }

  #onClose = () => {
    // Replace the gate only once per outage: waiters keep the same pending promise.
    if (this.#live) {
      this.#live = false
      this.#ready = this.#notReady()
    }
  }

  #onReady = async () => {
    if (this.#stopped || this.#subscriber.status !== 'ready') return
    try {
      await this.#subscriber.subscribe(this.#channel)
      await this.#catchUp(!this.#everCaughtUp)
      this.#everCaughtUp = true
      // Dropped again while catching up: not live; the next 'ready' catches up again.
      if (this.#subscriber.status !== 'ready') return
      this.#live = true
      this.#markReady()
    } catch {
      // The reader (the command connection) may still be reconnecting: try again shortly,
      // for as long as this connection stays up. If it drops, its next 'ready' retries.
      setTimeout(() => void this.#onReady(), 50).unref()
    }
  }

  /**
   * Reads the revoked handles and publishes `revoked` for each one not seen before. The first
   * time, only those revoked since the subscription started are published (by the Redis
   * server's clock, with a second of slack): the subscriber connects after `subscribe`
   * returned, and a revocation in between must not be lost; older history is not replayed.
   */
  async #catchUp(firstTime: boolean): Promise<void> {
    const [[seconds, micros], handles] = await Promise.all([
      this.#reader.time(),
      this.#reader.zrange(this.#revocations, '0', '-1', 'WITHSCORES'),
    ])
    const serverNow = Number(seconds) * 1_000 + Math.floor(Number(micros) / 1_000)
    const subscribedAt = serverNow - (Date.now() - this.#since) - SLACK_MS
    const missed: string[] = []
    for (let i = 0; i + 1 < handles.length; i += 2) {
      const handle = handles[i] as string
      if (this.#known.has(handle)) continue
      if (firstTime && Number(handles[i + 1]) < subscribedAt) {
        this.#known.add(handle)
        continue
      }
      missed.push(handle)
    }
    let replies: [Error | null, unknown][] = []
    if (this.#cluster) {
      // A cluster pipeline stays in one slot: one read per agent, side by side.
      const read = (handle: string) =>
        this.#reader.hmget(this.#agentKey(handle), 'revokedReason', 'revokedAt')
      replies = (await Promise.all(missed.map(read))).map((fields) => [null, fields])
    } else {
      const pipeline = this.#reader.pipeline()
      for (const handle of missed) {
        pipeline.hmget(this.#agentKey(handle), 'revokedReason', 'revokedAt')
      }
      replies = missed.length > 0 ? ((await pipeline.exec()) ?? []) : []
    }
    missed.forEach((handle, i) => {
      const [reason, at] = (replies[i]?.[1] as (string | null)[] | undefined) ?? []
      if (this.#known.has(handle)) return // a concurrent catch-up published it already
      this.#known.add(handle)
      if (!this.#stopped) {
        this.#emit({ type: 'revoked', handle, reason: reason ?? '', at: Number(at ?? Date.now()) })
      }
    })
  }
}
