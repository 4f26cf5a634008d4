import { defineConfig } from 'tsdown'

export default defineConfig({
  entry: ['src/index.ts', 'src/bin.ts'],
  format: 'esm',
  platform: 'node',
  target: 'node22',
  dts: true,
  sourcemap: true,
  clean: true,
  // Plain .js and .d.ts: the packages are ESM-only ("type": "module").
  fixedExtension: false,
  // The console's page, script and style ship as plain files (no build step for users).
  copy: [{ from: 'src/console/assets/*', to: 'dist/console', flatten: true }],
})
