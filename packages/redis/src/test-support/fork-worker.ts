// Forks a test worker script and collects its IPC messages (not part of the package).

import { type ChildProcess, fork } from 'node:child_process'

export type WorkerMessage = { type: string } & Record<string, unknown>

export interface ForkedWorker {
  child: ChildProcess
  /** The next message of this type (one already received counts), or a rejection on exit. */
  next(type: string): Promise<WorkerMessage>
  exited: Promise<number | null>
}

/**
 * @example
 * const worker = forkWorker(file, [url, prefix, 'spend', '{}'])
 * await worker.next('ready')
 */
export function forkWorker(file: string, args: string[]): ForkedWorker {
  const child = fork(file, args, {
    execArgv: ['--disable-warning=ExperimentalWarning'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const inbox: WorkerMessage[] = []
  const waiters: { type: string; resolve: (message: WorkerMessage) => void }[] = []
  child.on('message', (message: WorkerMessage) => {
    const index = waiters.findIndex((waiter) => waiter.type === message.type)
    if (index >= 0) waiters.splice(index, 1)[0]?.resolve(message)
    else inbox.push(message)
  })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return {
    child,
    exited,
    next(type) {
      const index = inbox.findIndex((message) => message.type === type)
      if (index >= 0) return Promise.resolve(inbox.splice(index, 1)[0] as WorkerMessage)
      return new Promise((resolve, reject) => {
        waiters.push({ type, resolve })
        void exited.then((code) =>
          reject(new Error(`worker exited (${code}) before sending "${type}"`)),
        )
      })
    },
  }
}
