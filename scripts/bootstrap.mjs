#!/usr/bin/env node
// The project's one entry point for `npm test`, `npm run demo`, `npm run bench` and friends.
//
// It must run on the system Node of these machines (Node 20), because the project itself
// needs Node >= 22.13 (ai 7 and @mastra/core 1.x require it). So, in order:
//   1. find a Node >= 22.13: the current one if new enough, else the npm package `node@22`
//      installed once into the git-ignored `.tools/` folder (nothing else is downloaded);
//   2. install dependencies with `npm ci` when node_modules is missing or stale (a stamp
//      holds the hash of package-lock.json and the Node version it was installed with);
//   3. build what is not built (turbo caches the rest), quietly: its output goes to a log
//      that is printed only if the build fails;
//   4. for `npm test`, provision the servers the tests need (redis-server);
//   5. run the command with that Node first on PATH.
// A command prints its own output and nothing else: no turbo banner, no npm notices, no
// node:sqlite ExperimentalWarning.
// Plain JavaScript with no dependencies, on purpose: nothing is installed when it starts.
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { redisPlan } from './redis-plan.mjs'
import { summariseVitestReport } from './test-summary.mjs'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const MIN_NODE = [22, 13, 0]
// Pinned so that every machine runs the same Node; bump deliberately.
const NODE_PACKAGE = 'node@22.23.3'
const toolsDir = path.join(root, '.tools')
const stampFile = path.join(root, 'node_modules', '.killswitch-install-stamp')
const logDir = path.join(root, 'node_modules', '.cache', 'killswitch')

const say = (message) => process.stderr.write(`[bootstrap] ${message}\n`)

function isNewEnough(version) {
  const parts = version.replace(/^v/, '').split('.').map(Number)
  for (let i = 0; i < 3; i++) {
    if (parts[i] > MIN_NODE[i]) return true
    if (parts[i] < MIN_NODE[i]) return false
  }
  return true
}

function run(command, args, env, { exitOnFailure = true } = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env })
  if (result.error) {
    say(`could not start ${command}: ${result.error.message}`)
    process.exit(1)
  }
  if (result.status !== 0 && exitOnFailure) process.exit(result.status ?? 1)
  return result.status ?? 1
}

// Runs a step whose output matters only when it fails: captured to a log, shown on failure.
function quiet(name, command, args, env) {
  mkdirSync(logDir, { recursive: true })
  const log = path.join(logDir, `${name}.log`)
  const result = spawnSync(command, args, {
    cwd: root,
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  })
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`
  writeFileSync(log, output)
  if (result.error) {
    say(`could not start ${command}: ${result.error.message}`)
    process.exit(1)
  }
  if (result.status !== 0) {
    process.stderr.write(output)
    say(
      `${name} failed (exit ${result.status}); its output is above and in ${path.relative(root, log)}`,
    )
    process.exit(result.status ?? 1)
  }
}

function versionOf(nodeBinary) {
  const result = spawnSync(nodeBinary, ['--version'], { encoding: 'utf8' })
  return result.status === 0 ? result.stdout.trim() : null
}

function findNode() {
  if (isNewEnough(process.versions.node)) return process.execPath
  const bundled = path.join(toolsDir, 'node_modules', 'node', 'bin', 'node')
  const bundledVersion = existsSync(bundled) ? versionOf(bundled) : null
  if (bundledVersion && isNewEnough(bundledVersion)) return bundled
  say(
    `system Node ${process.version} is older than ${MIN_NODE.join('.')}: ` +
      `installing ${NODE_PACKAGE} from the npm registry into .tools/ (once)`,
  )
  // npm 11 asks before running install scripts: the node package's one (it fetches the
  // platform binary) is approved here, in .tools/'s own package.json, so none is pending.
  mkdirSync(toolsDir, { recursive: true })
  writeFileSync(
    path.join(toolsDir, 'package.json'),
    `${JSON.stringify({ private: true, allowScripts: { [NODE_PACKAGE]: true } }, null, 2)}\n`,
  )
  run('npm', [
    'install',
    '--prefix',
    toolsDir,
    '--no-save',
    '--no-package-lock',
    '--no-audit',
    '--no-fund',
    NODE_PACKAGE,
  ])
  const installed = versionOf(bundled)
  if (!installed || !isNewEnough(installed)) {
    say(`${NODE_PACKAGE} did not install a usable Node at ${bundled}`)
    process.exit(1)
  }
  return bundled
}

function projectEnv(nodeBinary) {
  const nodeDir = path.dirname(nodeBinary)
  const env = {
    ...process.env,
    PATH: [nodeDir, path.join(root, 'node_modules', '.bin'), process.env.PATH].join(path.delimiter),
    TURBO_TELEMETRY_DISABLED: '1',
    DO_NOT_TRACK: '1',
    // node:sqlite is stable enough for us and its ExperimentalWarning is noise in every
    // command and test; other warnings still show.
    // biome-ignore lint/suspicious/noUndeclaredEnvVars: read to extend it, not a task input
    NODE_OPTIONS: [process.env.NODE_OPTIONS, '--disable-warning=ExperimentalWarning']
      .filter(Boolean)
      .join(' '),
    npm_config_update_notifier: 'false',
  }
  // Native addons must build against the headers of the Node that runs them.
  const headers = path.join(nodeDir, '..', 'include', 'node')
  if (nodeBinary !== process.execPath && existsSync(headers)) {
    env.npm_config_nodedir = path.resolve(nodeDir, '..')
  }
  return env
}

function ensureDependencies(env, nodeVersion) {
  const lockFile = path.join(root, 'package-lock.json')
  const freshlyInstalled = !existsSync(lockFile)
  if (freshlyInstalled) {
    say('no package-lock.json: resolving dependencies (npm install)')
    run('npm', ['install', '--no-audit', '--no-fund'], env)
  }
  const lock = readFileSync(lockFile)
  const want = `${createHash('sha256').update(lock).digest('hex')} ${nodeVersion}`
  const have = existsSync(stampFile) ? readFileSync(stampFile, 'utf8').trim() : ''
  if (have === want) return
  // A node_modules that `npm install` just wrote from this very lock is current. A missing
  // one gets the exact install of the lock (npm ci); an existing but stale one is brought in
  // line with `npm install`, which, unlike npm ci, does not first delete node_modules under
  // processes that are using it.
  if (!freshlyInstalled) {
    const present = existsSync(path.join(root, 'node_modules', '.package-lock.json'))
    say(`installing dependencies (${present ? 'npm install' : 'npm ci'})`)
    run('npm', [present ? 'install' : 'ci', '--no-audit', '--no-fund'], env)
  }
  writeFileSync(stampFile, `${want}\n`)
}

const [command = 'help', ...rest] = process.argv.slice(2)
const nodeBinary = findNode()
const env = projectEnv(nodeBinary)
ensureDependencies(env, versionOf(nodeBinary) ?? process.version)

const turbo = (name, tasks) =>
  quiet(name, 'turbo', ['run', ...tasks, '--output-logs=errors-only', '--ui=stream'], env)
const build = () => turbo('build', ['build'])

// The Redis store's tests run against a real redis-server: see redis-plan.mjs.
function ensureRedisServer() {
  const found = (command, args) => spawnSync(command, args, { stdio: 'ignore' }).status === 0
  const plan = redisPlan({
    installed: found('redis-server', ['--version']),
    hasApt: found('apt-get', ['--version']),
    isRoot: typeof process.getuid === 'function' && process.getuid() === 0,
    platform: process.platform,
  })
  if (plan.action === 'none') return
  if (plan.action === 'stop') {
    say(plan.message)
    process.exit(1)
  }
  say('the Redis tests need redis-server: installing it with apt-get (once)')
  for (const [command, ...args] of plan.steps) {
    quiet(`${command}-${args[0]}`, command, args, { ...env, DEBIAN_FRONTEND: 'noninteractive' })
  }
}

// The console's browser tests drive the system's Chromium (packages/cli/src/console): like
// redis-server, installed with apt-get when it can be; otherwise one line names the command.
function ensureChromium() {
  // biome-ignore lint/suspicious/noUndeclaredEnvVars: a test input, read to find the browser
  if (existsSync(process.env.KILLSWITCH_CHROMIUM || '/usr/bin/chromium')) return
  const hasApt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
  if (!hasApt || !isRoot) {
    const how = hasApt
      ? '`sudo apt-get update && sudo apt-get install -y chromium`'
      : "your system's package manager, then set KILLSWITCH_CHROMIUM to its path"
    say(
      `the console's browser tests need Chromium, which is not installed: install it with ${how}, then run npm test again`,
    )
    process.exit(1)
  }
  say("the console's browser tests need Chromium: installing it with apt-get (once)")
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', 'chromium'],
  ]) {
    quiet(`apt-get-${args[0]}`, 'apt-get', args, { ...env, DEBIAN_FRONTEND: 'noninteractive' })
  }
}

