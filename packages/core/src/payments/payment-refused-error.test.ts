// A payment that cannot be put on the ledger is refused as a kill switch error of its own.
import { describe, expect, it } from 'vitest'
import { findKillSwitchError, KillSwitchError } from '../errors.js'
import { PaymentRefusedError } from './payment-refused-error.js'

describe('PaymentRefusedError', () => {
  it('is a kill switch error naming its rule and payee', () => {
    const error = new PaymentRefusedError('bad_asset', 'Payment to 0xabc refused.', '0xabc')
    expect(error).toBeInstanceOf(KillSwitchError)
    expect(error).toMatchObject({
      name: 'PaymentRefusedError',
      code: 'payment_refused',
      status: 403,
      rule: 'bad_asset',
      payee: '0xabc',
      message: 'Payment to 0xabc refused.',
    })
    expect(findKillSwitchError(new Error('wrapped', { cause: error }))).toBe(error)
  })
})
