// OpenTelemetry for a kill switch: metrics and spans built from its events (`ks.on`), so
// instrumenting changes nothing about how calls are decided. `@opentelemetry/api` is an
// optional peer dependency: core never imports it statically; without it (and without
// providers passed in) instrumenting does nothing.
import { InvalidConfigError } from '../errors.js'
import type { KillSwitch } from '../kill-switch.js'
import { ATTR_AGENT, ATTR_KIND, ATTR_MODEL, CallSpans } from './call-spans.js'
import type { MeterProviderLike, ObservableCallbackLike, TracerProviderLike } from './otel-types.js'

const SCOPE = '@killswitch/core'

/** Options of `instrumentKillSwitch`. */
export interface InstrumentKillSwitchOptions {
  /** Where metrics go. Default: the global one of `@opentelemetry/api`, when installed. */
  meterProvider?: MeterProviderLike
  /** Where spans go. Default: the global one of `@opentelemetry/api`, when installed. */
  tracerProvider?: TracerProviderLike
  /**
   * Observe `killswitch.available` per agent by listing agents at each collection. Default
   * true; turn it off for a fleet too large to list at your export interval.
   */
  observeAvailable?: boolean
  /** Spans kept open for calls in flight before the oldest is ended as untracked. Default 10,000. */
  maxOpenSpans?: number
  /** Where a failed `killswitch.available` read is reported. Default: ignored. */
  onError?: (error: unknown) => void
}

/** A running instrumentation. */
export interface KillSwitchInstrumentation {
  /** False when no provider was given and `@opentelemetry/api` is not installed. */
  readonly active: boolean
  /** Stops listening and ends open spans. */
  stop(): void
}

type InstrumentedKillSwitch = Pick<KillSwitch, 'on' | 'agents'>

// Hold sizes from a tenth of a cent to $1,000; revocation reach from 1 ms to a minute.
const HOLD_BUCKETS_USD = [0.001, 0.01, 0.1, 1, 10, 100, 1000]
const REACH_BUCKETS_MS = [1, 5, 10, 50, 100, 500, 1000, 5000, 60_000]

async function globalProviders(): Promise<
  { meterProvider: MeterProviderLike; tracerProvider: TracerProviderLike } | undefined
> {
  try {
    // A variable specifier keeps bundlers from resolving the optional peer at build time.
    const specifier = '@opentelemetry/api'
    const api = (await import(specifier)) as {
      metrics: { getMeterProvider(): MeterProviderLike }
      trace: { getTracerProvider(): TracerProviderLike }
    }
    return {
      meterProvider: api.metrics.getMeterProvider(),
      tracerProvider: api.trace.getTracerProvider(),
    }
  } catch {
    return undefined
  }
}

/**
 * Publishes a kill switch's spend, denials, availability, hold sizes and revocation reach as
 * OpenTelemetry metrics, and a span per guarded call (agent, model, outcome).
 *
 * Metrics: `killswitch.spend` (counter, USD), `killswitch.denials` (counter, by `reason`),
 * `killswitch.available` (observable gauge, USD, per agent), `killswitch.hold.size`
 * (histogram, USD), `killswitch.revocation.reach` (histogram, ms from the revocation to
 * this process hearing of it), `killswitch.runaways` and `killswitch.approvals.requested`
 * (counters).
 *
 * @example
 * const telemetry = await instrumentKillSwitch(ks, { meterProvider, tracerProvider })
 * // ... on shutdown:
 * telemetry.stop()
 */
