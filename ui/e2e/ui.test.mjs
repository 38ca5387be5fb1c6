// The web UI in a real browser (Debian's Chromium via playwright-core)
// against a real `pier serve`: create a topic, produce 50 messages from the
// form, see them in Messages, and the errors a user gets for a bad topic
// name and invalid JSON. Screenshots go to e2e/.out/ (and to
// docs/screenshots/ with PIER_UPDATE_SCREENSHOTS=1).

import { existsSync } from 'node:fs'
import path from 'node:path'
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'

import { launchChromium, repo, shot, startPier } from './pier.mjs'

let pier
let base
let browser

before(async () => {
  pier = await startPier()
  base = pier.base
  browser = await launchChromium()
})

after(async () => {
  await browser?.close()
  await pier?.stop()
})

test('create a topic, produce 50 from the form, see them in Messages', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } })
  const errors = []
  page.on('pageerror', (e) => errors.push(String(e)))
  await page.goto(`${base}/#/overview`)
  await page.getByText('Start here').waitFor()
  await page.getByRole('status').filter({ hasText: 'Live' }).waitFor()
  await shot(page, 'overview-empty')

  // A bad topic name is explained where it is typed, and the server agrees.
  await page.goto(`${base}/#/topics`)
  await page.getByLabel('Name').fill('bad name')
  await page.getByRole('alert').filter({ hasText: "Only letters, digits, '.', '_' and '-'." }).waitFor()
  await page.getByRole('button', { name: 'Create topic' }).click()
  assert.equal(await page.locator('tbody tr').count(), 0, 'nothing created')
  await page.getByLabel('Name').fill('orders')
  await page.getByLabel('Partitions').fill('3')
  await page.getByRole('button', { name: 'Create topic' }).click()
  await page.getByRole('link', { name: 'orders', exact: true }).waitFor()
  // The server's own refusal shows too (a duplicate name).
  await page.getByLabel('Name').fill('orders')
  await page.getByRole('button', { name: 'Create topic' }).click()
  await page.getByRole('alert').filter({ hasText: 'already exists' }).waitFor()
  await page.getByLabel('Name').fill('')

  // Invalid JSON is refused before sending; a fixed value sends 50.
  await page.goto(`${base}/#/produce/orders`)
  await page.getByLabel('Value', { exact: false }).first().fill('{"n": {{seq}}, oops}')
  await page.getByRole('alert').filter({ hasText: 'Invalid JSON' }).first().waitFor()
  await page.getByLabel('Value', { exact: false }).first().fill('{"n": {{seq}}, "item": "widget"}')
  await page.getByLabel('Key').fill('customer-{{seq}}')
  await page.getByLabel('Partition').fill('0')
  await page.getByLabel('Count').fill('50')
  await page.getByRole('button', { name: 'Send 50' }).click()
  await page.getByText(/50 to orders in \d+ ms/).waitFor()
  await shot(page, 'produce')

  await page.goto(`${base}/#/messages/orders`)
  await page.getByText('50 messages, newest first').waitFor()
  await page.getByRole('row', { name: 'Offset 49' }).click()
  await page.getByLabel('Message detail').getByText('"item": "widget"').waitFor()
  assert.match(await page.getByLabel('Message detail').textContent(), /customer-49/)
  await shot(page, 'messages')

  await page.goto(`${base}/#/topics`)
  await page.getByRole('cell', { name: '50', exact: true }).waitFor()
  await shot(page, 'topics')
  await page.goto(`${base}/#/overview`)
  await page.getByText('1 topic · 3 partitions').waitFor()
  // The produce shows on the live chart (samples come once a second).
  const produced = page.getByRole('figure', { name: 'Produced' })
  await produced.getByText(/peak [1-9]\d+ msg\/s/).waitFor({ timeout: 10_000 })
  await shot(page, 'overview')
  await page.goto(`${base}/#/consumers`)
  await page.getByText('No consumer groups yet').waitFor()
  await shot(page, 'consumers')
  await page.goto(`${base}/#/connect`)
  await page.getByText('bootstrap.servers=').waitFor()
  await shot(page, 'connect')
  await page.getByRole('button', { name: 'Use dark theme' }).click()
  await page.goto(`${base}/#/messages/orders`)
  await page.getByText('50 messages, newest first').waitFor()
  await shot(page, 'messages-dark')
  assert.deepEqual(errors, [], 'no script errors')
  await page.close()
})

test('the Messages table stays virtualized with 100,000 records', async () => {
  const res = await fetch(`${base}/api/v1/topics`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'big' }),
  })
  assert.equal(res.status, 201)
  const produced = await fetch(`${base}/api/v1/topics/big/messages`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ value: '{"n": {{seq}}}', count: 100000 }),
  })
  assert.equal(produced.status, 201)
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } })
  await page.goto(`${base}/#/messages/big`)
  await page.getByText('100,000 messages, newest first').waitFor({ timeout: 60_000 })
  const rows = await page.locator('.table .row:not(.head)').count()
  assert.ok(rows < 80, `only visible rows are in the page (${rows})`)
  // Scroll to the bottom: the oldest record is rendered there.
  await page.locator('.table').evaluate((el) => (el.scrollTop = el.scrollHeight))
  await page.getByRole('row', { name: 'Offset 0', exact: true }).waitFor()
  await page.close()
})

test('a missing UI build or API path is a clear answer', async () => {
  const r = await fetch(`${base}/api/v1/nothing`)
  assert.equal(r.status, 404)
  assert.equal(r.headers.get('content-type'), 'application/problem+json')
  assert.ok(existsSync(path.join(repo, 'ui/dist/index.html')), 'the UI was built before this test')
})

test('a simulated consumer group of 3 shares the work and the lag falls to 0', async () => {
  const post = (p, body) =>
    fetch(`${base}${p}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
  assert.equal((await post('/api/v1/topics', { name: 'work', partitions: 3 })).status, 201)
  assert.equal((await post('/api/v1/topics/work/messages', { value: 'job {{seq}}', count: 300 })).status, 201)
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } })
  await page.goto(`${base}/#/simulate`)
  const form = page.getByRole('form', { name: 'Start a consumer group' })
  await form.getByLabel('Topic').selectOption('work')
  await form.getByLabel('Members').fill('3')
  await form.getByLabel('Processing time (ms)').fill('5')
  await form.getByRole('button', { name: 'Start consumer group' }).click()
  const group = page.getByRole('region', { name: 'Consumer group workers' })
  const processed = async () =>
    (await group.locator('tbody tr td:nth-child(2)').allTextContents()).map((n) => Number(n.replaceAll(',', '')))
  const deadline = Date.now() + 60_000
  let counts = await processed()
  while (counts.reduce((a, b) => a + b, 0) < 300 && Date.now() < deadline) {
    await page.waitForTimeout(250)
    counts = await processed()
  }
  assert.equal(counts.length, 3)
  assert.equal(counts.reduce((a, b) => a + b, 0), 300, `all processed: ${counts}`)
  assert.ok(counts.every((n) => n > 0), `every member did some work: ${counts}`)
  await group.getByText(/lag 0 · in flight 0/).waitFor({ timeout: 10_000 })
  await shot(page, 'simulate')
  // Bad settings are explained.
  await form.getByLabel('Group').fill('')
  await form.getByRole('button', { name: 'Start consumer group' }).click()
  await page.getByRole('alert').filter({ hasText: 'group names are 1–100 characters' }).waitFor()
  await page.close()
})
