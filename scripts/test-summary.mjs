// The closing line of `npm test`, which CI reads: "tests: N passed, N failed". A test file
// that failed to run (an import error, a server that did not start in beforeAll) has no
// tests of its own to count, so it is counted as one failure and named: never hidden behind
// "0 failed". Input: vitest's JSON reporter output.
import path from 'node:path'

/**
 * @param {{ numPassedTests?: number, numFailedTests?: number, numPendingTests?: number,
 *   testResults?: Array<{ name?: string, status?: string, message?: string,
 *   assertionResults?: Array<{ status?: string }> }> }} report
 * @param {string} root paths are shown relative to it
 * @returns {{ unrun: string[], closing: string }}
 */
export function summariseVitestReport(report, root) {
  const { numPassedTests = 0, numFailedTests = 0, numPendingTests = 0, testResults = [] } = report
  const unrunFiles = testResults.filter(
    (file) =>
      file.status === 'failed' &&
      !(file.assertionResults ?? []).some((test) => test.status === 'failed'),
  )
  const unrun = unrunFiles.map((file) => {
    const why = String(file.message ?? '')
      .split('\n')[0]
      .trim()
    return `test file failed to run: ${path.relative(root, file.name ?? '')}${why ? ` (${why})` : ''}`
  })
  const skipped = numPendingTests > 0 ? `, ${numPendingTests} skipped` : ''
  return {
    unrun,
    closing: `tests: ${numPassedTests} passed, ${numFailedTests + unrunFiles.length} failed${skipped}`,
  }
}
