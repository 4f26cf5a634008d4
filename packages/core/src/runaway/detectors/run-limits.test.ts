import { describe, expect, it } from 'vitest'
import { DEFAULT_RUNAWAY_CONFIG } from '../runaway-defaults.js'
import { detectRunLimits } from './run-limits.js'

const config = DEFAULT_RUNAWAY_CONFIG.runLimits
const run = (modelCalls: number, toolCalls = 0) => ({
  runId: 'run-1',
  startedAt: 0,
  modelCalls,
  toolCalls,
})

describe('detectRunLimits', () => {
  it('allows maxModelCalls and trips at the call past it, warning from warnFraction', () => {
    expect(detectRunLimits(run(159), 1_000, config).status).toBe('ok')
    expect(detectRunLimits(run(160), 1_000, config).status).toBe('warn')
    expect(detectRunLimits(run(200), 1_000, config).status).toBe('warn')
    expect(detectRunLimits(run(201), 1_000, config)).toMatchObject({
      status: 'trip',
      summary:
        'run run-1 at 201 model calls (limit 200); if the run is a batch of separate tasks, give each its own runId, or raise runaway.runLimits.maxModelCalls',
      evidence: { runId: 'run-1', limit: 'modelCalls', value: 201, max: 200 },
    })
  })

  it('limits tool calls', () => {
    expect(detectRunLimits(run(1, 500), 1_000, config).status).toBe('warn')
    expect(detectRunLimits(run(1, 501), 1_000, config).evidence).toMatchObject({
      limit: 'toolCalls',
    })
  })

  it('limits wall time', () => {
    expect(detectRunLimits(run(1), 3_600_000, config).status).toBe('warn')
    expect(detectRunLimits(run(1), 3_600_001, config)).toMatchObject({
      status: 'trip',
      evidence: { limit: 'durationMs', value: 3_600_001 },
    })
  })

  it('reports a trip over a warning from another limit', () => {
    expect(detectRunLimits(run(190, 501), 1_000, config).evidence).toMatchObject({
      limit: 'toolCalls',
    })
  })

  it('is ok without a run', () => {
    expect(detectRunLimits(undefined, 1_000, config).status).toBe('ok')
  })
})
