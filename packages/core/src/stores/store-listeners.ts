// The subscribers of a store, shared by every store: each event reaches every listener, and
// one failing listener never keeps the others (guards' aborts) from hearing a revocation.
import type { StoreEvent } from '../store.js'

export class StoreListeners {
  readonly #listeners = new Set<(event: StoreEvent) => void>()

  get size(): number {
    return this.#listeners.size
  }

  add(listener: (event: StoreEvent) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  publish(event: StoreEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(event)
      } catch {
        // A subscriber's failure is its own; the store's state is already written.
      }
    }
  }

  clear(): void {
    this.#listeners.clear()
  }
}
