// Which model a call goes to, for pricing. Real chat models report it in their LangSmith
// params (`getLsParams()`: `ls_model_name`, `ls_provider`, `ls_max_tokens`), which LangChain
// also hands to callbacks as run metadata. Fakes and some wrappers report no name, so the
// caller can name the model explicitly; an explicit name always wins.

import { InvalidConfigError } from '@killswitch/core'

/**
 * Names the model when it does not report itself (fakes, custom models, proxies).
 *
 * @example
 * killSwitchMiddleware({ killSwitch: ks, credential, model: 'gpt-4o-mini', provider: 'openai' })
 */
export interface ModelNaming {
  /** The model id to price the calls as, e.g. `gpt-4o-mini`. Wins over what the model reports. */
  model?: string
  /** The provider id (`openai`, `anthropic`...), used with `model` to find the price. */
  provider?: string
}

/**
 * What the guard needs to know about the model of a call.
 *
 * @example
 * const identity: ModelIdentity = { model: 'gpt-4o-mini', provider: 'openai', maxOutputTokens: 512 }
 */
export interface ModelIdentity {
  model: string
  provider?: string
  /** The model's own max output tokens, when configured: the guard only ever lowers it. */
  maxOutputTokens?: number
}

/**
 * Reads the identity from LangSmith params (`getLsParams()` or callback run metadata).
 * Throws InvalidConfigError (field `model`) when no name is known: a call whose price
 * cannot be found must not run.
 *
 * @example
 * identityFromLsParams({ ls_model_name: 'gpt-4o-mini', ls_provider: 'openai' }, {})
 * // { model: 'gpt-4o-mini', provider: 'openai' }
 */
export function identityFromLsParams(
  params: Record<string, unknown> | undefined,
  naming: ModelNaming,
): ModelIdentity {
  const reportedName = nonEmpty(params?.ls_model_name)
  const model = naming.model ?? reportedName
  if (model === undefined) {
    const kind = nonEmpty(params?.ls_provider) ?? 'this model'
    throw new InvalidConfigError(
      'model',
      `The model (${kind}) does not report its name (no ls_model_name), so the kill switch cannot price its calls and refuses them. ` +
        `Fix: name it in the options, e.g. { model: 'gpt-4o-mini', provider: 'openai' }, and give its price in createKillSwitch({ prices }) if it is not a known model.`,
    )
  }
  // The reported provider only describes the reported model: for fakes it is a class name
  // (`FakeBuiltModel`), which would send the price lookup astray.
  const provider =
    naming.provider ?? (naming.model === undefined ? nonEmpty(params?.ls_provider) : undefined)
  const identity: ModelIdentity = { model }
  if (provider !== undefined) identity.provider = provider
  const maxTokens = params?.ls_max_tokens
  if (typeof maxTokens === 'number' && Number.isSafeInteger(maxTokens) && maxTokens > 0) {
    identity.maxOutputTokens = maxTokens
  }
  return identity
}

/**
 * Reads the identity of a LangChain chat model object: a model, a RunnableBinding around
 * one (`.bound`), or `initChatModel()`'s configurable model (resolved first).
 *
 * @example
 * const identity = await modelIdentity(new ChatOpenAI({ model: 'gpt-4o-mini' }), {})
 */
export async function modelIdentity(model: unknown, naming: ModelNaming): Promise<ModelIdentity> {
  return identityFromLsParams(await lsParamsOf(model), naming)
}

type ModelLike = {
  getLsParams?: (options: Record<string, unknown>) => Record<string, unknown>
  _getModelInstance?: () => Promise<unknown>
  bound?: unknown
}

async function lsParamsOf(model: unknown, depth = 0): Promise<Record<string, unknown> | undefined> {
  if (model === null || typeof model !== 'object' || depth > 4) return undefined
  const candidate = model as ModelLike
  // initChatModel() returns a ConfigurableModel whose own params name no model.
  if (typeof candidate._getModelInstance === 'function') {
    return lsParamsOf(await candidate._getModelInstance(), depth + 1)
  }
  if (typeof candidate.getLsParams === 'function') return candidate.getLsParams({})
  return lsParamsOf(candidate.bound, depth + 1)
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined
}
