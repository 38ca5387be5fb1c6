// Shared by the browser tests and benchmarks: a real `pier serve` on free
// ports and Debian's Chromium (playwright-core). Not a test file itself
// (node --test only picks up *.test.mjs and the like).

import { spawn } from 'node:child_process'
import { copyFileSync, mkdirSync } from 'node:fs'
import path from 'node:path'
import readline from 'node:readline'
import { fileURLToPath } from 'node:url'

import { chromium } from 'playwright-core'

const here = path.dirname(fileURLToPath(import.meta.url))
export const repo = path.resolve(here, '../..')
export const bin = path.resolve(repo, process.env.PIER_BIN ?? 'target/debug/pier')
export const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium'
export const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run']

/** Starts `pier serve` (in memory, or on `dataDir`) on free ports. */
export async function startPier({ dataDir, args = [] } = {}) {
  const storage = dataDir ? ['--data-dir', dataDir] : ['--in-memory']
  const proc = spawn(bin, ['serve', ...storage, '--kafka', '127.0.0.1:0', '--http', '127.0.0.1:0', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const line = await new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: proc.stdout })
    rl.once('line', resolve)
    proc.once('exit', (code) => reject(new Error(`pier exited with ${code}`)))
    setTimeout(() => reject(new Error('no ready line from pier')), 20_000)
  })
  const http = /http=(\S+)/.exec(line)
  const kafka = /kafka=(\S+)/.exec(line)
  if (!http || !kafka) throw new Error(`unexpected ready line: ${line}`)
  const base = `http://${http[1]}`
  const stop = () =>
    new Promise((resolve) => {
      if (proc.exitCode !== null) return resolve()
      proc.once('exit', resolve)
      proc.kill('SIGTERM')
    })
  return { proc, base, kafka: kafka[1], stop }
}

export function launchChromium() {
  return chromium.launch({ executablePath: chromiumPath, args: chromiumArgs })
}

/** POST JSON to the API; throws unless the answer is 2xx. */
export async function post(base, p, body) {
  const r = await fetch(`${base}${p}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  })
  if (!r.ok) throw new Error(`POST ${p}: ${r.status} ${await r.text()}`)
  return r.status === 204 ? null : r.json()
}

/** GET JSON from the API; throws unless the answer is 200. */
export async function getJson(base, p) {
  const r = await fetch(`${base}${p}`)
  if (r.status !== 200) throw new Error(`GET ${p}: ${r.status} ${await r.text()}`)
  return r.json()
}

/**
 * A full-page screenshot to e2e/.out/NAME.png, and to docs/screenshots/
 * with PIER_UPDATE_SCREENSHOTS=1.
 */
export async function shot(page, name) {
  const out = path.join(here, '.out')
  mkdirSync(out, { recursive: true })
  const file = path.join(out, `${name}.png`)
  await page.screenshot({ path: file, fullPage: true })
  if (process.env.PIER_UPDATE_SCREENSHOTS) {
    const shots = path.join(repo, 'docs/screenshots')
    mkdirSync(shots, { recursive: true })
    copyFileSync(file, path.join(shots, `${name}.png`))
  }
}
