// What `npm test` does about redis-server, which the Redis store's tests run against:
// nothing when it is installed; install it when it can (root with apt-get); otherwise stop
// with one line that names the exact command. Pure, so the decision is tested.

/**
 * @param {{ installed: boolean, hasApt: boolean, isRoot: boolean, platform: string }} machine
 * @returns {{ action: 'none' } | { action: 'install', steps: string[][] } | { action: 'stop', message: string }}
 */
export function redisPlan({ installed, hasApt, isRoot, platform }) {
  if (installed) return { action: 'none' }
  if (hasApt && isRoot) {
    return {
      action: 'install',
      steps: [
        ['apt-get', 'update', '-qq'],
        ['apt-get', 'install', '-y', '-qq', 'redis-server'],
      ],
    }
  }
  const command = hasApt
    ? '`sudo apt-get update && sudo apt-get install -y redis-server`'
    : platform === 'darwin'
      ? '`brew install redis`'
      : "your system's package manager (the package is usually redis or redis-server)"
  return {
    action: 'stop',
    message: `the Redis tests need redis-server, which is not installed: install it with ${command}, then run npm test again`,
  }
}
