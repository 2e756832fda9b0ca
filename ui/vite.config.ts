/**
 * The web UI's build: ui/ (Preact, TypeScript) into dist/ui/, which `moxing serve` serves at `/`. Hashed file
 * names under assets/, no inline scripts or styles (the server's CSP allows only its own files), no source maps
 * in the package.
 */
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  publicDir: false,
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: '../dist/ui',
    emptyOutDir: true,
    assetsDir: 'assets',
    // Everything as a file of its own: a data: URL or an inline script would need a looser CSP.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: 'es2022',
    reportCompressedSize: false,
  },
});
