// Validation of every public input, at the boundary, with zod. A failure becomes an
// InvalidConfigError whose message names the field, what was given and what is allowed.
import { z } from 'zod'
import { webhookUrlSchema } from './alerts/webhook-url.js'
import { InvalidConfigError } from './errors.js'
import { isTimeZone, WINDOW_PERS, type WindowPer } from './ledger/windows.js'
import { MAX_CAP_USD } from './money.js'
import { containsCredential, redactSecrets } from './redact.js'
import { runawayConfigSchema } from './runaway/config.js'

const HANDLE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

/**
 * Who acted, as the audit log records it (an approval's decider, a revoker): a short name
 * ("alice", "cli:alice", "console"). It is kept and shown as given, so it may hold no secret
 * (red team rt27: a live credential passed as `by` was stored whole and served by two
 * routes), no control or invisible character, and not the name the engine signs its own
 * revocations with.
 */
export const actorSchema = z
  .string()
  .min(1)
  .max(200)
  .refine((value) => !/[\p{Cc}\p{Cf}\u2028\u2029]/u.test(value), {
    message: 'a name without control or invisible characters (e.g. "alice")',
  })
  .refine((value) => redactSecrets(value) === value, {
    message:
      'it looks like a credential or a secret key: give the name of who acted (e.g. "alice"), never a secret',
  })
  .refine((value) => value.trim().toLowerCase() !== 'runaway', {
    message:
      '"runaway" is the name of the kill switch\'s own detectors: give the name of who acted',
  })

export const handleSchema = z
  .string({ error: 'a string is required' })
  .regex(
    HANDLE_PATTERN,
    '1 to 64 characters: letters, digits, ".", "_" and "-", starting with a letter or digit (e.g. "researcher-agent-7")',
  )
  // A handle starting like a credential is a credential pasted in the wrong place: refusing
  // it keeps credentials out of handles, and so out of every list, log and audit entry.
  .refine(
    (value) => !value.startsWith('ks_'),
    // Unquoted: the message hides quoted text shaped like a credential, and this is the prefix.
    "must not start with ks_, the prefix of an agent credential; give the agent's handle",
  )
  // A whole credential glued to other text is one too: it would be shown in every list.
  .refine(
    (value) => !containsCredential(value),
    "must not contain an agent credential (ks_ and 43 characters, or those 43 characters alone, in mixed case); give the agent's handle",
  )

export const spendingCapSchema = z
  .number({ error: 'a finite number of dollars is required (e.g. spendingCap: 50)' })
  .refine((value) => Number.isFinite(value), 'a finite number of dollars is required')
  .refine((value) => value >= 0, 'a cap cannot be negative (0 denies everything)')
  .refine(
    (value) => value <= MAX_CAP_USD,
    `a cap above $${MAX_CAP_USD.toLocaleString('en-US')} is refused as a likely typo`,
  )
  // The ledger counts whole micro-dollars: $1e-9 would silently become a $0 cap (deny all).
  .refine(
    (value) => value === 0 || value >= 0.000001,
    'below $0.000001 it would be a cap of $0, as the ledger counts micro-dollars: give at least 0.000001, or 0 to deny everything',
  )

const thresholdSchema = z
  .number({ error: 'a fraction of the cap is required (e.g. 0.8 for 80%)' })
  .gt(0, 'must be above 0 (a fraction of the cap, e.g. 0.8)')
  .lte(1, 'must be at most 1 (a fraction of the cap, e.g. 0.8; not a percentage like 80)')

const ALERT_RULE_EXAMPLE =
  "{ thresholdPct: 0.8, webhookUrl: 'https://hooks.example.com/killswitch' }"

export const alertRuleSchema = z
  .object(
    {
      thresholdPct: thresholdSchema,
      webhookUrl: webhookUrlSchema,
      secret: z.string().min(16, 'a signing secret of at least 16 characters').optional(),
      format: z.enum(['json', 'slack', 'pagerduty']).optional(),
      routingKey: z.string().min(1).max(128).optional(),
    },
    {
      error: (issue) =>
        issue.code === 'invalid_type' ? `an alert rule such as ${ALERT_RULE_EXAMPLE}` : undefined,
    },
  )
  .strict()
  .refine((rule) => rule.format !== 'pagerduty' || rule.routingKey !== undefined, {
    path: ['routingKey'],
    error: "a PagerDuty routing key is required with format 'pagerduty'",
  })
  // Only a PagerDuty payload carries it: with another format nobody would be paged.
  .refine((rule) => rule.routingKey === undefined || rule.format === 'pagerduty', {
    path: ['routingKey'],
    error: "a routing key is used only with format 'pagerduty': add it, or leave the key out",
  })

