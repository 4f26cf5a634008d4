// The trace corpus replayed against the defaults: the confusion table in BENCHMARKS.md (what
// fired on each trace, when, and what it had spent by then). Not a test (corpus.test.ts
// asserts the goals); run it alone with
// `npm run x -- node packages/core/src/runaway/corpus.bench.ts`, or import `benchCorpus`
// from the bench runner.
import { registerHooks } from 'node:module'
import { pathToFileURL } from 'node:url'

/** One row of the confusion table. */
export interface CorpusRow {
  name: string
  kind: 'honest' | 'runaway'
  description: string
  capUsd: number
  calls: number
  /** `detector action` of the first refusal, or none. */
  fired: string
  /** Seconds from the trace's start (honest) or its loop's start (runaway) to the refusal. */
  atSeconds: number | null
  /** Spent when it fired (runaways: by the loop), dollars; or in all when nothing fired. */
  spentUsd: number
  /** The same as a percentage of the cap. */
  spentPctOfCap: number
  refusals: number
  warned: string | null
  met: boolean
  timeGoal: boolean
}

let hooked = false

/** Resolves the sources' `.js` imports to their `.ts` files, so that no build is needed. */
function resolveSources(): void {
  if (hooked) return
  hooked = true
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
}

/**
 * Replays every trace of the corpus against the default policy.
 *
 * @example
 * const rows = await benchCorpus()
 * console.log(rows.filter((row) => !row.met).length, 'traces miss their goal')
 */
export async function benchCorpus(): Promise<CorpusRow[]> {
  resolveSources()
  const { corpusRows } = await import('./corpus/confusion.js')
  return corpusRows()
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = await benchCorpus()
  for (const row of rows) {
    console.log(
      `${row.met ? 'ok  ' : 'MISS'} ${row.kind.padEnd(7)} ${row.name.padEnd(22)} ${row.fired.padEnd(28)} ` +
        `${row.atSeconds === null ? '-' : `${row.atSeconds} s`}  $${row.spentUsd} (${row.spentPctOfCap}% of $${row.capUsd})` +
        `  refusals ${row.refusals}${row.warned ? `  warned: ${row.warned}` : ''}`,
    )
  }
}
