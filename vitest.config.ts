import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

// Tests import the workspace packages from source, so a test run needs no build. Child
// processes started by multi-process tests use the built packages (`npm test` builds first).
const src = (name: string) =>
  fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url))
const alias = {
  '@killswitch/core/conformance': fileURLToPath(
    new URL('./packages/core/src/conformance.ts', import.meta.url),
  ),
  '@killswitch/core': src('core'),
  '@killswitch/vercel-ai': src('vercel-ai'),
  '@killswitch/langchain': src('langchain'),
  '@killswitch/mastra': src('mastra'),
  '@killswitch/redis': src('redis'),
  '@killswitch/x402': src('x402'),
  '@killswitch/gateway': src('gateway'),
}

const project = (name: string, root: string, extra: object = {}) => ({
  extends: true as const,
  test: { name, root, include: ['**/*.test.ts'], ...extra },
})

export default defineConfig({
  resolve: { alias },
  test: {
    testTimeout: 20_000,
    hookTimeout: 30_000,
    projects: [
      project('core', 'packages/core'),
      project('vercel-ai', 'packages/vercel-ai'),
      project('langchain', 'packages/langchain'),
      project('mastra', 'packages/mastra'),
      project('redis', 'packages/redis'),
      project('cli', 'packages/cli'),
      project('x402', 'packages/x402'),
      project('gateway', 'packages/gateway'),
      project('examples', 'examples'),
      project('scripts', 'scripts'),
      project('bench', 'bench'),
    ],
  },
})
