// Which model a call goes to, for pricing. Real chat models report it in their LangSmith
// params (`getLsParams()`: `ls_model_name`, `ls_provider`, `ls_max_tokens`), which LangChain
// also hands to callbacks as run metadata. Fakes and some wrappers report no name, so the
// options can name the model; an explicit name always wins.
import { type AdapterSetup, InvalidConfigError } from '@killswitch/core'

/** The model and provider to price calls as, from the options (`{ model, provider }`). */
export type ModelNaming = AdapterSetup['naming']

/** What the guard needs to know about the model of a call. */
export interface ModelIdentity {
  model: string
  provider?: string
  /** The model's own max output tokens, when configured: the guard only ever lowers it. */
  maxOutputTokens?: number
}

type Params = Record<string, unknown> | undefined
const named = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined)

/**
 * Reads the identity from LangSmith params. Throws InvalidConfigError (field `model`) when
 * no name is known: a call whose price cannot be found must not run.
 *
 * @example
 * identityFromLsParams({ ls_model_name: 'gpt-4o-mini', ls_provider: 'openai' }, {})
 */
export function identityFromLsParams(params: Params, naming: ModelNaming): ModelIdentity {
  const model = naming.model ?? named(params?.ls_model_name)
  if (model === undefined) {
    throw new InvalidConfigError(
      'model',
      `The model (${named(params?.ls_provider) ?? 'this model'}) does not report its name (no ls_model_name), so the kill switch cannot price its calls and refuses them. ` +
        `Fix: name it in the options, e.g. { model: 'gpt-4o-mini', provider: 'openai' }, and give its price in createKillSwitch({ prices }) if it is not a known model.`,
    )
  }
  // The reported provider describes the reported model only (a fake's is its class name).
  const provider = naming.provider ?? (naming.model ? undefined : named(params?.ls_provider))
  const max = params?.ls_max_tokens
  const limited = typeof max === 'number' && Number.isSafeInteger(max) && max > 0
  return { model, provider, maxOutputTokens: limited ? max : undefined }
}

/**
 * Reads the identity of a chat model: a model, a RunnableBinding around one (`.bound`), or
 * `initChatModel()`'s configurable model (resolved first: its own params name no model).
 *
 * @example
 * const identity = await modelIdentity(new ChatOpenAI({ model: 'gpt-4o-mini' }), {})
 */
export async function modelIdentity(model: unknown, naming: ModelNaming): Promise<ModelIdentity> {
  let current = model as ModelLike | null | undefined
  for (let depth = 0; depth < 5 && current && typeof current.getLsParams !== 'function'; depth++) {
    current = current._getModelInstance ? await current._getModelInstance() : current.bound
  }
  return identityFromLsParams(current?.getLsParams?.({}), naming)
}

type ModelLike = {
  getLsParams?: (options: Record<string, unknown>) => Record<string, unknown>
  _getModelInstance?: () => Promise<ModelLike>
  bound?: ModelLike
}
