// Which model a call goes to, for pricing: its LangSmith params (`getLsParams()`, also the
// run metadata callbacks see). Fakes and some wrappers report no name: the options' `model`
// names it, and an explicit name always wins.
import { type AdapterSetup, InvalidConfigError } from '@killswitch/core'

type Params = Record<string, unknown> | undefined
type ModelLike = { getLsParams?: (options: object) => Params; bound?: ModelLike }
const named = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined)

/** The model, provider and own max output tokens; InvalidConfigError when nothing names it. */
export function identityFromLsParams(params: Params, naming: AdapterSetup['naming']) {
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
 * The model a call really goes to: `initChatModel()`'s configurable model (also createAgent's
 * model given by name) resolves, for the run's `configurable`, to a provider model, which is
 * then priced, clamped and counted as any other. Any other model is itself.
 */
export async function resolveModel<T>(model: T, configurable?: object): Promise<T> {
  return isConfigurableModel(model) ? model._getModelInstance({ configurable }) : model
}

/** `initChatModel()`'s configurable model: it builds a provider model for each call. */
export function isConfigurableModel<T>(
  model: T,
): model is T & { _getModelInstance(config: object): Promise<T> } {
  return typeof (model as { _getModelInstance?: unknown } | null)?._getModelInstance === 'function'
}

/** The identity of a chat model, or of a RunnableBinding around one (`.bound`). */
export async function modelIdentity(model: unknown, naming: AdapterSetup['naming']) {
  let current = model as ModelLike | null
  for (let depth = 0; depth < 5 && current && typeof current.getLsParams !== 'function'; depth++) {
    current = current.bound ?? null
  }
  return identityFromLsParams(current?.getLsParams?.({}), naming)
}
