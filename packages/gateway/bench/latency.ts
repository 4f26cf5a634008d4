// The latency the gateway adds over calling the same upstream directly, measured side by
// side: each round calls the upstream directly and through the gateway, in alternating
// order, with one keep-alive client. Memory store, runaway detection off (the same reply
// every time would rightly look like a loop). Client, gateway and upstream share this one
// process and core, so the figures include their contention on one event loop.
//
// Run: npm run x -- node packages/gateway/bench/latency.ts [--rounds=N]
// (uses the built packages: npm run setup first)
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { cpus, loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { createKillSwitch } from '@killswitch/core'
import { startGateway } from '@killswitch/gateway'

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5000' } } })
const rounds = Number(values.rounds)
const warmup = Math.min(1_000, Math.ceil(rounds / 5))

const usage = {
  prompt_tokens: 12,
  completion_tokens: 8,
  total_tokens: 20,
  prompt_tokens_details: { cached_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: 0 },
}
const completion = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 0,
  model: 'gpt-4o',
  choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
  usage,
})
const chunks = [
  { choices: [{ index: 0, delta: { role: 'assistant', content: 'o' } }] },
  { choices: [{ index: 0, delta: { content: 'k' }, finish_reason: 'stop' }] },
  { choices: [], usage },
]
  .map(
    (chunk) =>
      `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', ...chunk })}\n\n`,
  )
  .join('')

const upstream = createServer((req, res) => {
  let body = ''
  req.on('data', (chunk) => {
    body += chunk
  })
  req.on('end', () => {
    if (body.includes('"model":"hang"')) {
      // The first chunk, then nothing until the client goes away (for the revoke timing).
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write(`${chunks.split('\n\n')[0]}\n\n`)
      return
    }
    if (body.includes('"stream":true')) {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.end(`${chunks}data: [DONE]\n\n`)
    } else {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(completion)
    }
  })
})
await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
const upstreamURL = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`

const ks = createKillSwitch({
  prices: {
    'gpt-4o': { inputPerMTok: 2.5, outputPerMTok: 10 },
    hang: { inputPerMTok: 2.5, outputPerMTok: 10 },
  },
  runaway: false,
})
const agent = await ks.agents.create({ handle: 'bench', spendingCap: 1_000_000 })
const gateway = await startGateway({
  killSwitch: ks,
  port: 0,
  env: { OPENAI_API_KEY: 'sk-bench', OPENAI_BASE_URL: upstreamURL },
})

const messages = [{ role: 'user', content: 'Say ok.' }]
async function call(base: string, apiKey: string, stream: boolean): Promise<number> {
  const started = performance.now()
  const response = await fetch(`${base}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o', messages, max_completion_tokens: 16, stream }),
  })
  await response.text()
  if (response.status !== 200) throw new Error(`status ${response.status}`)
  return performance.now() - started
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number
}

async function measure(stream: boolean) {
  const direct: number[] = []
  const through: number[] = []
  for (let i = 0; i < warmup + rounds; i++) {
    // Alternate which goes first, so neither always meets a warmer connection or cache.
    const first = i % 2 === 0
    const a = first ? await call(upstreamURL, 'sk-bench', stream) : 0
    const b = await call(`${gateway.url}/v1`, agent.credential, stream)
    const c = first ? 0 : await call(upstreamURL, 'sk-bench', stream)
    if (i >= warmup) {
      direct.push(first ? a : c)
      through.push(b)
    }
  }
  direct.sort((x, y) => x - y)
  through.sort((x, y) => x - y)
  const row = (q: number) => ({
    direct: percentile(direct, q),
    gateway: percentile(through, q),
    added: percentile(through, q) - percentile(direct, q),
  })
  return { p50: row(0.5), p99: row(0.99) }
}

async function throughput(seconds: number, concurrency: number) {
  let done = 0
  const until = performance.now() + seconds * 1_000
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        await call(`${gateway.url}/v1`, agent.credential, false)
        done++
      }
    }),
  )
  return done / seconds
}

const ms = (value: number) => value.toFixed(3).padStart(8)
console.log(
  `gateway added latency, memory store, ${rounds} rounds after ${warmup} warm-up, Node ${process.version}, ${cpus().length} cores, load ${loadavg()
    .map((load) => load.toFixed(1))
    .join(' ')}`,
)
console.log('                     direct   gateway     added   (ms)')
for (const stream of [false, true]) {
  const result = await measure(stream)
  const label = stream ? 'chat stream' : 'chat       '
  for (const q of ['p50', 'p99'] as const) {
    const r = result[q]
    console.log(`${label} ${q}   ${ms(r.direct)}  ${ms(r.gateway)}  ${ms(r.added)}`)
  }
}
/** From `revoke()` to the agent reading the final error event of its stream in flight. */
async function revokeToCut(samples: number) {
  const times: number[] = []
  for (let i = 0; i < samples; i++) {
    const victim = await ks.agents.create({ handle: `victim-${i}`, spendingCap: 1 })
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${victim.credential}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'hang', messages, stream: true }),
    })
    const reader = response.body?.getReader()
    if (!reader) throw new Error('no stream')
    const decoder = new TextDecoder()
    let text = ''
    while (!text.includes('\n\n')) text += decoder.decode((await reader.read()).value)
    const started = performance.now()
    await ks.agents.revoke(`victim-${i}`, { reason: 'bench' })
    while (!text.includes('agent_revoked')) {
      const { done, value } = await reader.read()
      if (done) throw new Error('stream ended without the error event')
      text += decoder.decode(value)
    }
    times.push(performance.now() - started)
  }
  times.sort((x, y) => x - y)
  return { p50: percentile(times, 0.5), p99: percentile(times, 0.99) }
}

const cut = await revokeToCut(50)
console.log(
  `revoke -> stream cut (error event read by the agent), 50 streams: p50 ${cut.p50.toFixed(3)} ms, p99 ${cut.p99.toFixed(3)} ms`,
)
const rps = await throughput(3, 16)
console.log(`through the gateway, 16 in flight, one process: ${Math.round(rps)} requests/s`)
const spent = (await ks.agents.get('bench')).spent
console.log(`ledger: $${spent} spent, settled from usage on every call`)

await gateway.close()
await new Promise((resolve) => upstream.close(resolve))
await ks.close()
