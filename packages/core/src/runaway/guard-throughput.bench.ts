// Throughput of guarded model calls on one busy agent with the default runaway detectors on
// against off, from the sources (no build), on the memory store: what the detectors cost a
// call end to end (activity prepared, carried by the reserve, judged). bench/ledger-state.ts
// measures the same on every store from the build; this one is for profiling a change:
//   npm run x -- node --cpu-prof packages/core/src/runaway/guard-throughput.bench.ts [ms] [on|off]
// Not a test. Prints calls per second for each, the ratio (target <= 1.25) and, with several
// rounds, the medians.
import { registerHooks } from 'node:module'

/** Node strips the types but cannot resolve the sources' `.js` suffixes: map them to `.ts`. */
registerHooks({
  resolve(specifier, context, nextResolve) {
    try {
      return nextResolve(specifier, context)
    } catch (error) {
      if (!specifier.startsWith('.') || !specifier.endsWith('.js')) throw error
      return nextResolve(`${specifier.slice(0, -3)}.ts`, context)
    }
  },
})

const { createKillSwitch } = await import('../index.js')
const { memoryStore } = await import('../stores/memory-store.js')

const prices = { bench: { inputPerMTok: 1, outputPerMTok: 1 } }
const call = { model: 'bench', input: 'Summarise the report.', maxOutputTokens: 256 }
const usage = { usage: { inputTokens: 20, outputTokens: 100 } }

/** Calls per second of wall time, and CPU microseconds per call (steadier on a busy machine). */
async function callsPerSec(
  detectors: boolean,
  timeMs: number,
): Promise<{ perSec: number; cpuUs: number }> {
  const store = memoryStore()
  const ks = createKillSwitch({ store, prices, ...(detectors ? {} : { runaway: false }) })
  const { credential } = await ks.agents.create({
    handle: `throughput-${detectors ? 'on' : 'off'}`,
    spendingCap: 1_000_000,
    // As in bench/ledger-state.ts: every default detector but the call-rate throttle.
    runaway: { callRate: { enabled: false } },
  })
  const guard = ks.guard(credential)
  let calls = 0
  const cpu = process.cpuUsage()
  const started = performance.now()
  const deadline = started + timeMs
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (performance.now() < deadline) {
        await guard.afterModelCall(await guard.beforeModelCall(call), usage)
        calls++
      }
    }),
  )
  const elapsed = performance.now() - started
  const used = process.cpuUsage(cpu)
  await ks.close()
  await store.close()
  return {
    perSec: Math.round(calls / (elapsed / 1_000)),
    cpuUs: Math.round(((used.user + used.system) / calls) * 100) / 100,
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}

const timeMs = Number(process.argv[2] ?? 2_000)
const only = process.argv[3]
const rounds = Number(process.argv[4] ?? 1)
const on: Array<{ perSec: number; cpuUs: number }> = []
const off: Array<{ perSec: number; cpuUs: number }> = []
const show = (r: { perSec: number; cpuUs: number } | undefined) =>
  r ? `${r.perSec} calls/s (${r.cpuUs} µs CPU a call)` : '-'
for (let round = 0; round < rounds; round++) {
  if (only !== 'off') on.push(await callsPerSec(true, timeMs))
  if (only !== 'on') off.push(await callsPerSec(false, timeMs))
  console.log(`round ${round + 1}: on ${show(on.at(-1))}, off ${show(off.at(-1))}`)
}
if (on.length > 0 && off.length > 0) {
  const onPerSec = median(on.map((r) => r.perSec))
  const offPerSec = median(off.map((r) => r.perSec))
  const onCpu = median(on.map((r) => r.cpuUs))
  const offCpu = median(off.map((r) => r.cpuUs))
  console.log(
    `median: on ${onPerSec} off ${offPerSec} calls/s, ratio ${(offPerSec / onPerSec).toFixed(2)}; CPU a call on ${onCpu} off ${offCpu} µs, ratio ${(onCpu / offCpu).toFixed(2)}`,
  )
  // The best round of each: the least disturbed by other work on a shared machine.
  const onBest = Math.max(...on.map((r) => r.perSec))
  const offBest = Math.max(...off.map((r) => r.perSec))
  const onLeast = Math.min(...on.map((r) => r.cpuUs))
  const offLeast = Math.min(...off.map((r) => r.cpuUs))
  console.log(
    `best: on ${onBest} off ${offBest} calls/s, ratio ${(offBest / onBest).toFixed(2)}; CPU a call on ${onLeast} off ${offLeast} µs, ratio ${(onLeast / offLeast).toFixed(2)}`,
  )
}
