// POST /v1/embeddings: input only (the guard holds its input bound and one output token);
// usage is `prompt_tokens`. Embeddings are never streamed.
import { badRequest, type Dialect, record } from './dialect.js'
import { openaiUsage } from './openai-usage.js'

export const openaiEmbeddings: Dialect = {
  family: 'openai',
  provider: 'openai',
  upstreamPath: '/embeddings',
  inputOnly: true,

  requestedOutputTokens: () => undefined,

  prepare(body) {
    return body
  },

  usageOf(response) {
    const usage = openaiUsage(record(response)?.usage)
    return usage ? { ...usage, outputTokens: 0 } : undefined
  },

  textOf: () => undefined,

  streamReader() {
    throw badRequest('Embeddings cannot be streamed.')
  },

  streamError() {
    return ''
  },
}
