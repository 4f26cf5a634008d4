import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SseParser, sseEvent } from './sse-parser.js'

const encoder = new TextEncoder()

describe('SseParser', () => {
  it('reads event and data fields, multi-line data, comments and CRLF', () => {
    const parser = new SseParser()
    const events = parser.push(
      encoder.encode(
        ': keep-alive\n\nevent: ping\ndata: {"a":1}\n\ndata: one\r\ndata: two\r\n\r\n',
      ),
    )
    // A comment-only block (a keep-alive) is an event with no data: it is passed on.
    expect(events.map(({ event, data }) => ({ event, data }))).toEqual([
      { event: undefined, data: '' },
      { event: 'ping', data: '{"a":1}' },
      { event: undefined, data: 'one\ntwo' },
    ])
  })

  it('yields the same events however the bytes are split (multi-byte characters included)', () => {
    const payload = fc.array(
      fc.record({
        event: fc.option(fc.constantFrom('message_start', 'response.output_text.delta'), {
          nil: undefined,
        }),
        text: fc.string({ unit: 'grapheme' }),
      }),
      { maxLength: 8 },
    )
    fc.assert(
      fc.property(payload, fc.array(fc.nat(), { maxLength: 10 }), (events, cuts) => {
        const wire = encoder.encode(
          events.map(({ event, text }) => sseEvent({ text }, event)).join(''),
        )
        const points = [...new Set(cuts.map((cut) => cut % (wire.length + 1)))].sort(
          (a, b) => a - b,
        )
        const parser = new SseParser()
        const seen = []
        let from = 0
        for (const point of [...points, wire.length]) {
          seen.push(...parser.push(wire.subarray(from, point)))
          from = point
        }
        expect(parser.flush()).toBeUndefined()
        expect(seen.map(({ event, data }) => ({ event, text: JSON.parse(data).text }))).toEqual(
          events,
        )
      }),
    )
  })

  it('returns a last event that ended without a blank line on flush', () => {
    const parser = new SseParser()
    expect(parser.push(encoder.encode('data: [DONE]\n'))).toEqual([])
    expect(parser.flush()?.data).toBe('[DONE]')
  })
})