/** Shared budgets by id, each once: a budget named twice is a typo, not twice the draw. */
const budgetIdsSchema = z
  .array(handleSchema)
  .refine((ids) => new Set(ids).size === ids.length, { error: 'each budget id once' })

export const limitSchema = z
  .object({
    amount: spendingCapSchema,
    per: z.enum(WINDOW_PERS as [WindowPer, ...WindowPer[]], {
      error: `one of ${WINDOW_PERS.join(', ')}`,
    }),
  })
  .strict()

/** At most one limit per window: two `day` limits would be one limit said twice. */
export const limitsSchema = z
  .array(limitSchema)
  .max(WINDOW_PERS.length)
  .refine(
    (limits) => new Set(limits.map((limit) => limit.per)).size === limits.length,
    'one limit per window (e.g. one "day" limit)',
  )

export const timeZoneSchema = z
  .string()
  .refine(isTimeZone, 'an IANA time zone such as "Europe/Paris" or "UTC"')

export const approvalPolicySchema = z
  .object({
    enabled: z.boolean({ error: 'true or false' }),
    waitMs: z
      .number({ error: 'milliseconds to wait for a decision (0 fails at once)' })
      .int('whole milliseconds')
      .min(0, 'at least 0 (0 fails at once with ApprovalRequiredError)')
      .max(3_600_000, 'at most one hour: a longer pause belongs to the framework (waitMs: 0)')
      .optional()
      .default(120_000),
  })
  .strict()

/** Payee allowlist and per-spend maximum (spend-rules.ts). */
export const spendRulesSchema = z
  .object({
    allowedPayees: z
      .array(z.string().min(1, 'a payee address').max(256, 'at most 256 characters'), {
        error: 'a list of payee addresses',
      })
      .max(1_000, 'at most 1,000 payees')
      .optional(),
    maxSpendUsd: z
      .number({ error: 'a number of dollars' })
      .refine(Number.isFinite, 'a finite number of dollars')
      .min(0, 'at least 0')
      .max(1e9, 'at most 1e9 dollars')
      .optional(),
  })
  .strict()

export const createAgentSchema = z
  .object({
    handle: handleSchema,
    spendingCap: spendingCapSchema,
    currency: z.literal('usd', { error: 'only "usd" is supported' }).optional().default('usd'),
    runaway: runawayConfigSchema.optional(),
    alerts: z
      .array(alertRuleSchema, { error: `a list of alert rules such as [${ALERT_RULE_EXAMPLE}]` })
      .optional(),
    limits: limitsSchema.optional(),
    budgets: budgetIdsSchema.optional(),
    approvals: approvalPolicySchema.optional(),
    spendRules: spendRulesSchema.optional(),
  })
  .strict()

export const updateAgentSchema = z
  .object({
    spendingCap: spendingCapSchema.optional(),
    runaway: runawayConfigSchema.optional(),
    limits: limitsSchema.optional(),
    budgets: budgetIdsSchema.optional(),
    approvals: approvalPolicySchema.optional(),
    /** Replaces the agent's spend rules; `{}` removes them. */
    spendRules: spendRulesSchema.optional(),
  })
  .strict()

export const revokeSchema = z
  .object({ reason: z.string().min(1, 'say why (it goes in the audit log)').max(500) })
  .strict()

