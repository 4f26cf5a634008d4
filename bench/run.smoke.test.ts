// `npm run bench -- --quick` as a test: every benchmark group runs to its end. It times
// nothing (speed is measured by `npm run bench`, never asserted here); it catches a bench
// broken by a change elsewhere, which a typecheck cannot (a store refusing the bench's
// agent broke the stores group unseen until a full bench run).
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'

const run = fileURLToPath(new URL('./run.ts', import.meta.url))

it('runs every benchmark group in quick mode without a failure', async () => {
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', run, '--quick'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  const failed = output.split('\n').filter((line) => line.includes('FAILED'))
  // The group's own output says why (CI once showed only "exactness FAILED").
  expect(failed, output.slice(-4_000)).toEqual([])
  expect(code).toBe(0)
  expect(output).toMatch(/\[bench\] done in \d+ s/)
}, 600_000)
