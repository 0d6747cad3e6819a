import { copyFileSync, mkdirSync } from 'node:fs';
import { defineConfig } from 'vite';

// The page (index.html) and the operator's page (admin.html); MathJax (SVG output, one self-contained file) is copied beside
// it and loaded on first use. embed.js is a second build (vite.embed.config.ts).
export default defineConfig({
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
