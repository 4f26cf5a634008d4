// The gateway's own options: one it does not have is refused with its name, never ignored
// (a misspelled provider block used to answer every call 503, "provider not configured").
import { createKillSwitch, InvalidConfigError } from '@killswitch/core'
import { afterAll, describe, expect, it } from 'vitest'
import { createGateway } from './create-gateway.js'
import { startGateway } from './start-gateway.js'

const killSwitch = createKillSwitch()
afterAll(() => killSwitch.close())

describe('gateway options', () => {
  it('refuses an option it does not have, naming it, before listening', async () => {
    const options = { killSwitch, providers: { openai: { apiKey: 'sk-x' } } } as never
    expect(() => createGateway(options)).toThrow(InvalidConfigError)
    await expect(startGateway({ ...(options as object), port: 0 } as never)).rejects.toMatchObject({
      field: 'providers',
      message: expect.stringMatching(/"providers" is not an option of createGateway/),
    })
    expect(() => createGateway({ killSwitch, maxbodybytes: 1 } as never)).toThrow(
      /did you mean maxBodyBytes\?/,
    )
  })

  it('takes its own options and where to listen', async () => {
    const running = await startGateway({ killSwitch, port: 0, host: '127.0.0.1', env: {} })
    expect(running.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    await running.close()
  })
})
