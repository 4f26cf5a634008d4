// The audit log keeps why a call or a tool failed, never a secret its error quoted: a failed
// request's message often holds its URL, key and all (Google APIs take `?key=`), or the
// agent's own credential.
import { describe, expect, it } from 'vitest'
import { createKillSwitch } from './kill-switch.js'

const GOOGLE_KEY = 'AIzaSyD-FAKEFAKEFAKEFAKEFAKEFAKEFAKE12'

describe('the audit log of a failed call', () => {
  it('masks the secrets a tool error or a provider error quoted', async () => {
    const ks = createKillSwitch({ prices: { m: { inputPerMTok: 1, outputPerMTok: 1 } } })
    const { credential } = await ks.agents.create({ handle: 'auditee', spendingCap: 10 })
    const guard = ks.guard(credential)
    const messages = [
      `GET https://www.googleapis.com/customsearch/v1?key=${GOOGLE_KEY}&q=acme failed: 403`,
      `POST https://gw.example.com/v1?token=${credential} failed: 500`,
      `Incorrect API key provided: sk-proj-${GOOGLE_KEY}`,
    ]
    for (const message of messages) {
      const failing = async () => {
        throw new Error(message)
      }
      await guard
        .runToolCall({ name: 'web_search', args: { q: 'acme' }, priceUsd: 0.01 }, failing)
        .catch(() => {})
    }
    const call = await guard.startModelCall({ model: 'm', input: 'hi', maxOutputTokens: 10 })
    await call.run(async () => {}).catch(() => {})
    await call.fail(
      new Error(`fetch https://proxy.example.com/v1/chat?api_key=${GOOGLE_KEY} failed`),
    )

    const audit = JSON.stringify(await ks.audit('auditee'))
    expect(audit).not.toContain(GOOGLE_KEY.slice(4, 24))
    expect(audit).not.toContain(credential.slice(3, 23))
    // What failed is still said.
    expect(audit).toContain('googleapis.com/customsearch/v1?[redacted] failed: 403')
    expect(audit).toContain('Incorrect API key provided: [redacted]')
  })

  // Red team r23: another agent's credential sent as the model name (through the gateway) was
  // refused with a masked message, but written whole to the denial's data and its event.
  it("masks a credential sent as the model in the denial's data and event", async () => {
    const ks = createKillSwitch({ prices: { m: { inputPerMTok: 1, outputPerMTok: 1 } } })
    const { credential } = await ks.agents.create({ handle: 'sender', spendingCap: 10 })
    const other = (await ks.agents.create({ handle: 'other', spendingCap: 10 })).credential
    const events: unknown[] = []
    ks.on('denied', (event) => events.push(event))
    const error = await ks
      .guard(credential)
      .beforeModelCall({ model: `gpt-4o ${other}`, input: 'hi' })
      .catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'unknown_model_price' })
    const denied = (await ks.audit('sender')).find((entry) => entry.type === 'denied')
    expect(denied?.data.model).toBe('gpt-4o ks_[redacted]')
    expect(JSON.stringify(await ks.audit('sender'))).not.toContain(other.slice(3, 23))
    expect(JSON.stringify(events)).not.toContain(other.slice(3, 23))
    expect(events).toEqual([expect.objectContaining({ model: 'gpt-4o ks_[redacted]' })])
  })
})