export async function instrumentKillSwitch(
  ks: InstrumentedKillSwitch,
  options: InstrumentKillSwitchOptions = {},
): Promise<KillSwitchInstrumentation> {
  const maxOpenSpans = options.maxOpenSpans ?? 10_000
  if (!Number.isSafeInteger(maxOpenSpans) || maxOpenSpans < 1) {
    throw new InvalidConfigError(
      'maxOpenSpans',
      `Invalid maxOpenSpans: ${String(options.maxOpenSpans)}; give a whole number from 1.`,
    )
  }
  let { meterProvider, tracerProvider } = options
  if (meterProvider === undefined && tracerProvider === undefined) {
    const found = await globalProviders()
    if (found === undefined) return { active: false, stop: () => {} }
    ;({ meterProvider, tracerProvider } = found)
  }

  const unsubscribes: Array<() => void> = []
  const stops: Array<() => void> = []

  if (meterProvider !== undefined) {
    const meter = meterProvider.getMeter(SCOPE)
    const spend = meter.createCounter('killswitch.spend', {
      description: 'Money charged to agents (settled calls, tools and payments)',
      unit: 'USD',
    })
    const denials = meter.createCounter('killswitch.denials', {
      description: 'Calls refused, by reason (revoked, spending_cap, runaway...)',
      unit: '{denial}',
    })
    const holdSize = meter.createHistogram('killswitch.hold.size', {
      description: 'Money held for a call before it runs (its cost bound)',
      unit: 'USD',
      advice: { explicitBucketBoundaries: HOLD_BUCKETS_USD },
    })
    const reach = meter.createHistogram('killswitch.revocation.reach', {
      description: 'Time from a revocation to this process hearing of it',
      unit: 'ms',
      advice: { explicitBucketBoundaries: REACH_BUCKETS_MS },
    })
    const runaways = meter.createCounter('killswitch.runaways', {
      description: 'Runaway findings, by detector and action',
      unit: '{finding}',
    })
    const approvals = meter.createCounter('killswitch.approvals.requested', {
      description: 'Requests to spend past a cap sent to a person',
      unit: '{request}',
    })
    unsubscribes.push(
      ks.on('settled', (event) =>
        spend.add(event.cost, {
          [ATTR_AGENT]: event.handle,
          [ATTR_KIND]: event.kind,
          ...(event.model === undefined ? {} : { [ATTR_MODEL]: event.model }),
        }),
      ),
      ks.on('denied', (event) =>
        denials.add(1, {
          reason: event.rule,
          ...(event.handle === undefined ? {} : { [ATTR_AGENT]: event.handle }),
        }),
      ),
      ks.on('reserved', (event) =>
        holdSize.record(event.amount, { [ATTR_AGENT]: event.handle, [ATTR_KIND]: event.kind }),
      ),
      // Clocks of two machines may disagree by a little: a reach is never negative.
      ks.on('revoked', (event) =>
        reach.record(Math.max(0, Date.now() - event.at), { [ATTR_AGENT]: event.handle }),
      ),
      ks.on('runaway', (event) =>
        runaways.add(1, {
          [ATTR_AGENT]: event.handle,
          detector: event.detector,
          action: event.action,
          enforced: event.enforced,
        }),
      ),
      ks.on('approval_requested', (event) => approvals.add(1, { [ATTR_AGENT]: event.handle })),
    )
    if (options.observeAvailable !== false) {
      const available = meter.createObservableGauge('killswitch.available', {
        description: 'What each agent can still spend: cap - spent - held',
        unit: 'USD',
      })
      const observe: ObservableCallbackLike = async (result) => {
        try {
          for (const agent of await ks.agents.list()) {
            result.observe(agent.available, { [ATTR_AGENT]: agent.handle, status: agent.status })
          }
        } catch (error) {
          options.onError?.(error)
        }
      }
      available.addCallback(observe)
      stops.push(() => available.removeCallback(observe))
    }
  }

  if (tracerProvider !== undefined) {
    const spans = new CallSpans(tracerProvider.getTracer(SCOPE), maxOpenSpans)
    unsubscribes.push(
      ks.on('reserved', (event) => spans.reserved(event)),
      ks.on('settled', (event) => spans.settled(event)),
      ks.on('released', (event) => spans.released(event)),
      ks.on('denied', (event) => spans.denied(event)),
    )
    stops.push(() => spans.endAll())
  }

  let stopped = false
  return {
    active: true,
    stop() {
      if (stopped) return
      stopped = true
      for (const unsubscribe of unsubscribes) unsubscribe()
      for (const stop of stops) stop()
    },
  }
}
