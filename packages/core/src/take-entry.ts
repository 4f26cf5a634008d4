// An adapter keeps its open calls and tool tickets by the framework's key (a LangChain run id,
// a Mastra tool context) until they end: the ending takes the entry out, so an ending told
// twice (an error bubbling through, an end after an error) finds nothing the second time and
// the call or tool is ended once.

/** A Map or a WeakMap. */
interface Entries<K, V> {
  get(key: K): V | undefined
  delete(key: K): boolean
}

/**
 * The value under `key`, removed from `map`; undefined when there is none.
 *
 * @example
 * const calls = new Map([['run-1', 'call']])
 * takeEntry(calls, 'run-1') // 'call'
 * takeEntry(calls, 'run-1') // undefined
 */
export function takeEntry<K, V>(map: Entries<K, V>, key: K): V | undefined {
  const value = map.get(key)
  map.delete(key)
  return value
}
