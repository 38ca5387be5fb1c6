// The delivery report in Debian's Chromium against a real `pier serve`:
// a power cut with fsync off and a consumer that let its leases run out
// are judged, record by record, the same way the API judges them, and a
// lost record's journey says what happened to it.

import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'

import { getJson as pierGetJson, launchChromium, post, shot, startPier } from './pier.mjs'

let pier
let browser

before(async () => {
  pier = await startPier({ dataDir: mkdtempSync(path.join(os.tmpdir(), 'pier-ledger-')), args: ['--page-cache-model'] })
  browser = await launchChromium()
})

after(async () => {
  await browser?.close()
  await pier?.stop()
})

const getJson = (p) => pierGetJson(pier.base, p)

async function put(p, body) {
  const r = await fetch(`${pier.base}${p}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  const text = await r.text()
  assert.equal(r.status, 200, text)
  return JSON.parse(text)
}

/** Every offset a finding lists. */
function listed(verdict, kind) {
  const f = verdict.findings.find((x) => x.kind === kind)
  return f.spans.flatMap((s) => Array.from({ length: s.last_offset - s.first_offset + 1 }, (_, i) => s.first_offset + i))
}

test('a power cut and expired leases show up in the delivery report and in a record\'s journey', async () => {
  await post(pier.base, '/api/v1/topics', { name: 'orders' })
  await post(pier.base, '/api/v1/topics/orders/messages', { value: 'kept-{{seq}}', count: 40 })
  await put('/api/v1/durability', { fsync: false })
  await post(pier.base, '/api/v1/topics/orders/messages', { value: 'at-risk-{{seq}}', count: 60 })
  await post(pier.base, '/api/v1/faults', { kind: 'power_loss' })
  await put('/api/v1/durability', { fsync: true })
  const end = (await getJson('/api/v1/topics/orders')).partitions[0].high_watermark
  await post(pier.base, '/api/v1/topics/orders/messages', { value: 'after-{{seq}}', count: 30 })

  // A consumer takes 20, accepts 10 and lets the rest expire; another gets those again.
  await put('/api/v1/queues/workers', { topic: 'orders', lease_ms: 500, backoff_base_ms: 1, backoff_max_ms: 1 })
  const first = await post(pier.base, '/api/v1/queues/workers/receive', { consumer: 'slow', max_records: 20 })
  const got = first.map((m) => m.message.offset)
  await post(pier.base, '/api/v1/queues/workers/ack', {
    consumer: 'slow',
    acks: first.slice(0, 10).map((m) => ({ partition: 0, offset: m.message.offset, action: 'accept' })),
  })
  await new Promise((r) => setTimeout(r, 800))
  const again = await post(pier.base, '/api/v1/queues/workers/receive', { consumer: 'fast', max_records: 100, wait_ms: 2000 })
  const twice = again.map((m) => m.message.offset).filter((o) => got.includes(o)).sort((a, b) => a - b)
  assert.deepEqual(twice, got.slice(10).sort((a, b) => a - b), 'the expired ten came back')

  const verdict = await getJson('/api/v1/ledger/verdict?topic=orders&group=workers')
  const lost = listed(verdict, 'lost_after_ack')
  assert.deepEqual(lost, Array.from({ length: 100 - end }, (_, i) => end + i), 'exactly the records past the new end')
  assert.ok(lost.length > 0, 'fsync off lost some')
  assert.deepEqual(listed(verdict, 'delivered_more_than_once'), twice)

  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } })
  const errors = []
  page.on('pageerror', (e) => errors.push(String(e)))
  await page.goto(`${pier.base}/#/report/orders`)
  await page.getByRole('heading', { name: 'Delivery report', level: 1 }).waitFor()
  await page.locator('select[name="report-group"]').selectOption('workers')
  const banner = page.getByRole('status').filter({ hasText: 'No guarantee' })
  await banner.waitFor()
  assert.match(await banner.textContent(), new RegExp(`${lost.length} acknowledged records were lost`))
  await page.getByRole('button', { name: /delivered more than once/ }).filter({ hasText: String(twice.length) }).waitFor()
  await page.getByRole('button', { name: /lost after ack/ }).click()
  await page.getByRole('button', { name: `${lost[0]}–${lost[lost.length - 1]}` }).click()
  const journey = page.getByRole('region', { name: 'Journey' })
  await journey.getByText('Lost', { exact: true }).waitFor()
  // The lost record, its loss, then the record that took its offset.
  const steps = await journey.locator('li strong').allTextContents()
  assert.deepEqual(steps.slice(0, 3), ['Produced', 'Lost', 'Produced'])
  const oldest = await journey.locator('li').first().textContent()
  assert.match(oldest, /acknowledged with fsync off: at risk/)
  await shot(page, 'report')
  assert.deepEqual(errors, [])
})
