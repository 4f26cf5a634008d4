// Which model a call goes to, for pricing. Real chat models report it in their LangSmith
// params (`getLsParams()`: `ls_model_name`, `ls_provider`, `ls_max_tokens`), which LangChain
// also hands to callbacks as run metadata. Fakes and some wrappers report no name, so the
// options can name the model; an explicit name always wins.
import { type AdapterSetup, InvalidConfigError } from '@killswitch/core'

/** The model and provider to price calls as, from the options (`{ model, provider }`). */
export type ModelNaming = AdapterSetup['naming']

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
 */
export function identityFromLsParams(params: Params, naming: ModelNaming): ModelIdentity {
  const model = naming.model ?? nonEmpty(params?.ls_model_name)
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
  const max = params?.ls_max_tokens
  return {
    model,
    ...(provider === undefined ? {} : { provider }),
    ...(typeof max === 'number' && Number.isSafeInteger(max) && max > 0
      ? { maxOutputTokens: max }
      : {}),
  }
}

/**
 * Reads the identity of a LangChain chat model: a model, a RunnableBinding around one
 * (`.bound`), or `initChatModel()`'s configurable model (resolved first).
 *
 * @example
 * const identity = await modelIdentity(new ChatOpenAI({ model: 'gpt-4o-mini' }), {})
 */
export async function modelIdentity(model: unknown, naming: ModelNaming): Promise<ModelIdentity> {
  let params: Params
  for (let current = model, depth = 0; depth < 5 && typeof current === 'object'; depth++) {
    const candidate = current as ModelLike | null
    if (candidate === null) break
    if (typeof candidate._getModelInstance === 'function') {
      current = await candidate._getModelInstance()
    } else if (typeof candidate.getLsParams === 'function') {
      params = candidate.getLsParams({})
      break
    } else current = candidate.bound
  }
  return identityFromLsParams(params, naming)
}

type Params = Record<string, unknown> | undefined
type ModelLike = {
  getLsParams?: (options: Record<string, unknown>) => Record<string, unknown>
  // initChatModel() returns a ConfigurableModel whose own params name no model.
  _getModelInstance?: () => Promise<unknown>
  bound?: unknown
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined
}
