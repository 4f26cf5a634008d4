// One of the processes of the multi-process exactness bench (bench/exactness-processes.ts):
// `node exactness-worker.ts sqlite <path> <credential> <calls>` or
// `node exactness-worker.ts redis <url> <prefix> <credential> <calls>`. On "go" it starts all
// its calls at once against the shared cap and reports how many were admitted.
import { sqliteStore } from '@killswitch/core'
import { redisStore } from '@killswitch/redis'
import { exactnessKillSwitch, spendConcurrently } from './exactness.ts'

const args = process.argv.slice(2)
const [kind, target] = args
const [credential, calls] = kind === 'redis' ? args.slice(3) : args.slice(2)
if (!target || !credential || !calls || (kind !== 'sqlite' && kind !== 'redis')) {
  throw new Error(
    'usage: exactness-worker.ts sqlite <path> | redis <url> <prefix>, then <credential> <calls>',
  )
}
const store = kind === 'sqlite' ? sqliteStore(target) : redisStore({ url: target, prefix: args[2] })
const ks = exactnessKillSwitch(store)
const guard = ks.guard(credential)
// Connected and caught up before "go", so that every process starts spending together.
await guard.check()
process.once('message', async () => {
  try {
    const admitted = await spendConcurrently(guard, Number(calls))
    process.send?.({ type: 'done', admitted })
  } catch (error) {
    process.send?.({ type: 'error', message: String(error) })
  } finally {
    await ks.close()
    await store.close()
    process.disconnect?.()
  }
})
process.send?.({ type: 'ready' })
