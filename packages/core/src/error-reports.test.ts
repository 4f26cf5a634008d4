// Each error reaches the error streak once, however many layers pass it on.
import { describe, expect, it, vi } from 'vitest'
import { ErrorReports } from './error-reports.js'

function reports() {
  const onError = vi.fn(async () => {})
  return { onError, errors: new ErrorReports({ onError }) }
}

describe('ErrorReports', () => {
  it('reports an error once, however often it is passed on', async () => {
    const { onError, errors } = reports()
    const error = new Error('chain failed')
    await errors.report(error, 'chain')
    await errors.report(error, 'chain')
    expect(onError).toHaveBeenCalledTimes(1)
    expect(onError).toHaveBeenCalledWith(error, 'chain')
  })

  it('does not report an error already seen where it ended a call', async () => {
    const { onError, errors } = reports()
    const error = new Error('provider failed')
    expect(errors.seen(error)).toBe(false)
    expect(errors.seen(error)).toBe(true)
    await errors.report(error, 'chain')
    expect(onError).not.toHaveBeenCalled()
  })

  it('reports a thrown string or number each time: it cannot be marked', async () => {
    const { onError, errors } = reports()
    await errors.report('boom', 'tool')
    await errors.report('boom', 'tool')
    await errors.report(undefined, 'model')
    expect(onError).toHaveBeenCalledTimes(3)
  })
})