switch (command) {
  case 'setup':
    build()
    break
  case 'test':
    ensureRedisServer()
    ensureChromium()
    build()
    turbo('typecheck', ['typecheck', 'publint'])
    // The benchmarks are not a package: typecheck them here so they cannot rot unseen.
    quiet('bench-typecheck', 'tsc', ['-p', 'bench'], env)
    quiet('lint', 'biome', ['ci', '.'], env)
    {
      // The JSON report gives the plain closing line CI looks for: "N passed, N failed".
      const report = path.join(root, 'node_modules', '.cache', 'vitest-report.json')
      // A report left by an earlier run must never be read as this run's.
      rmSync(report, { force: true })
      const status = run(
        'vitest',
        ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...rest],
        env,
        { exitOnFailure: false },
      )
      if (existsSync(report)) {
        const summary = summariseVitestReport(JSON.parse(readFileSync(report, 'utf8')), root)
        process.stdout.write(`\n${[...summary.unrun, summary.closing].join('\n')}\n`)
      }
      process.exit(status)
    }
    break
  case 'demo':
    build()
    run('node', ['examples/demo/src/main.ts', ...rest], env)
    break
  case 'example': {
    // `npm run example -- langchain-agent`: build, then run examples/<name>/src/main.ts.
    const [name, ...args] = rest
    const main = path.join('examples', name ?? '', 'src', 'main.ts')
    if (!name || !existsSync(path.join(root, main))) {
      say(
        'usage: npm run example -- <demo | vercel-ai-loop | langchain-agent | mastra-agent | x402-paid-search>',
      )
      process.exit(2)
    }
    build()
    run('node', [main, ...args], env)
    break
  }
  case 'bench':
    build()
    run('node', ['bench/run.ts', ...rest], env)
    break
  case 'cli':
    build()
    run('node', ['packages/cli/dist/bin.js', ...rest], env)
    break
  case 'exec': {
    // `npm run x -- vitest run packages/core`: any command on the project's Node.
    const [program, ...args] = rest[0] === '--' ? rest.slice(1) : rest
    if (!program) {
      say('usage: npm run x -- <command> [args...]')
      process.exit(2)
    }
    process.exit(run(program, args, env, { exitOnFailure: false }))
    break
  }
  default:
    say('usage: node scripts/bootstrap.mjs <setup|test|demo|example|bench|cli|exec> [args...]')
    process.exit(command === 'help' ? 0 : 2)
}
