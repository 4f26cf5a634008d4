// Test support: a real guard with some methods replaced (a refusal the test needs on cue).
import type { AgentGuard } from '@killswitch/core'

export function guardWith(real: AgentGuard, overrides: Partial<AgentGuard>): AgentGuard {
  return new Proxy(real, {
    get(target, key) {
      if (Object.hasOwn(overrides, key)) return overrides[key as keyof AgentGuard]
      // The real guard keeps private fields: its getters and methods run on it, not the proxy.
      const value: unknown = Reflect.get(target, key, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}