/** Parses `value` with `schema`, or throws InvalidConfigError naming the first bad field. */
export function parseInput<Schema extends z.ZodType>(
  schema: Schema,
  value: unknown,
  what: string,
  /** The field a value that is not an object stands for (default: `what`). */
  name: string = what,
  /** The caller's own names for top-level fields (an adapter's option for a core rule). */
  renamed: Readonly<Record<string, string | undefined>> = {},
): z.output<Schema> {
  const result = schema.safeParse(value)
  if (result.success) return result.data
  const issue = result.error.issues[0]
  // An unknown key is the field to name (rt40: `{ limit: [...] }` named the method).
  const unknown = issue?.code === 'unrecognized_keys' ? issue.keys.slice(0, 1) : []
  const path = [...(issue?.path ?? []), ...unknown]
  // A key is the caller's too (a record's): one shaped like a secret is not shown either.
  const keys = path.map((key) => (carriesSecret(key) ? '(key not shown)' : String(key)))
  const [first = '', ...rest] = keys
  const own = Object.hasOwn(renamed, first) ? renamed[first] : undefined
  const field = path.length ? [own ?? first, ...rest].join('.') : name
  let message = issue?.message ?? 'invalid'
  if (issue?.code === 'unrecognized_keys') {
    const keys = issue.keys.map((key) => `"${key}"`).join(', ')
    // Keep a schema's own message when it says more (the allowed fields, say).
    const own = issue.message.startsWith('Unrecognized key') ? '' : `: ${issue.message}`
    message = `unknown option${issue.keys.length > 1 ? 's' : ''} ${keys}${own}`
  }
  const given = path.length ? valueAt(value, path) : value
  const shown = carriesSecret(given) ? describeSecret(given, true) : describeAt(what, path, given)
  throw new InvalidConfigError(
    field,
    `Invalid ${field} in ${what}: ${hideSecrets(message)}${given === undefined ? '' : ` (got ${shown})`}.`,
  )
}

function valueAt(value: unknown, path: PropertyKey[]): unknown {
  let current = value
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined
    current = (current as Record<PropertyKey, unknown>)[key]
  }
  return current
}

// Fields whose value is a secret or carries one (a Slack webhook URL is its own secret): an
// error names their kind and length, never the value, which would land in stderr and CI logs.
const SECRET_FIELD = /secret|token|password|credential|routingkey|webhook|url$|key$/i
// Anywhere in an alert rule, a string is never shown either: a URL or a secret given in the
// wrong shape or the wrong field (`alerts: 'https://hooks.slack.com/...'`, `format: <key>`).
const ALERT_PLACE = /alert/i

const named = (pattern: RegExp, what: string, path: readonly PropertyKey[]) =>
  pattern.test(what) || path.some((key) => typeof key === 'string' && pattern.test(key))

function describeAt(what: string, path: readonly PropertyKey[], value: unknown): string {
  if (named(SECRET_FIELD, what, path)) return describeSecret(value, true)
  if (named(ALERT_PLACE, what, path)) return describeSecret(value, false)
  return describe(value)
}

// A URL (it may carry its receiver's secret), a signing secret, a credential or anything
// else shaped like a key: never echoed, whatever field it was given in.
const URL_LIKE = /[a-z][a-z0-9+.-]*:\/\/|\bwww\./i
const SECRET_LIKE = /whsec_|\b(?:sk|pk|rk|ks|xox[a-z]|gh[opsu]|AKIA)[-_]/i

function carriesSecret(value: unknown): boolean {
  return (
    typeof value === 'string' &&
    (URL_LIKE.test(value) || SECRET_LIKE.test(value) || redactSecrets(value) !== value)
  )
}

// A message that quotes what was given (an unknown key named like a URL) hides it as well.
function hideSecrets(message: string): string {
  return message.replace(/"([^"]*)"/g, (quoted, inner: string) =>
    carriesSecret(inner) ? `"(${inner.length} characters, not shown)"` : quoted,
  )
}

/** Kind and length only; a number too when `strict` (a secret typed as a number). */
function describeSecret(value: unknown, strict: boolean): string {
  if (typeof value === 'string') {
    const kind = URL_LIKE.test(value) ? ' (a URL)' : ''
    return `a string of ${value.length} characters${kind}, not shown`
  }
  if (strict && (typeof value === 'number' || typeof value === 'bigint')) {
    return `a ${typeof value}, not shown`
  }
  return describe(value)
}

function describe(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}...` : value)
  if (typeof value === 'number' || typeof value === 'boolean' || value === null)
    return String(value)
  if (Array.isArray(value)) return `a list of ${value.length}`
  return typeof value
}
