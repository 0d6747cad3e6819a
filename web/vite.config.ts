import { copyFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The page (index.html) and the operator's page (admin.html); MathJax (SVG output, one self-contained file) is copied beside
// it and loaded on first use. embed.js is a second build (vite.embed.config.ts).
export default defineConfig({
  // libsodium-wrappers' ESM build names a file its package lacks: its
  // CommonJS build instead (it is loaded on first use: account.ts).
  resolve: {
    alias: {
      'libsodium-wrappers': fileURLToPath(
        new URL('node_modules/libsodium-wrappers/dist/modules/libsodium-wrappers.js', import.meta.url)),
    },
  },
  build: {
    outDir: 'dist', emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 1500,
    rollupOptions: { input: { main: 'index.html', admin: 'admin.html' } },
  },
  plugins: [
    {
      name: 'copy-mathjax',
      closeBundle() {
        mkdirSync('dist/mathjax', { recursive: true });
        copyFileSync('node_modules/mathjax/es5/tex-svg.js', 'dist/mathjax/tex-svg.js');
      },
    },
  ],
});
