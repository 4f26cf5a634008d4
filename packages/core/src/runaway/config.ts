// Per-agent runaway settings (placeholder until the detectors land: every field optional,
// unknown fields refused).
import { z } from 'zod'

export const runawayConfigSchema = z.object({ enforce: z.boolean().optional() }).strict()

/** Per-agent runaway settings; every field optional, safe defaults apply. */
export type RunawayConfig = z.infer<typeof runawayConfigSchema>
