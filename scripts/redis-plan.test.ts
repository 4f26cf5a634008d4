import { describe, expect, it } from 'vitest'
import { redisPlan } from './redis-plan.mjs'

describe('npm test and redis-server', () => {
  it('does nothing when it is installed', () => {
    expect(redisPlan({ installed: true, hasApt: false, isRoot: false, platform: 'linux' })).toEqual(
      {
        action: 'none',
      },
    )
  })

  it('installs it with apt-get as root', () => {
    expect(redisPlan({ installed: false, hasApt: true, isRoot: true, platform: 'linux' })).toEqual({
      action: 'install',
      steps: [
        ['apt-get', 'update', '-qq'],
        ['apt-get', 'install', '-y', '-qq', 'redis-server'],
      ],
    })
  })

  it('otherwise stops with one line naming the exact command', () => {
    const user = redisPlan({ installed: false, hasApt: true, isRoot: false, platform: 'linux' })
    expect(user).toEqual({
      action: 'stop',
      message: expect.stringContaining('sudo apt-get install -y redis-server'),
    })
    const mac = redisPlan({ installed: false, hasApt: false, isRoot: false, platform: 'darwin' })
    expect(mac).toMatchObject({
      action: 'stop',
      message: expect.stringContaining('brew install redis'),
    })
    for (const plan of [user, mac]) {
      expect(plan.action === 'stop' && plan.message.includes('\n')).toBe(false)
    }
  })
})
