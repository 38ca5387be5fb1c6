// Not a test (`node --test e2e/` does not pick it up): runs every built-in
// lab from the Labs screen in Debian's Chromium against a real `pier serve
// --page-cache-model`, and saves the result of each (the narrative, the
// charts and the variants side by side) as docs/screenshots/labs-<name>.png.
// Prints each lab's state; exits non-zero if one did not pass.
//
//   cd ui && npm run build && PIER_BIN=../target/debug/pier node e2e/lab-screenshots.mjs [NAME…]

import { mkdirSync, mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

import { getJson, launchChromium, startPier } from './pier.mjs'

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const out = path.join(repo, 'docs/screenshots')
mkdirSync(out, { recursive: true })

const pier = await startPier({ dataDir: mkdtempSync(path.join(os.tmpdir(), 'pier-lab-shots-')), args: ['--page-cache-model'] })
const browser = await launchChromium()
let failed = 0
try {
  const wanted = process.argv.slice(2)
  const labs = (await getJson(pier.base, '/api/v1/labs')).filter((l) => !wanted.length || wanted.includes(l.name))
  for (const lab of labs) {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } })
    await page.goto(`${pier.base}/#/labs`)
    await page.getByRole('button', { name: `Run ${lab.name}`, exact: true }).click()
    const result = page.getByRole('region', { name: 'Lab run' })
    await result.getByRole('button', { name: 'Run again' }).waitFor({ timeout: 120_000 })
    const [run] = await getJson(pier.base, '/api/v1/labs/runs')
    const file = path.join(out, `labs-${lab.name}.png`)
    await result.screenshot({ path: file })
    console.log(`${lab.name}: ${run.state} → ${path.relative(repo, file)}`)
    if (run.state !== 'passed') failed++
    await page.close()
  }
} finally {
  await browser.close()
  await pier.stop()
}
process.exit(failed ? 1 : 0)
