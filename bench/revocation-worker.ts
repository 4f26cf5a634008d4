// Process B of the revocation-reach benchmark (bench/revocation-reach.ts is process A).
// Started with child_process.fork: `node revocation-worker.ts sqlite <path>` or
// `node revocation-worker.ts redis <url> <prefix>`. For each trial A sends a credential; B
// starts a guarded call that stays in flight (waiting on `guard.signal`, as a provider call
// would) and, when busy, a caller that makes a guarded call every millisecond (else one call
// right after the abort), then reports, on the clock every process of the machine shares,
// when the signal aborted and when a call was first refused. It imports the BUILT packages, as an application would.
import {
  type AgentGuard,
  createKillSwitch,
  findKillSwitchError,
  sqliteStore,
} from '@killswitch/core'
import { redisStore } from '@killswitch/redis'
import { wallNow } from './stats.ts'

const [kind, target, prefix] = process.argv.slice(2)
if (!target || (kind !== 'sqlite' && kind !== 'redis')) {
  throw new Error('usage: revocation-worker.ts sqlite <path> | redis <url> <prefix>')
}
const store = kind === 'sqlite' ? sqliteStore(target) : redisStore({ url: target, prefix })
const ks = createKillSwitch({
  store,
  runaway: false, // a call every millisecond would (rightly) trip the call-rate detector
  prices: { bench: { inputPerMTok: 1, outputPerMTok: 1 } },
})
const call = { model: 'bench', input: 'x', maxOutputTokens: 100 }
const send = (message: unknown) => process.send?.(message)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Makes a guarded call every millisecond until one is refused; returns when it was. */
async function callUntilRefused(guard: AgentGuard): Promise<{ at: number; code: string }> {
  for (;;) {
    try {
      const ticket = await guard.beforeModelCall(call)
      await guard.afterModelCall(ticket, { usage: { inputTokens: 1, outputTokens: 1 } })
    } catch (error) {
      return { at: wallNow(), code: findKillSwitchError(error)?.code ?? String(error) }
    }
    await sleep(1)
  }
}

async function trial(credential: string, busy: boolean): Promise<void> {
  const guard = ks.guard(credential)
  const inflight = await guard.beforeModelCall(call)
  const aborted = new Promise<{ at: number; code: string }>((resolve) =>
    guard.signal.addEventListener(
      'abort',
      () => resolve({ at: wallNow(), code: findKillSwitchError(guard.signal.reason)?.code ?? '' }),
      { once: true },
    ),
  )
  // Busy: an agent calling in a loop, as a runaway one does. Idle: the next call is made
  // the moment the abort is seen.
  const refused = busy ? callUntilRefused(guard) : aborted.then(() => callUntilRefused(guard))
  send({ type: 'armed' })
  const [abort, refusal] = await Promise.all([aborted, refused])
  await guard.failModelCall(inflight, guard.signal.reason).catch(() => undefined)
  send({ type: 'result', abortedAt: abort.at, abortCode: abort.code, ...refusal })
}

process.on('message', (message: { type: string; credential?: string; busy?: boolean }) => {
  if (message.type === 'trial' && message.credential) {
    trial(message.credential, message.busy === true).catch((error) =>
      send({ type: 'error', message: String(error) }),
    )
  } else if (message.type === 'exit') {
    ks.close()
      .then(() => store.close())
      .finally(() => process.exit(0))
  }
})
send({ type: 'ready' })
