// A worker process for the Redis Cluster burst test (not part of the package), forked with
// `node cluster-worker.ts <nodes json> <prefix> <json config>`: it fires every call of its
// share at once, each a reserve then a settle at the full amount, and reports back over IPC.
import { registerHooks } from 'node:module'

const coreSource = new URL('../../../core/src/index.ts', import.meta.url).href
registerHooks({
  resolve(specifier, context, nextResolve) {
    if (specifier === '@killswitch/core') return nextResolve(coreSource, context)
    try {
      return nextResolve(specifier, context)
    } catch (error) {
      if (!specifier.startsWith('.') || !specifier.endsWith('.js')) throw error
      return nextResolve(`${specifier.slice(0, -3)}.ts`, context)
    }
  },
})

const { redisStore } = await import('../redis-store.js')

const [rawNodes, prefix, rawConfig] = process.argv.slice(2)
if (!rawNodes || !prefix) throw new Error('usage: cluster-worker.ts <nodes> <prefix> <json>')
const config = JSON.parse(rawConfig ?? '{}') as {
  calls: { handle: string; amount: number }[]
  now: number
}
const send = (message: unknown) => process.send?.(message)
const store = redisStore({
  cluster: { nodes: JSON.parse(rawNodes) },
  prefix,
  clock: 'caller',
  commandTimeoutMs: 20_000,
})
const go = new Promise((resolve) => process.once('message', resolve))
send({ type: 'ready' })
await go
const results = await Promise.all(
  config.calls.map(async ({ handle, amount }, i) => {
    const holdId = `${process.pid}-${i}`
    const reserved = await store.reserve({
      handle,
      holdId,
      amountMicros: amount,
      ttlMs: 60_000,
      now: config.now,
    })
    if (!reserved.ok) {
      const refusal = reserved.reason === 'cap' ? reserved.refusal : undefined
      return { settled: 0, refusal: `${refusal?.level}:${refusal?.budgetId}:${refusal?.per}` }
    }
    await store.settle({ handle, holdId, costMicros: amount, now: config.now })
    return { settled: amount, refusal: undefined }
  }),
)
send({
  type: 'done',
  settledMicros: results.reduce((sum, result) => sum + result.settled, 0),
  refusals: results.flatMap((result) => (result.refusal ? [result.refusal] : [])),
})
await store.close()
process.disconnect?.()
