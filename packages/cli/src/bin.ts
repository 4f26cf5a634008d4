#!/usr/bin/env node
// The `killswitch` binary: real streams, real environment, and SIGINT/SIGTERM end `serve`
// cleanly (a second signal exits at once).
//
// It needs Node 22.13 or later (node:sqlite). Run from a clone with an older system Node
// (`npx killswitch`), it hands over to the Node the project's bootstrap installed in
// `.tools/`; with none to hand over to, it says what to do in one line.

import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join, parse } from 'node:path'
import { fileURLToPath } from 'node:url'

const MIN_NODE = [22, 13] as const

function isNewEnough(version: string): boolean {
  const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map(Number)
  return major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1])
}

/** The bootstrap's Node (`.tools/node_modules/node/bin/node`) in a folder above this file. */
function projectNode(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (dir !== parse(dir).root) {
    const candidate = join(dir, '.tools', 'node_modules', 'node', 'bin', 'node')
    if (existsSync(candidate)) return candidate
    dir = dirname(dir)
  }
  return undefined
}

if (!isNewEnough(process.versions.node)) {
  const node = projectNode()
  if (node === undefined || node === process.execPath) {
    process.stderr.write(
      `error: killswitch needs Node ${MIN_NODE.join('.')} or later (this is ${process.version}). Install a newer Node, or in a clone of the repository run \`npm run setup\` once and then \`npx killswitch\`.\n`,
    )
    process.exit(1)
  }
  const child = spawn(node, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
  })
  // Ctrl-C reaches the child from the terminal itself; a SIGTERM sent to this process only
  // is passed on. Either way this process waits for the child and exits as it did.
  process.on('SIGINT', () => {})
  process.on('SIGTERM', () => child.kill('SIGTERM'))
  child.on('error', (error) => {
    process.stderr.write(`error: could not start ${node}: ${error.message}\n`)
    process.exit(1)
  })
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 130 : 1)))
  await new Promise(() => {})
}

// Loaded only on a new enough Node: the CLI's modules need it.
const { runCli } = await import('./run-cli.js')

const controller = new AbortController()
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (controller.signal.aborted) process.exit(130)
    controller.abort()
  })
}
// `killswitch audit x --json | head` closes the pipe early: that is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0)
    throw error
  })
}

const code = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
  signal: controller.signal,
})
process.exitCode = code
// Let buffered output reach the pipe, then exit: a handle left open by a store or a socket
// must not keep a finished command hanging.
await Promise.all(
  [process.stdout, process.stderr].map(
    (stream) => new Promise<void>((resolve) => stream.write('', () => resolve())),
  ),
)
process.exit(code)
