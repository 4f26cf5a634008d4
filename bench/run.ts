// `npm run bench`: runs every benchmark group, each in a process of its own, prints each
// section as it completes and writes BENCHMARKS.md at the repository root (machine, Node,
// date, load). Options: --quick (fewer iterations and runs, a smoke run: writes nothing
// unless --out is given), --only=<group,...>, --out=<file>.
// It starts one redis-server for the Redis groups unless REDIS_URL is set.
import { fork } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { describeMachine, loadAverage } from './machine.ts'
import { redisUrlFromEnv } from './redis-url.ts'
import { type Results, renderReport, SECTIONS } from './report.ts'
import { GROUPS, type Group, type GroupOptions } from './run-group.ts'

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    out: { type: 'string' },
  },
})
const quick = values.quick === true
const only = values.only?.split(',').map((name) => name.trim())
for (const name of only ?? []) {
  if (!GROUPS.includes(name as Group)) {
    console.error(`unknown group "${name}": one of ${GROUPS.join(', ')}`)
    process.exit(2)
  }
}
const out =
  values.out ?? (quick || only ? undefined : new URL('../BENCHMARKS.md', import.meta.url).pathname)
const selected = (group: Group) => !only || only.includes(group)
/**
 * Adapter runs are repeated in fresh processes for a spread (the AI SDK's, 20 s, more often).
 * Mastra's too (about 3 minutes a run): in single runs its processor row read 1.00x to 1.12x
 * over eight bench runs of nearly the same code, either side of the target.
 */
const repeats = (group: Group) =>
  quick ? 1 : group === 'vercel-ai' ? 5 : group === 'langchain' || group === 'mastra' ? 3 : 1

const machine = describeMachine()
const started = performance.now()
const log = (message: string) => console.log(`[bench] ${message}`)
log(
  `${machine.cpu} × ${machine.cpus}, ${machine.memoryGiB} GiB, Node ${machine.node}, load ${machine.load.join(' ')}${quick ? ', quick' : ''}`,
)

function runGroupOnce(group: Group, options: GroupOptions): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = fork(
      new URL('./run-group.ts', import.meta.url),
      [group, JSON.stringify(options)],
      {
        execArgv: ['--disable-warning=ExperimentalWarning'],
        stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      },
    )
    let stderr = ''
    child.stderr?.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk)
      stderr = (stderr + chunk.toString()).slice(-4_000)
    })
    let rows: unknown
    child.on('message', (message: { type: string; rows: unknown; seconds: number }) => {
      if (message.type !== 'rows') return
      rows = message.rows
      log(`${group}: done in ${message.seconds.toFixed(1)} s`)
    })
    child.once('error', reject)
    child.once('exit', (code) => {
      if (rows !== undefined) return resolve(rows)
      const error = new Error(`exited with code ${code}`)
      reject(
        Object.assign(error, { distMissing: /ERR_MODULE_NOT_FOUND[^\n]*\/dist\//.test(stderr) }),
      )
    })
  })
}

const distEntries = ['core', 'vercel-ai', 'langchain', 'mastra', 'redis'].map((name) =>
  fileURLToPath(new URL(`../packages/${name}/dist/index.js`, import.meta.url)),
)

/**
 * Runs a group; when it failed because a package's dist/ vanished (a build running elsewhere
 * in a shared checkout rewrites it), waits for the build to finish and tries again, twice.
 */
async function runGroup(group: Group, options: GroupOptions): Promise<unknown> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await runGroupOnce(group, options)
    } catch (error) {
      if (!(error as { distMissing?: boolean }).distMissing || attempt === 3) throw error
      log(`${group}: a package's dist/ was missing (a build in progress?): waiting to retry`)
      for (let waited = 0; waited < 120 && !distEntries.every((file) => existsSync(file)); waited++)
        await new Promise((resolve) => setTimeout(resolve, 1_000))
      await new Promise((resolve) => setTimeout(resolve, 5_000))
    }
  }
}

// One Redis for every group that needs one.
let redisUrl = redisUrlFromEnv()
let disposeRedis: (() => Promise<void>) | undefined
let redisLabel = redisUrl ? 'REDIS_URL (external)' : 'none'
if (!redisUrl && GROUPS.some((group) => selected(group) && needsRedis(group))) {
  try {
    const { startRedisServer } = await import(
      '../packages/redis/src/test-support/start-redis-server.ts'
    )
    const server = await startRedisServer()
    redisUrl = server.url
    disposeRedis = server.dispose
    const { execFileSync } = await import('node:child_process')
    const version = execFileSync('redis-server', ['--version'], { encoding: 'utf8' })
    redisLabel = `redis-server ${/v=(\S+)/.exec(version)?.[1] ?? '?'} on loopback, started by the bench (AOF everysec)`
  } catch (error) {
    log(`no Redis: the Redis figures are left out (${(error as Error).message})`)
  }
}

function needsRedis(group: Group): boolean {
  return ['redis-store', 'ledger', 'ledger-state', 'revocation', 'exactness'].includes(group)
}

const results: Results = { overhead: {}, failures: [], load: machine.load[0] }
const options: GroupOptions = { quick, ...(redisUrl ? { redisUrl } : {}) }
const section = (name: keyof typeof SECTIONS) => console.log(`\n${SECTIONS[name](results)}\n`)

try {
  for (const group of GROUPS) {
    if (!selected(group)) continue
    if (group === 'redis-store' && !redisUrl) continue
    for (let run = 1; run <= repeats(group); run++) {
      log(`${group}${repeats(group) > 1 ? ` (run ${run} of ${repeats(group)})` : ''}...`)
      try {
        const rows = await runGroup(group, options)
        store(group, rows)
      } catch (error) {
        const message = (error as Error).message
        log(`${group} FAILED: ${message}`)
        results.failures.push({ group, error: message })
        break
      }
    }
    if (group === 'framework-baselines') section('overhead')
    if (group === 'ledger') section('stores')
    if (group === 'revocation') section('revocation')
    if (group === 'exactness') section('exactness')
    if (group === 'detectors') section('detectors')
    if (group === 'corpus') section('corpus')
    if (group === 'ledger-state') section('ledgerState')
  }
} finally {
  await disposeRedis?.()
}

function store(group: Group, rows: unknown): void {
  switch (group) {
    case 'vercel-ai':
    case 'langchain':
    case 'mastra':
      results.overhead[group] ??= []
      results.overhead[group].push(rows as never)
      break
    case 'framework-baselines':
      results.frameworkBaselines = rows as never
      break
    case 'stores':
      results.stores = rows as never
      break
    case 'redis-store':
      results.redisStore = rows as never
      break
    case 'ledger':
      results.ledger = rows as never
      break
    case 'revocation':
      results.revocation = rows as never
      break
    case 'exactness':
      results.exactness = rows as never
      break
    case 'detectors':
      results.detectors = rows as never
      break
    case 'corpus':
      results.corpus = rows as never
      break
    case 'ledger-state':
      results.ledgerState = rows as never
      break
  }
}

const seconds = (performance.now() - started) / 1_000
if (out) {
  const report = renderReport(results, {
    machine,
    loadAtEnd: loadAverage(),
    seconds,
    quick,
    redis: redisLabel,
  })
  writeFileSync(out, report)
  log(`wrote ${out} in ${Math.round(seconds)} s`)
} else {
  log(`done in ${Math.round(seconds)} s (nothing written: pass --out=<file> to keep a quick run)`)
}
if (results.failures.length > 0) process.exitCode = 1
