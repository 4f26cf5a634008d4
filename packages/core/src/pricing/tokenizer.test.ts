import { describe, expect, it, vi } from 'vitest'

// Counts the encoders built, and when: building one blocks the event loop for a second or
// more, so it must happen before a call is sent, never while a stream is being counted.
const built = vi.hoisted(() => ({ count: 0 }))
vi.mock('gpt-tokenizer/encoding/o200k_base', async (importOriginal) => {
  built.count++
  return await importOriginal()
})
vi.mock('gpt-tokenizer/encoding/cl100k_base', async (importOriginal) => {
  built.count++
  return await importOriginal()
})

const { outputCounting } = await import('./output-count.js')

describe('the tokenizer of a model whose tokenizer is public', () => {
  it('is built when its counting loads (before the call is sent), not at the first count near the limit', async () => {
    const counting = await outputCounting('gpt-4o')
    expect(built.count).toBe(1)
    const count = counting.start(16)
    // Up to the limit: counted with the tokenizer from near it on, no encoder built.
    for (let i = 0; i < 16; i++) count.add({ text: ' hi' })
    expect(count.tokens).toBe(16)
    expect(built.count).toBe(1)
  })

  it('is built once per encoding, whichever model of it is called', async () => {
    await outputCounting('gpt-4o-mini')
    await outputCounting('gpt-5')
    expect(built.count).toBe(1)
    await outputCounting('gpt-4-turbo')
    expect(built.count).toBe(2)
  })
})
