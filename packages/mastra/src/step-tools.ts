// The step's tools as Mastra executes them: each executable tool runs through `run` (the
// processor's guard.runToolCall: a paid tool's price held before it runs, settled when it
// returns, released when it throws). Mastra runs a step's tools even after
// processOutputStep aborts the run (verified on @mastra/core 1.71), so this is also where a
// refusal that arose at the step's settlement stops them. Tools without `execute` (client or
// provider-executed tools) pass unchanged.

/** Runs one tool execution: its name, its input, and the tool's own execute. */
export type StepToolRun = (name: string, input: unknown, execute: () => unknown) => Promise<unknown>

/**
 * @example
 * return { tools: stepTools(args.tools, (name, input, execute) => guard.runToolCall({ name, args: input }, execute)) }
 */
export function stepTools(
  tools: Record<string, unknown> | undefined,
  run: StepToolRun,
): Record<string, unknown> | undefined {
  if (tools === undefined) return undefined
  const wrapped: Record<string, unknown> = {}
  for (const [name, tool] of Object.entries(tools)) {
    const execute = (tool as { execute?: unknown } | null)?.execute
    wrapped[name] =
      typeof execute !== 'function'
        ? tool
        : {
            ...(tool as object),
            execute(this: unknown, ...args: unknown[]) {
              return run(name, args[0], () => execute.apply(this, args))
            },
          }
  }
  return wrapped
}
