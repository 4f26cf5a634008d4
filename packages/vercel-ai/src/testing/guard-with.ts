// Test support: a real guard with some methods replaced (a refusal the test needs on cue).
import type { AgentGuard } from '@killswitch/core'

// The lifecycle methods drive the guard's other methods through `this`: they run on the
// proxy, so that they reach the replaced ones.
const LIFECYCLE = new Set<PropertyKey>(['startModelCall', 'runModelCall', 'runToolCall'])

export function guardWith(real: AgentGuard, overrides: Partial<AgentGuard>): AgentGuard {
  return new Proxy(real, {
    get(target, key, proxy) {
      if (Object.hasOwn(overrides, key)) return overrides[key as keyof AgentGuard]
      // The real guard keeps private fields: its getters and methods run on it, not the proxy.
      const value: unknown = Reflect.get(target, key, target)
      if (typeof value !== 'function') return value
      return value.bind(LIFECYCLE.has(key) ? proxy : target)
    },
  })
}
