// Embedding calls (`embed`, `embedMany`) through the core's one model-call lifecycle: input
// only (an embedding bills no output), held at the input bound of the values, settled on the
// provider's token count. No policy here: it only translates the embedding model's params.
import type { EmbeddingModelV4Middleware } from '@ai-sdk/provider'
import {
  type AdapterOptions,
  adapterSetup,
  BUDGET_SCOPE_KEY,
  mergeBudgetScope,
} from '@killswitch/core'
import type { wrapEmbeddingModel } from 'ai'
import { modelIdentity } from './model-identity.js'

/** Any embedding model `wrapEmbeddingModel` accepts (V3 and V4 providers). */
export type WrappableEmbeddingModel = Parameters<typeof wrapEmbeddingModel>[0]['model']

/**
 * Middleware for `wrapEmbeddingModel`: refuses a call before the provider sees it (revoked,
 * over the cap, runaway), stops it in flight on revocation, and settles the provider's
 * token count (the input bound when it reports none).
 *
 * @example
 * wrapEmbeddingModel({ model, middleware: killSwitchEmbeddingMiddleware({ killSwitch: ks, credential }) })
 */
export function killSwitchEmbeddingMiddleware(
  options: Omit<AdapterOptions, 'toolPrices'>,
): EmbeddingModelV4Middleware {
  const { guard, naming, scope } = adapterSetup(options, {
    name: 'killSwitchEmbeddingMiddleware',
    without: ['toolPrices'],
  })
  return {
    specificationVersion: 'v4',
    async wrapEmbed({ params, model }) {
      const { [BUDGET_SCOPE_KEY]: asked, ...providerOptions } = params.providerOptions ?? {}
      const call = await guard.startModelCall({
        ...modelIdentity(model, naming),
        input: params.values,
        inputOnly: true,
        ...mergeBudgetScope(scope, asked, SCOPE_FIELD),
        signal: params.abortSignal,
      })
      // Our key is not the provider's (a gateway forwards all it is given).
      const sent = params.providerOptions ? { ...params, providerOptions } : { ...params }
      const result = await call.run(({ signal }) => model.doEmbed({ ...sent, abortSignal: signal }))
      await call.finish({ usage: { inputTokens: result.usage?.tokens, outputTokens: 0 } })
      return result
    },
  }
}

const SCOPE_FIELD = `providerOptions.${BUDGET_SCOPE_KEY}`
