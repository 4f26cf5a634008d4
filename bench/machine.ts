// The machine a benchmark run happened on, for the header of BENCHMARKS.md: the figures
// only mean something beside the CPU, the load and the Node that produced them.
import { existsSync, readFileSync } from 'node:fs'
import os from 'node:os'

export interface Machine {
  cpu: string
  cpus: number
  memoryGiB: number
  os: string
  node: string
  date: string
  /** 1, 5 and 15 minute load averages. */
  load: [number, number, number]
}

function osName(): string {
  // The distribution's own name when there is one ("Ubuntu 24.04.1 LTS"), and the kernel.
  const release = '/etc/os-release'
  const pretty = existsSync(release)
    ? /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync(release, 'utf8'))?.[1]
    : undefined
  const kernel = `${os.type()} ${os.release()} ${os.arch()}`
  return pretty ? `${pretty} (${kernel})` : kernel
}

/** The 1, 5 and 15 minute load averages, rounded. */
export function loadAverage(): [number, number, number] {
  const [one = 0, five = 0, fifteen = 0] = os
    .loadavg()
    .map((value) => Math.round(value * 100) / 100)
  return [one, five, fifteen]
}

/**
 * Describes this machine and the moment.
 *
 * @example
 * const { cpu, cpus, load } = describeMachine()
 */
export function describeMachine(): Machine {
  const cpus = os.cpus()
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cpus: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: osName(),
    node: process.version,
    date: new Date().toISOString(),
    load: loadAverage(),
  }
}
