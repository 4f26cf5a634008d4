// Mastra executes a step's tools after processOutputStep even when that hook aborts the run
// (verified on @mastra/core 1.71). The processor checks each tool call earlier, on its
// `tool-call` chunk; but a refusal that only arises when the step is settled (a spend-velocity
// trip revoking the agent, say) would still let that step's tools run. So the processor hands
// Mastra the step's tools with one extra check in front of `execute`.

/** Returns the refusal that must stop tool execution now, or undefined to let tools run. */
export type StopCheck = () => unknown

/**
 * Wraps each executable tool so that it throws the refusal instead of running once `stopped`
 * returns one (Mastra turns the throw into a `tool-error`). Tools without `execute` (client
 * or provider-executed tools) are passed through unchanged.
 *
 * @example
 * return { tools: toolsStoppedAfter(args.tools, () => run.refusal) }
 */
export function toolsStoppedAfter(
  tools: Record<string, unknown> | undefined,
  stopped: StopCheck,
): Record<string, unknown> | undefined {
  if (tools === undefined) return undefined
  const wrapped: Record<string, unknown> = {}
  for (const [name, tool] of Object.entries(tools)) {
    const execute = (tool as { execute?: unknown } | null)?.execute
    if (typeof execute !== 'function') {
      wrapped[name] = tool
      continue
    }
    wrapped[name] = {
      ...(tool as object),
      execute(this: unknown, ...args: unknown[]) {
        const refusal = stopped()
        if (refusal !== undefined) return Promise.reject(refusal)
        return execute.apply(this, args)
      },
    }
  }
  return wrapped
}
