import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  AggregationTemporality,
  type DataPoint,
  type Histogram,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics'
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace'
import { afterEach, describe, expect, it } from 'vitest'
import { InvalidConfigError } from '../errors.js'
import { createKillSwitch } from '../kill-switch.js'
import { sqliteStore } from '../stores/sqlite-store.js'
import { instrumentKillSwitch } from './instrument-kill-switch.js'

// $1 per million tokens in and out: one token costs one micro-dollar.
const prices = { 'test-model': { inputPerMTok: 1, outputPerMTok: 1 } }
const call = { model: 'test-model', input: 'x'.repeat(100), maxOutputTokens: 1_000 }

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup()
})

async function setup() {
  const ks = createKillSwitch({ prices })
  const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
  // A long interval: the test exports by forceFlush, never on a timer.
  const reader = new PeriodicExportingMetricReader({
    exporter: metricExporter,
    exportIntervalMillis: 3_600_000,
  })
  const meterProvider = new MeterProvider({ readers: [reader] })
  const spanExporter = new InMemorySpanExporter()
  const tracerProvider = new TracerProvider({
    spanProcessors: [new SimpleSpanProcessor({ exporter: spanExporter })],
  })
  const telemetry = await instrumentKillSwitch(ks, { meterProvider, tracerProvider })
  cleanups.push(async () => {
    telemetry.stop()
    await meterProvider.shutdown()
    await tracerProvider.shutdown()
    await ks.close()
  })
  const metrics = async () => {
    await reader.forceFlush()
    const exported = metricExporter.getMetrics().at(-1)
    metricExporter.reset()
    const all = exported?.scopeMetrics.flatMap((scope) => scope.metrics) ?? []
    return (name: string) => all.find((metric) => metric.descriptor.name === name)
  }
  return { ks, telemetry, metrics, spans: () => spanExporter.getFinishedSpans() }
}

const points = (metric: { dataPoints: unknown[] } | undefined) =>
  (metric?.dataPoints ?? []) as Array<DataPoint<number | Histogram>>

