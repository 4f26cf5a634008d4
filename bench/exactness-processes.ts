// Exactness across processes: several processes, each starting its share of the calls at
// once, against one agent's cap in one sqlite file or one Redis. The cap must hold exactly
// whichever process reserves: the store's reserve is the one atomic check.
import { fork } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import type { Store } from '@killswitch/core'
import { type ExactnessRow, exactnessKillSwitch, row } from './exactness.ts'

const workerFile = fileURLToPath(new URL('./exactness-worker.ts', import.meta.url))

type Message =
  | { type: 'ready' }
  | { type: 'done'; admitted: number }
  | { type: 'error'; message: string }

/**
 * `processes` processes × `callsEach` concurrent $0.01 calls against one $5 cap.
 *
 * @example
 * const result = await exactnessAcrossProcesses('sqlite', store, ['sqlite', path], 4, 250)
 */
export async function exactnessAcrossProcesses(
  name: string,
  store: Store,
  storeArgs: string[],
  processes: number,
  callsEach: number,
): Promise<ExactnessRow> {
  const capMicros = 5_000_000
  const ks = exactnessKillSwitch(store)
  const agent = await ks.agents.create({
    handle: `exactness-${name}-${randomUUID().slice(0, 8)}`,
    spendingCap: capMicros / 1e6,
  })
  const children = Array.from({ length: processes }, () =>
    fork(workerFile, [...storeArgs, agent.credential, String(callsEach)], {
      execArgv: ['--disable-warning=ExperimentalWarning'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  )
  const next = (child: (typeof children)[number], type: 'ready' | 'done') =>
    new Promise<Message>((resolve, reject) => {
      child.on('message', (message: Message) => {
        if (message.type === 'error') reject(new Error(`exactness worker: ${message.message}`))
        else if (message.type === type) resolve(message)
      })
      child.once('exit', (code) =>
        reject(new Error(`exactness worker exited (${code}) before "${type}"`)),
      )
    })
  try {
    await Promise.all(children.map((child) => next(child, 'ready')))
    const done = children.map((child) => next(child, 'done'))
    for (const child of children) child.send({ type: 'go' })
    const results = await Promise.all(done)
    const admitted = results.reduce(
      (sum, message) => sum + (message.type === 'done' ? message.admitted : 0),
      0,
    )
    const state = await ks.agents.get(agent.handle)
    return row(
      `killswitch (${name} store, ${processes} processes × ${callsEach} calls)`,
      processes * callsEach,
      capMicros,
      admitted,
      Math.round(state.spent * 1e6),
    )
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill()
    await ks.close()
  }
}
