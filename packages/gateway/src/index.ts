// @killswitch/gateway: an OpenAI- and Anthropic-compatible gateway. Agents hold only their
// kill switch credential; the gateway holds the provider keys.
export type { ApiFamily, GatewayError } from './api-errors.js'
export { createGateway, type GatewayOptions } from './create-gateway.js'
export type { ProviderConfig } from './providers.js'
export {
  type ProvidersFile,
  parseProvidersFile,
  readProvidersFile,
} from './providers-file.js'
export {
  type RunningGateway,
  type StartGatewayOptions,
  startGateway,
} from './start-gateway.js'
export type { X402Options } from './x402-route.js'
