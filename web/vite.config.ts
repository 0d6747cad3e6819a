import { copyFileSync, mkdirSync } from 'node:fs';
import { defineConfig } from 'vite';

// The page; MathJax (SVG output, one self-contained file) is copied beside
// it and loaded on first use. embed.js is a second build (vite.embed.config.ts).
export default defineConfig({
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 1500 },
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
