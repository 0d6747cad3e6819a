import { defineConfig } from 'vite';

// /embed.js: one classic script (no modules, no chunks) that other sites include.
export default defineConfig({
  define: { 'process.env.NODE_ENV': '"production"' },
  build: {
    outDir: 'dist',
    emptyOutDir: false,
    sourcemap: false,
    lib: { entry: 'src/embed.ts', name: 'salvusEmbed', formats: ['iife'], fileName: () => 'embed.js' },
  },
});
