// The slice of the OpenTelemetry API the kill switch uses, written out structurally so core
// has no import of `@opentelemetry/api`, not even a type one: it is an optional peer, and a
// user without it must be able to build against core's types. The real MeterProvider and
// TracerProvider (API or SDK) satisfy these interfaces.

/** Attribute values as OpenTelemetry takes them. */
export type TelemetryAttributes = Record<string, string | number | boolean | undefined>

export interface CounterLike {
  add(value: number, attributes?: TelemetryAttributes): void
}

export interface HistogramLike {
  record(value: number, attributes?: TelemetryAttributes): void
}

export interface ObservableResultLike {
  observe(value: number, attributes?: TelemetryAttributes): void
}

export type ObservableCallbackLike = (result: ObservableResultLike) => void | Promise<void>

export interface ObservableGaugeLike {
  addCallback(callback: ObservableCallbackLike): void
  removeCallback(callback: ObservableCallbackLike): void
}

interface InstrumentOptions {
  description?: string
  unit?: string
  advice?: { explicitBucketBoundaries?: number[] }
}

export interface MeterLike {
  createCounter(name: string, options?: InstrumentOptions): CounterLike
  createHistogram(name: string, options?: InstrumentOptions): HistogramLike
  createObservableGauge(name: string, options?: InstrumentOptions): ObservableGaugeLike
}

/** A MeterProvider from `@opentelemetry/api` (`metrics.getMeterProvider()`) or the SDK. */
export interface MeterProviderLike {
  getMeter(name: string, version?: string): MeterLike
}

export interface SpanLike {
  setAttribute(key: string, value: string | number | boolean): unknown
  /** `code`: 1 is OK, 2 is ERROR (SpanStatusCode). */
  setStatus(status: { code: number; message?: string }): unknown
  end(endTime?: number): void
}

export interface TracerLike {
  startSpan(
    name: string,
    options?: { attributes?: TelemetryAttributes; startTime?: number; kind?: number },
  ): SpanLike
}

/** A TracerProvider from `@opentelemetry/api` (`trace.getTracerProvider()`) or the SDK. */
export interface TracerProviderLike {
  getTracer(name: string, version?: string): TracerLike
}

/** SpanStatusCode values, as numbers (the enum lives in the optional peer). */
export const SPAN_STATUS_OK = 1
export const SPAN_STATUS_ERROR = 2
/** SpanKind.INTERNAL. */
export const SPAN_KIND_INTERNAL = 0
