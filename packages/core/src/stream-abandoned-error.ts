// The reason a streamed call is ended when its consumer stopped reading: some frameworks (the
// AI SDK) do not pass a consumer's cancel to the model's stream, so a long pause is the only sign.

/**
 * A streamed model call was ended because nothing read its next part for `idleMs`
 * milliseconds (a `break` out of `textStream`, a cancelled reader, a dropped result). The
 * provider was aborted and the call charged for what it produced. A consumer that was only
 * slow sees this error on its next read: raise `idleConsumerMs` for it.
 *
 * @example
 * for await (const part of result.fullStream) {
 *   await slowWrite(part) // longer than idleConsumerMs: the next read throws StreamAbandonedError
 * }
 */
export class StreamAbandonedError extends Error {
  override readonly name = 'StreamAbandonedError'
  /** How long the next part waited unread. */
  readonly idleMs: number

  constructor(model: string, idleMs: number) {
    super(
      `The ${model} stream was not read for ${idleMs} ms: the consumer is taken as gone, so the provider call was aborted and charged for what it produced.`,
    )
    this.idleMs = idleMs
  }
}
