// @killswitch/core: the kill switch policy engine. Exports are listed by name, in groups.

// The guard: the seam adapters use
export {
  type AdapterOptionNames,
  type AdapterOptions,
  type AdapterSetup,
  adapterSetup,
  type GuardSource,
  refuseUnknownKeys,
} from './adapter-options.js'
// Agents
export type { AgentSnapshot } from './agent-snapshot.js'
export type {
  AgentsApi,
  CreateAgentInput,
  ProvisionedAgent,
  RevokedAgent,
  RevokeOptions,
  UpdateAgentInput,
} from './agents.js'
// Alerts
export type { AlertDispatcher } from './alerting.js'
export {
  type AlertEvent,
  type AlertEventInput,
  type AlertEventType,
  createAlertEvent,
} from './alerts/alert-event.js'
export {
  ALERT_FORMATS,
  type AlertFormat,
  alertSummary,
  formatAlertBody,
} from './alerts/alert-format.js'
export {
  type GeneratedWebhookSecret,
  generateWebhookSecret,
  type KillSwitchAgentsApi,
  type WithGeneratedSecrets,
} from './alerts/alert-rule-guard.js'
export {
  APPROVAL_LINK_PATH,
  type ApprovalLinkAction,
  type ApprovalLinkCheck,
  type ApprovalLinksOptions,
  approvalLinkUrl,
  checkApprovalLinkSecret,
  DEFAULT_APPROVAL_LINK_GRANT_TTL_MS,
  verifyApprovalLink,
} from './alerts/approval-link.js'
export {
  createWebhookDispatcher,
  type WebhookDispatcher,
  type WebhookDispatcherOptions,
  type WebhookOutcome,
  type WebhookRetry,
  type WebhookTarget,
} from './alerts/webhook-dispatcher.js'
export {
  DEFAULT_SIGNATURE_TOLERANCE_SEC,
  signWebhookPayload,
  type VerifyWebhookSignatureOptions,
  verifyWebhookSignature,
  WEBHOOK_SIGNATURE_HEADER,
} from './alerts/webhook-signature.js'
export {
  type AllowPrivateWebhooks,
  isForbiddenAddress,
  REFUSED_TARGET_REASON,
} from './alerts/webhook-target-policy.js'
export type { ResolvedAddress, ResolveHost } from './alerts/webhook-transport.js'
export {
  maskWebhookUrl,
  redactWebhookUrl,
  validateWebhookUrl,
  webhookUrlSchema,
} from './alerts/webhook-url.js'
// Approvals past the cap
export type { ApprovalSnapshot, ApprovalsApi } from './approvals.js'
export { GRANT_TTL_BOUNDS_MS } from './approvals.js'
// Audit
export { type AuditEntry, type AuditEntryType, auditToJsonLines } from './audit.js'
export { auditCharge } from './audit-charge.js'
// Budgets at every level
export type { Limit, LimitUsage } from './budget-limits.js'
export type { BudgetSnapshot, BudgetsApi, CreateBudgetInput } from './budgets.js'
export {
  type CallEnd,
  costOfEnding,
  type EndingCost,
  type ToolOutcome,
  toolEndingAction,
} from './call-ending.js'
export {
  CREDENTIAL_HEADER,
  CREDENTIAL_PREFIX,
  credentialFromHeaders,
  isWellFormedCredential,
} from './credentials.js'
// Errors
export { ErrorReports } from './error-reports.js'
export {
  AgentExistsError,
  AgentNotFoundError,
  AgentRevokedError,
  ApprovalDeniedError,
  ApprovalNotFoundError,
  ApprovalRequiredError,
  BudgetNotFoundError,
  ConcurrentUpdateError,
  findKillSwitchError,
  InvalidConfigError,
  KillSwitchError,
  type KillSwitchErrorCode,
  RevocationUnreplicatedError,
  RunawayDetectedError,
  SpendingCapExceededError,
  SpendRefusedError,
  StoreUnavailableError,
  UnknownModelPriceError,
} from './errors.js'
// Events
export type {
  ApprovalEvent,
  KillSwitchEventName,
  KillSwitchEvents,
  Listener,
} from './events.js'
// Money
export { formatUsd, spentPercent } from './format-usd.js'
export type {
  AgentGuard,
  BudgetScope,
  GuardOptions,
  ModelCallFailure,
  ModelCallRequest,
  ModelCallResult,
  ModelCallTicket,
  OutputDelta,
  Settlement,
  SpendRequest,
  SpendSettle,
  SpendTicket,
  TokenUsage,
  ToolCallRequest,
  ToolCallTicket,
  ToolOutcomeOf,
} from './guard-types.js'
// Entry point
export {
  createKillSwitch,
  type KillSwitch,
  type KillSwitchOptions,
  type VerifyResult,
} from './kill-switch.js'
// How long an unreconciled charge stays open to a reconcile before it is written off.
export { sameCreation, UNRECONCILED_RETENTION_MS } from './ledger/ledger.js'
// Budget windows (the Redis store's Lua is told them: it has no time zone data)
export { type WindowPer, windowEnd, windowStart } from './ledger/windows.js'
// The guarded-call lifecycle, one for every adapter
export type { FailOptions, ModelCall, ModelCallStart, ProviderLimits } from './model-call.js'
export { type ModelStreamOptions, type StreamEvent, watchModelStream } from './model-stream.js'
export { MAX_CAP_USD, MICROS_PER_USD, mulDivCeil, toMicros, toUsd } from './money.js'
// Signed payments (x402): money once signed, charged at what the payee can collect
export { atomicToMicros, parseAtomic } from './payments/atomic-amount.js'
export {
  confirmPaymentSend,
  holdPayment,
  paymentRefusal,
  releaseUnsentPayments,
  settleSentPayment,
} from './payments/payment-holds.js'
export { PaymentOutcomeUnknownError } from './payments/payment-outcome-unknown-error.js'
export { PaymentRefusedError, type PaymentRule } from './payments/payment-refused-error.js'
export {
  type PaymentAmount,
  type PaymentPrice,
  paymentPrice,
  paymentTermsRule,
} from './payments/payment-terms.js'
export {
  MAX_VALIDITY_SECONDS,
  type PaymentOutcome,
  type ProvenAmount,
  paymentCharge,
  provenAmount,
  type SentPayment,
  signedValidity,
} from './payments/signed-payment.js'
export type { AgentPolicy, AlertRule } from './policy.js'
export {
  type BilledApartOption,
  billedApartIn,
  billedApartOption,
  isSearchModel,
} from './pricing/billed-apart.js'
export { choiceShare } from './pricing/choice-share.js'
// Pricing
export {
  affordableOutputTokens,
  costBound,
  costOfUsage,
  DEFAULT_CONTEXT_WINDOW,
  estimateOutputTokens,
  inputTokenBound,
} from './pricing/cost.js'
export type { ModelRates, Rate } from './pricing/model-rates.js'
export { conservativeTokens, UNKNOWN_TOKENIZER_HEADROOM } from './pricing/output-count.js'
export { type OutputLimit, type OutputLimitParams, outputLimit } from './pricing/output-limit.js'
export {
  createPriceSource,
  type ModelPrice,
  type PriceSource,
  splitModelId,
} from './pricing/price-source.js'
export { withProviderUsage } from './pricing/provider-usage.js'
export {
  clampWireOutputLimit,
  largestCount,
  requestedOutputTokensIn,
  thinkingBelow,
  wireOutputLimit,
} from './pricing/wire-output-limit.js'
export { providerStatusOf } from './provider-status.js'
export type { ReconcileInput, ReconcileResult } from './reconcile.js'
// Redaction: nothing shaped like a credential is ever echoed
export {
  containsCredential,
  REDACTED_CREDENTIAL,
  redactCredentials,
  redactSecrets,
} from './redact.js'
export { checkRequestCredential, type RequestCheck } from './request-credential.js'
export { BUDGET_SCOPE_KEY, mergeBudgetScope, pickBudgetScope } from './reserve-scope.js'
export { revocationError } from './revocation-error.js'
// Runaway detection
export { canonicalHash, canonicalJson } from './runaway/canonical-hash.js'
export { RUNAWAY_ACTIONS, type RunawayConfig, runawayConfigSchema } from './runaway/config.js'
export {
  createRunawayMonitor,
  type RunawayMonitorOptions,
} from './runaway/create-runaway-monitor.js'
export { resolveRunawayConfig } from './runaway/resolve-runaway-config.js'
export { DEFAULT_RUNAWAY_CONFIG, type ResolvedRunawayConfig } from './runaway/runaway-defaults.js'
export type {
  DetectorFinding,
  Observation,
  RunawayAction,
  RunawayMonitor,
  RunawayVerdict,
} from './runaway/types.js'
export { shownUrl } from './shown-url.js'
export {
  checkSpendRules,
  parseSpendRules,
  type SpendRuleNames,
  type SpendRules,
  samePayee,
} from './spend-rules.js'
// Stores
export type {
  ActivityEvent,
  AgentRecord,
  NewAgentRecord,
  ReleaseRequest,
  ReleaseResult,
  ReserveRequest,
  ReserveResult,
  SettleRequest,
  SettleResult,
  Store,
  StoreEvent,
} from './store.js'
export { type MemoryStoreOptions, memoryStore } from './stores/memory-store.js'
export { sqliteStoreFiles } from './stores/sqlite-files.js'
export { type SqliteStoreOptions, sqliteStore } from './stores/sqlite-store.js'
export { StreamAbandonedError } from './stream-abandoned-error.js'
export { takeEntry } from './take-entry.js'
// OpenTelemetry (`@opentelemetry/api` is an optional peer: nothing happens without it)
export {
  type InstrumentKillSwitchOptions,
  instrumentKillSwitch,
  type KillSwitchInstrumentation,
} from './telemetry/instrument-kill-switch.js'
export type { MeterProviderLike, TracerProviderLike } from './telemetry/otel-types.js'
// Paid tools
export { parseToolPrices, type ToolPrices } from './tool-prices.js'
export { runToolCallStream } from './tool-stream.js'
// Text from outside (a payee's, a remote service's), bounded and printable
export { boundedText, quotedValue, shownText, TEXT_MAX } from './untrusted-text.js'
export { verifyRefusal } from './verify-refusal.js'