describe('instrumentKillSwitch', () => {
  it('counts spend in USD by agent and model, and records hold sizes', async () => {
    const { ks, metrics } = await setup()
    const agent = await ks.agents.create({ handle: 'researcher', spendingCap: 1 })
    const guard = ks.guard(agent.credential)
    for (const outputTokens of [60, 140]) {
      const ticket = await guard.beforeModelCall(call)
      await guard.afterModelCall(ticket, { usage: { inputTokens: 100, outputTokens } })
    }
    const read = await metrics()
    const spend = read('killswitch.spend')
    expect(spend?.descriptor.unit).toBe('USD')
    expect(points(spend).map((p) => [p.attributes, p.value])).toEqual([
      [
        {
          'killswitch.agent': 'researcher',
          'killswitch.kind': 'model',
          'killswitch.model': 'test-model',
        },
        0.0004,
      ],
    ])
    // Each call held 100 input bytes + 64 chat template tokens + 6 x 1,000 counted output
    // tokens: $0.006164.
    const holds = points(read('killswitch.hold.size'))
    expect(holds).toHaveLength(1)
    expect(holds[0]?.value).toMatchObject({ count: 2, sum: 0.012328 })
    // The spend metric equals what the ledger says was spent.
    expect((await ks.agents.get('researcher')).spent).toBe(0.0004)
  })

  it('counts denials by reason', async () => {
    const { ks, metrics } = await setup()
    const broke = await ks.agents.create({ handle: 'broke', spendingCap: 0 })
    const gone = await ks.agents.create({ handle: 'gone', spendingCap: 1 })
    await ks.agents.revoke('gone')
    await expect(ks.guard(broke.credential).beforeModelCall(call)).rejects.toThrow()
    await expect(ks.guard(gone.credential).beforeModelCall(call)).rejects.toThrow()
    await expect(ks.guard(gone.credential).beforeModelCall(call)).rejects.toThrow()
    const denials = points((await metrics())('killswitch.denials'))
    const byReason = Object.fromEntries(denials.map((p) => [p.attributes.reason, p.value]))
    expect(byReason).toEqual({ spending_cap: 1, revoked: 2 })
  })

  it('observes what each agent can still spend, as agents list shows it', async () => {
    const { ks, metrics } = await setup()
    const agent = await ks.agents.create({ handle: 'a', spendingCap: 2 })
    await ks.agents.create({ handle: 'b', spendingCap: 0.5 })
    const guard = ks.guard(agent.credential)
    const ticket = await guard.beforeModelCall(call)
    await guard.afterModelCall(ticket, { usage: { inputTokens: 250_000, outputTokens: 0 } })
    const observed = points((await metrics())('killswitch.available'))
    const listed = await ks.agents.list()
    expect(
      Object.fromEntries(observed.map((p) => [p.attributes['killswitch.agent'], p.value])),
    ).toEqual(Object.fromEntries(listed.map((a) => [a.handle, a.available])))
    expect(listed.find((a) => a.handle === 'a')?.available).toBe(1.75)
  })

  it('records how long a revocation made in another kill switch took to reach this one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ks-otel-'))
    const file = join(dir, 'ks.db')
    const watched = createKillSwitch({ store: sqliteStore(file) })
    const operator = createKillSwitch({ store: sqliteStore(file) })
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })
    const meterProvider = new MeterProvider({ readers: [reader] })
    const telemetry = await instrumentKillSwitch(watched, { meterProvider })
    cleanups.push(async () => {
      telemetry.stop()
      await meterProvider.shutdown()
      await watched.close()
      await operator.close()
      rmSync(dir, { recursive: true, force: true })
    })
    await operator.agents.create({ handle: 'r', spendingCap: 1 })
    const heard = new Promise<void>((resolve) => watched.on('revoked', () => resolve()))
    await operator.agents.revoke('r', { reason: 'incident' })
    await heard
    await reader.forceFlush()
    const reach = exporter
      .getMetrics()
      .at(-1)
      ?.scopeMetrics.flatMap((scope) => scope.metrics)
      .find((metric) => metric.descriptor.name === 'killswitch.revocation.reach')
    expect(reach?.descriptor.unit).toBe('ms')
    expect(points(reach).map((p) => p.attributes)).toEqual([{ 'killswitch.agent': 'r' }])
    const value = points(reach)[0]?.value as Histogram
    expect(value.count).toBe(1)
    expect(value.min).toBeGreaterThanOrEqual(0)
  })

  it('wraps each guarded call in a span with agent, model and outcome', async () => {
    const { ks, spans } = await setup()
    const agent = await ks.agents.create({ handle: 'spanned', spendingCap: 1 })
    const guard = ks.guard(agent.credential)
    const settledTicket = await guard.beforeModelCall(call)
    expect(spans()).toHaveLength(0)
    await guard.afterModelCall(settledTicket, { usage: { inputTokens: 10, outputTokens: 10 } })
    const releasedTicket = await guard.beforeModelCall(call)
    // Refused before a connection: the request never left, so its hold is released.
    await guard.failModelCall(releasedTicket, new Error('connect refused'), { sent: false })
    await ks.agents.update('spanned', { spendingCap: 0 })
    await expect(guard.beforeModelCall(call)).rejects.toThrow()

    const finished = spans()
    expect(finished.map((span) => [span.name, span.attributes['killswitch.outcome']])).toEqual([
      ['killswitch model', 'settled'],
      ['killswitch model', 'released'],
      ['killswitch denied', 'denied'],
    ])
    expect(finished[0]?.attributes).toMatchObject({
      'killswitch.agent': 'spanned',
      'killswitch.model': 'test-model',
      'killswitch.cost_usd': 0.00002,
    })
    expect(finished[0]?.status.code).toBe(1)
    expect(finished[2]?.status.code).toBe(2)
    expect(finished[2]?.attributes).toMatchObject({
      'killswitch.agent': 'spanned',
      'killswitch.denial_reason': 'spending_cap',
    })
  })

  it('bounds the spans it keeps open for holds that never end, and ends them on stop', async () => {
    const ks = createKillSwitch({ prices })
    const spanExporter = new InMemorySpanExporter()
    const tracerProvider = new TracerProvider({
      spanProcessors: [new SimpleSpanProcessor({ exporter: spanExporter })],
    })
    const telemetry = await instrumentKillSwitch(ks, { tracerProvider, maxOpenSpans: 2 })
    const agent = await ks.agents.create({ handle: 'leaky', spendingCap: 1 })
    const guard = ks.guard(agent.credential)
    for (let i = 0; i < 3; i++) await guard.beforeModelCall(call)
    expect(spanExporter.getFinishedSpans().map((s) => s.attributes['killswitch.outcome'])).toEqual([
      'untracked',
    ])
    telemetry.stop()
    expect(spanExporter.getFinishedSpans().map((s) => s.attributes['killswitch.outcome'])).toEqual([
      'untracked',
      'unfinished',
      'unfinished',
    ])
    // Stopped: new calls make no spans.
    await guard.beforeModelCall(call)
    expect(spanExporter.getFinishedSpans()).toHaveLength(3)
    await tracerProvider.shutdown()
    await ks.close()
  })

  it('refuses a bad maxOpenSpans, naming the field', async () => {
    const ks = createKillSwitch()
    await expect(instrumentKillSwitch(ks, { maxOpenSpans: 0 })).rejects.toThrow(InvalidConfigError)
    await expect(instrumentKillSwitch(ks, { maxOpenSpans: 0 })).rejects.toMatchObject({
      field: 'maxOpenSpans',
    })
    await ks.close()
  })

  it('uses the global providers of @opentelemetry/api when none is given (no-op by default)', async () => {
    const ks = createKillSwitch({ prices })
    const telemetry = await instrumentKillSwitch(ks)
    // The API is installed here, so instrumentation is active, on its no-op global providers:
    // calls go through untouched.
    expect(telemetry.active).toBe(true)
    const agent = await ks.agents.create({ handle: 'g', spendingCap: 1 })
    const guard = ks.guard(agent.credential)
    const ticket = await guard.beforeModelCall(call)
    await guard.afterModelCall(ticket, { usage: { inputTokens: 1, outputTokens: 1 } })
    expect((await ks.agents.get('g')).spent).toBe(0.000002)
    telemetry.stop()
    await ks.close()
  })
})
