// The Labs screen in Debian's Chromium against a real `pier serve
// --page-cache-model`: a lab runs from its card to its verdicts, each
// variant side by side (the "without" one shows the failure), the same
// numbers the API reports; a bad lab file gets its line and reason.

import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'

import { getJson, launchChromium, shot, startPier } from './pier.mjs'

let pier
let browser

before(async () => {
  pier = await startPier({ dataDir: mkdtempSync(path.join(os.tmpdir(), 'pier-labs-')), args: ['--page-cache-model'] })
  browser = await launchChromium()
})

after(async () => {
  await browser?.close()
  await pier?.stop()
})

async function runFromScreen(page, name) {
  await page.getByRole('button', { name: `Run ${name}`, exact: true }).click()
  const result = page.getByRole('region', { name: 'Lab run' })
  await result.getByRole('status').filter({ hasText: 'Every variant met its expectations' }).waitFor({ timeout: 60_000 })
  const runs = await getJson(pier.base, '/api/v1/labs/runs')
  return { result, run: runs[0] }
}

test('the persistence lab runs from the Labs screen to its verdicts', async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } })
  const errors = []
  page.on('pageerror', (e) => errors.push(String(e)))
  await page.goto(`${pier.base}/#/labs`)
  await page.getByRole('heading', { name: 'Labs', level: 1 }).waitFor()
  const { result, run } = await runFromScreen(page, 'persistence')
  assert.equal(run.state, 'passed')
  const [off, on] = run.report.variants
  assert.ok(off.counts.lost_after_ack > 0)
  assert.equal(on.counts.lost_after_ack, 0)
  // Each variant's card shows its checks with the numbers the API has.
  const offCard = result.getByRole('region', { name: 'Variant fsync off' })
  await offCard.getByText(`✓ lost after ack > 0 (was ${off.counts.lost_after_ack.toLocaleString()})`).waitFor()
  const onCard = result.getByRole('region', { name: 'Variant fsync on' })
  await onCard.getByText('✓ lost after ack = 0 (was 0)').waitFor()
  // The narrative said when the power went.
  await result.getByRole('list', { name: 'Narrative' }).getByText(/Now we cut the power/).first().waitFor()
  // Beside the narrative, the live charts mark the power cuts.
  await result.getByRole('img', { name: /^Produced over the last \d+ seconds, with \d+ fault events?$/ }).waitFor()
  // The journeys are one click away.
  await offCard.getByRole('link', { name: /Delivery report and journeys for orders-/ }).waitFor()
  await shot(page, 'labs-persistence')
  assert.deepEqual(errors, [])
  await page.close()
})

test('the commit lab shows skipped against repeated records', async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } })
  await page.goto(`${pier.base}/#/labs`)
  const { result, run } = await runFromScreen(page, 'commit')
  const [before, afterCommit] = run.report.variants
  assert.ok(before.counts.never_processed > 0)
  assert.ok(afterCommit.counts.processed_twice > 0)
  const card = result.getByRole('region', { name: 'Variant commit before processing' })
  await card.getByText(`✓ never processed > 0 (was ${before.counts.never_processed})`).waitFor()
  await card.getByText(`never processed: ${before.counts.never_processed}`).click()
  await card.getByText(before.examples.never_processed.slice(0, 3).join(', '), { exact: false }).waitFor()
  await shot(page, 'labs-commit')
  await page.close()
})

test('the monitoring lab charts the lag with its alert, and each consumer', async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } })
  await page.goto(`${pier.base}/#/labs`)
  const { result, run } = await runFromScreen(page, 'monitoring')
  const [alone, scaled] = run.report.variants
  assert.equal(alone.alerts.length, 1)
  await result.getByRole('list', { name: 'Narrative' }).getByText(/ALERT lag fired/).first().waitFor()
  // Each variant draws its lag with the alert shaded, and one line per
  // consumer: the scaled-out variant has the two it started on the alert.
  const card = result.getByRole('region', { name: `Variant ${scaled.name}` })
  await card.getByRole('img', { name: /^Lag over [\d.]+ s, 1 alert fired$/ }).waitFor()
  const legend = card.getByRole('figure', { name: 'Throughput per consumer' })
  for (const name of ['counter-1', 'counter-2', 'counter-3']) await legend.locator('span', { hasText: name }).waitFor()
  await result.getByRole('region', { name: `Variant ${alone.name}` })
    .getByText(`✓ max wait ms > 6000 (was ${alone.counts.max_wait_ms.toLocaleString()})`).waitFor()
  await shot(page, 'labs-monitoring')
  await page.close()
})

test('a bad lab file is refused with its line and reason', async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } })
  await page.goto(`${pier.base}/#/labs`)
  await page.getByText('Run your own lab file').click()
  await page.locator('textarea[name="lab-file"]').fill('name = "x"\ntitle = "x"\nconcept = "x"\ncolour = "blue"\n')
  await page.getByRole('button', { name: 'Run this lab' }).click()
  const alert = page.getByRole('alert').filter({ hasText: 'lab.toml:4:1' })
  await alert.waitFor()
  assert.match(await alert.textContent(), /unknown field `colour`/)
  await page.close()
})
