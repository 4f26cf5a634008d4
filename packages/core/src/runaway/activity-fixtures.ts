// Builders of activity events for the detector tests and the benchmark: the same shape the
// monitor writes to the store (every field present, in the same order). Not exported from
// the package.
import type { ActivityEvent } from '../store.js'
import { canonicalHash } from './canonical-hash.js'
import { shapeHash } from './shape-hash.js'
import type { RunawayEvent } from './types.js'

const event = (
  at: number,
  kind: ActivityEvent['kind'],
  fields: Partial<Omit<RunawayEvent, 'at' | 'kind'>> = {},
): RunawayEvent => ({
  at,
  kind,
  runId: fields.runId,
  tool: fields.tool,
  hash: fields.hash,
  micros: fields.micros,
  ok: fields.ok,
  shape: fields.shape,
})

export const toolCall = (at: number, tool: string, args: unknown, runId?: string) =>
  event(at, 'tool_call', { runId, tool, hash: canonicalHash(args), shape: shapeHash(args) })

export const toolResult = (at: number, tool: string, ok: boolean, runId?: string) =>
  event(at, 'tool_result', { runId, tool, ok })

export const modelCall = (at: number, runId?: string) => event(at, 'model_call', { runId })

export const modelResult = (
  at: number,
  options: { micros?: number; output?: string; runId?: string } = {},
) =>
  event(at, 'model_result', {
    runId: options.runId,
    micros: options.micros ?? 0,
    hash: options.output === undefined ? undefined : canonicalHash(options.output),
    ok: true,
  })

export const failure = (at: number, runId?: string) => event(at, 'error', { runId, ok: false })

export const spend = (at: number, micros: number, runId?: string) =>
  event(at, 'spend', { runId, micros })
