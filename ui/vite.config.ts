import { defineConfig } from 'vite'
import { svelte } from '@sveltejs/vite-plugin-svelte'

// `npm run dev` proxies the API to a `pier serve` on the default port. The
// proxy drops the dev page's Origin (localhost:5173): Pier refuses
// state-changing requests from any origin but its own.
const toPier = {
  target: 'http://127.0.0.1:8092',
  configure: (proxy: { on: (event: 'proxyReq', f: (req: { removeHeader: (name: string) => void }) => void) => void }) =>
    proxy.on('proxyReq', (req) => req.removeHeader('origin')),
}
export default defineConfig({
  plugins: [svelte()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 400 },
  server: {
    proxy: { '/api': toPier, '/metrics': toPier },
  },
  test: { include: ['src/**/*.test.ts'], environment: 'node' },
})
