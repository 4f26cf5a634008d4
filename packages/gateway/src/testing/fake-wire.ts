// The wire format of the fake providers: OpenAI chat, Responses, embeddings and models, and
// Anthropic messages, whole and streamed, with usage blocks that include cached and
// reasoning tokens. Shapes follow the providers' API references.

/** What one fake completion reports. Cached tokens are part of input, reasoning of output. */
export interface FakeUsage {
  input: number
  cached: number
  /** Anthropic only: tokens written to the cache (part of input). */
  cacheWrite: number
  output: number
  reasoning: number
}

export const OPENAI_USAGE: FakeUsage = {
  input: 1_200,
  cached: 800,
  cacheWrite: 0,
  output: 300,
  reasoning: 120,
}
export const ANTHROPIC_USAGE: FakeUsage = {
  input: 2_100,
  cached: 1_500,
  cacheWrite: 400,
  output: 250,
  reasoning: 0,
}
export const EMBEDDING_USAGE: FakeUsage = {
  input: 42,
  cached: 0,
  cacheWrite: 0,
  output: 0,
  reasoning: 0,
}

/** The reply text, sent as these stream deltas. */
export const REPLY_PARTS = ['Hello', ' from', ' the', ' fake', ' upstream.']
export const REPLY = REPLY_PARTS.join('')

const created = 1_767_225_600

function openaiUsage(u: FakeUsage, style: 'chat' | 'responses') {
  if (style === 'chat') {
    return {
      prompt_tokens: u.input,
      completion_tokens: u.output,
      total_tokens: u.input + u.output,
      prompt_tokens_details: { cached_tokens: u.cached, audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: u.reasoning,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
      },
    }
  }
  return {
    input_tokens: u.input,
    input_tokens_details: { cached_tokens: u.cached },
    output_tokens: u.output,
    output_tokens_details: { reasoning_tokens: u.reasoning },
    total_tokens: u.input + u.output,
  }
}

export function chatCompletion(model: string, u: FakeUsage) {
  return {
    id: 'chatcmpl-fake',
    object: 'chat.completion',
    created,
    model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: REPLY, refusal: null },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: openaiUsage(u, 'chat'),
  }
}

export function chatChunk(model: string, delta: object, finish: string | null = null) {
  return {
    id: 'chatcmpl-fake',
    object: 'chat.completion.chunk',
    created,
    model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  }
}

export function chatUsageChunk(model: string, u: FakeUsage) {
  return {
    id: 'chatcmpl-fake',
    object: 'chat.completion.chunk',
    created,
    model,
    choices: [],
    usage: openaiUsage(u, 'chat'),
  }
}

function responseMessage(text: string) {
  return {
    type: 'message',
    id: 'msg_fake',
    status: 'completed',
    role: 'assistant',
    content: [{ type: 'output_text', text, annotations: [] }],
  }
}

export function response(model: string, u: FakeUsage | null, status = 'completed') {
  return {
    id: 'resp_fake',
    object: 'response',
    created_at: created,
    status,
    model,
    output: status === 'completed' ? [responseMessage(REPLY)] : [],
    output_text: undefined,
    parallel_tool_calls: true,
    tool_choice: 'auto',
    tools: [],
    usage: u === null ? null : openaiUsage(u, 'responses'),
  }
}

export function embeddings(model: string, inputs: number, base64: boolean, u: FakeUsage) {
  const vector = [0.25, -0.5, 0.125]
  const encoded = Buffer.from(new Float32Array(vector).buffer).toString('base64')
  return {
    object: 'list',
    model,
    data: Array.from({ length: inputs }, (_, index) => ({
      object: 'embedding',
      index,
      embedding: base64 ? encoded : vector,
    })),
    usage: { prompt_tokens: u.input, total_tokens: u.input },
  }
}

export function modelList() {
  return {
    object: 'list',
    data: [
      { id: 'gpt-4o', object: 'model', created, owned_by: 'openai' },
      { id: 'text-embedding-3-small', object: 'model', created, owned_by: 'openai' },
    ],
  }
}

function anthropicUsage(u: FakeUsage, output: number) {
  return {
    input_tokens: u.input - u.cached - u.cacheWrite,
    cache_creation_input_tokens: u.cacheWrite,
    cache_read_input_tokens: u.cached,
    output_tokens: output,
  }
}

export function anthropicMessage(model: string, u: FakeUsage) {
  return {
    id: 'msg_fake',
    type: 'message',
    role: 'assistant',
    model,
    content: [{ type: 'text', text: REPLY }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: anthropicUsage(u, u.output),
  }
}

export function anthropicStart(model: string, u: FakeUsage) {
  return {
    type: 'message_start',
    message: {
      id: 'msg_fake',
      type: 'message',
      role: 'assistant',
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: anthropicUsage(u, 1),
    },
  }
}

export function anthropicEnd(u: FakeUsage) {
  return {
    type: 'message_delta',
    delta: { stop_reason: 'end_turn', stop_sequence: null },
    usage: { output_tokens: u.output },
  }
}
