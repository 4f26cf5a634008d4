// Tools the provider runs itself bill each use apart from the tokens (a search, a container
// session, another model) and read their results back as input, as often as the provider
// likes within one call: no hold bounds them, so a call declaring one is refused. An
// allow-list, as the gateway's: a tool is the agent's own only when its kind says so (a
// function, or a client tool whose actions the agent runs), and any tool kind the core does
// not know is the provider's. Only the entries of a request's `tools` list are judged, never
// a schema property or a tool call's arguments that merely carry such a name.

// Wire tool types the agent runs: functions, custom tools, and the computer/shell/patch tools
// whose actions come back to the agent to carry out.
const CLIENT_TYPES = new Set(['function', 'custom', 'local_shell', 'apply_patch'])
// Anthropic's client tools, versioned by date (`bash_20250124`); OpenAI's computer use.
const CLIENT_TYPE_PREFIXES = ['bash_', 'text_editor_', 'computer_', 'memory_', 'computer_use']
// AI SDK provider tools (`{ type: 'provider', id }`) the agent runs.
const CLIENT_PROVIDER_TOOLS = new Set([
  'openai.local_shell',
  'openai.apply_patch',
  'openai.computer_use',
  'openai.custom',
])
const CLIENT_PROVIDER_PREFIXES = [
  'anthropic.bash_',
  'anthropic.text_editor_',
  'anthropic.computer_',
  'anthropic.memory_',
]
// Gemini tools are keyed objects: only function declarations are the agent's.
const CLIENT_GEMINI_KEYS = new Set(['functionDeclarations', 'function_declarations'])

type Fields = Record<string, unknown>

/** A shell in a local environment runs on the agent's machine; a container is billed. */
function localShell(environment: unknown): boolean {
  return (environment as Fields | null | undefined)?.type === 'local'
}

/**
 * The name of the first tool in `tools` (a request's tool list, in any wire format the
 * adapters see) that the provider runs itself; undefined when every tool is the agent's.
 *
 * @example
 * serverToolIn([{ type: 'function', name: 'search' }, { type: 'web_search' }]) // 'web_search'
 */
export function serverToolIn(tools: readonly unknown[]): string | undefined {
  for (const tool of tools) {
    if (tool === null || typeof tool !== 'object') continue
    const fields = tool as Fields
    const type = fields.type
    if (type === 'provider' || type === 'provider-defined') {
      const id = typeof fields.id === 'string' ? fields.id : String(fields.name)
      if (CLIENT_PROVIDER_TOOLS.has(id)) continue
      if (CLIENT_PROVIDER_PREFIXES.some((prefix) => id.startsWith(prefix))) continue
      if (id === 'openai.shell' && localShell((fields.args as Fields | undefined)?.environment)) {
        continue
      }
      return id
    }
    if (typeof type === 'string') {
      if (CLIENT_TYPES.has(type)) continue
      if (CLIENT_TYPE_PREFIXES.some((prefix) => type.startsWith(prefix))) continue
      if (type === 'shell' && localShell(fields.environment)) continue
      return type
    }
    if (type !== undefined) return String(type)
    // No type: an Anthropic custom tool or a LangChain tool (named), or a Gemini tool object,
    // whose keys say what it is: only a function list is the agent's.
    if ('name' in fields) continue
    const server = Object.keys(fields).find((key) => !CLIENT_GEMINI_KEYS.has(key))
    if (server !== undefined) return server
  }
  return undefined
}
