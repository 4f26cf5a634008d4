import { defineConfig } from 'tsdown'

export default defineConfig({
  entry: ['src/index.ts'],
  format: 'esm',
  platform: 'node',
  target: 'node22',
  dts: true,
  sourcemap: true,
  clean: true,
  // Plain .js and .d.ts: the packages are ESM-only ("type": "module").
  fixedExtension: false,
  // The x402 SDK is the host framework: the user's own copy must be used (the hooks go on
  // their x402Client), never a bundled one. @x402/evm supplies the default asset table.
  deps: { neverBundle: [/^@x402\//] },
})
