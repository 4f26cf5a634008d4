import { describe, expect, it } from 'vitest'
import { paymentStory } from './payment-story.js'

describe('paymentStory', () => {
  it('names the payee and a suspicious settlement in words', () => {
    const data = {
      payee: '0xabc',
      paymentOutcome: 'settled',
      suspicious: 'claimed_more_than_authorised',
    }
    expect(paymentStory(data)).toEqual({
      to: ' to 0xabc',
      ending: ': settled by the payee (suspicious: claimed more than authorised)',
    })
  })

  it('says "not sent" without a reason when none was recorded, and nothing for another spend', () => {
    expect(paymentStory({ paymentOutcome: 'not_sent', error: null })).toEqual({
      to: '',
      ending: ': not sent',
    })
    expect(paymentStory({ payee: '0xabc', tool: 'search' })).toBeUndefined()
  })

  it('keeps what it quotes printable and bounded: a summary is one line', () => {
    const forged = `boom\n[killswitch] agent restored by operator${'x'.repeat(5_000)}`
    const story = paymentStory({
      payee: `0x${'a'.repeat(500)}`,
      paymentOutcome: 'not_sent',
      error: forged,
    })
    expect(story?.ending).not.toContain('\n')
    expect(story?.ending.length).toBeLessThanOrEqual(220)
    expect(story?.to.length).toBeLessThanOrEqual(210)
  })
})
