import { defineConfig } from 'vite'
import { svelte } from '@sveltejs/vite-plugin-svelte'

// `npm run dev` proxies the API to a `pier serve` on the default port.
export default defineConfig({
  plugins: [svelte()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 400 },
  server: {
    proxy: { '/api': 'http://127.0.0.1:8092', '/metrics': 'http://127.0.0.1:8092' },
  },
  test: { include: ['src/**/*.test.ts'], environment: 'node' },
})
