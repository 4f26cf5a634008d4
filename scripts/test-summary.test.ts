import { describe, expect, it } from 'vitest'
import { summariseVitestReport } from './test-summary.mjs'

describe('the closing line of npm test', () => {
  it('counts a test file that failed to run as a failure, and names it', () => {
    const summary = summariseVitestReport(
      {
        numPassedTests: 468,
        numFailedTests: 0,
        numFailedTestSuites: 4,
        numPendingTests: 0,
        testResults: [
          {
            name: '/repo/packages/core/src/a.test.ts',
            status: 'passed',
            assertionResults: [{ status: 'passed' }],
          },
          {
            name: '/repo/packages/redis/src/redis-store.test.ts',
            status: 'failed',
            message: 'These tests need redis-server\n    at beforeAll',
            assertionResults: [],
          },
          {
            name: '/repo/packages/redis/src/b.test.ts',
            status: 'failed',
            message: 'Failed to load url ./missing.js',
            assertionResults: [{ status: 'skipped' }],
          },
        ],
      },
      '/repo',
    )
    expect(summary.closing).toBe('tests: 468 passed, 2 failed')
    expect(summary.unrun).toEqual([
      'test file failed to run: packages/redis/src/redis-store.test.ts (These tests need redis-server)',
      'test file failed to run: packages/redis/src/b.test.ts (Failed to load url ./missing.js)',
    ])
  })

  it('does not count a file twice when its own tests failed', () => {
    const summary = summariseVitestReport(
      {
        numPassedTests: 3,
        numFailedTests: 1,
        numPendingTests: 2,
        testResults: [
          { name: '/r/x.test.ts', status: 'failed', assertionResults: [{ status: 'failed' }] },
        ],
      },
      '/r',
    )
    expect(summary).toEqual({ unrun: [], closing: 'tests: 3 passed, 1 failed, 2 skipped' })
  })
})
