// For the console's browser tests (not part of the package): the system's Chromium driven by
// playwright-core, and guard processes over the BUILT core. A missing Chromium fails the test
// with the one command that installs it: a browser test that did not run must not look green.

import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Browser, chromium } from 'playwright-core'

export const CHROMIUM = process.env.KILLSWITCH_CHROMIUM ?? '/usr/bin/chromium'
export const CLI_DIR = fileURLToPath(new URL('../..', import.meta.url))
export const CLI_BIN = join(CLI_DIR, 'dist', 'bin.js')
const CORE_DIST = join(CLI_DIR, '..', 'core', 'dist', 'index.js')

/** Launches headless Chromium, or throws one line naming the install command. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `The console's browser tests need Chromium at ${CHROMIUM}: install it with \`apt-get install -y chromium\` (npm test does so when run as root), or point KILLSWITCH_CHROMIUM at one.`,
    )
  }
  for (const built of [CORE_DIST, CLI_BIN]) {
    if (!existsSync(built)) {
      throw new Error(
        `${built} is missing: the other processes run the BUILT packages. Build first: npm run setup (npm test builds for you).`,
      )
    }
  }
  // Root (CI, containers) cannot use Chromium's sandbox; these pages are our own.
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
}

export interface Child {
  output(): string
  /** Resolves when the process printed `line` (rejects if it exits first). */
  waitForLine(line: string | RegExp): Promise<string>
  done: Promise<number | null>
  kill(): void
}

/** Runs an ES module script in its own Node process, importing the built @killswitch/core. */
export function runScript(source: string, env: Record<string, string>): Child {
  const child: ChildProcess = spawn(process.execPath, ['--input-type=module', '-e', source], {
    cwd: CLI_DIR,
    env: { PATH: process.env.PATH ?? '', ...env },
  })
  return track(child)
}

/** Runs the built `killswitch` binary in `cwd`. */
export function runCli(args: string[], cwd: string): Child {
  return track(
    spawn(process.execPath, [CLI_BIN, ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? '', NO_COLOR: '1' },
    }),
  )
}

function track(child: ChildProcess): Child {
  let output = ''
  const waiters = new Set<() => void>()
  const onData = (chunk: Buffer) => {
    output += chunk.toString()
    for (const waiter of waiters) waiter()
  }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)
  let exited = false
  const done = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code) => {
      exited = true
      for (const waiter of waiters) waiter()
      resolve(code)
    })
  })
  return {
    output: () => output,
    done,
    kill: () => child.kill(),
    waitForLine(line) {
      const find = () =>
        output.split('\n').find((l) => (typeof line === 'string' ? l === line : line.test(l)))
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = find()
          if (found !== undefined) {
            waiters.delete(check)
            resolve(found)
          } else if (exited) {
            waiters.delete(check)
            reject(new Error(`the process exited before printing ${String(line)}:\n${output}`))
          }
        }
        waiters.add(check)
        check()
      })
    },
  }
}
