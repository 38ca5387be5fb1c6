// Topic settings, queue groups from the create form, browsing by time,
// delivery state per message and per-partition lag over time, in Debian's
// Chromium against a real `pier serve`.

import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'

import { getJson as pierGetJson, launchChromium, post, shot, startPier } from './pier.mjs'

let pier
let browser

before(async () => {
  pier = await startPier()
  browser = await launchChromium()
})

after(async () => {
  await browser?.close()
  await pier?.stop()
})

const getJson = (p) => pierGetJson(pier.base, p)

async function newPage() {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } })
  const errors = []
  page.on('pageerror', (e) => errors.push(String(e)))
  return { page, errors }
}

test('create a topic with a queue group, then edit its settings', async () => {
  const { page, errors } = await newPage()
  await page.goto(`${pier.base}/#/topics`)
  await page.getByLabel('Name').fill('jobs')
  await page.getByText('Queue group and dead letters').click()
  await page.getByLabel('Queue group').fill('workers')
  await page.getByLabel('Max deliveries').fill('3')
  await page.getByRole('button', { name: 'Create topic' }).click()
  await page.getByRole('link', { name: 'jobs', exact: true }).waitFor()
  const q = await getJson('/api/v1/queues/workers')
  assert.equal(q.topic, 'jobs')
  assert.equal(q.max_deliveries, 3)
  assert.equal(q.dead_letter_topic, 'jobs.dlq')

  await page.getByRole('button', { name: 'Edit settings of jobs' }).click()
  const form = page.getByRole('form', { name: 'Settings of jobs' })
  // Over a day of dedup window: the server refuses and says why.
  await form.getByLabel('Dedup window (s)').fill('100000')
  await form.getByRole('button', { name: 'Save' }).click()
  await form.getByRole('alert').filter({ hasText: 'one day' }).waitFor()
  assert.equal((await getJson('/api/v1/topics/jobs')).config['dedup.window.ms'], '0', 'nothing changed')

  await form.getByLabel('Dedup window (s)').fill('60')
  await form.getByLabel('Retention (hours)').fill('48')
  await form.getByLabel('Partitions').fill('2')
  await shot(page, 'topics-edit')
  await form.getByRole('button', { name: 'Save' }).click()
  await page.getByRole('cell', { name: 'kept 2d · dedup 1m 0s' }).waitFor()
  const t = await getJson('/api/v1/topics/jobs')
  assert.equal(t.config['dedup.window.ms'], '60000')
  assert.equal(t.config['retention.ms'], String(48 * 3_600_000))
  assert.equal(t.partitions.length, 2)
  assert.deepEqual(errors, [])
})

test('browse up to a time, and see each message in flight or ready in a queue group', async () => {
  await post(pier.base, '/api/v1/topics', { name: 'timed' })
  await post(pier.base, '/api/v1/topics/timed/messages', { value: 'early-{{seq}}', count: 5 })
  await new Promise((r) => setTimeout(r, 1600))
  await post(pier.base, '/api/v1/topics/timed/messages', { value: 'late-{{seq}}', count: 5 })
  const all = await getJson('/api/v1/topics/timed/messages?limit=100')
  const early = all.messages.filter((m) => m.value.startsWith('early-'))
  const cut = Math.ceil(Math.max(...early.map((m) => m.timestamp_ms)) / 1000) * 1000
  assert.ok(all.messages.filter((m) => m.value.startsWith('late-')).every((m) => m.timestamp_ms > cut))

  const { page, errors } = await newPage()
  await page.goto(`${pier.base}/#/messages/timed`)
  await page.getByLabel('Offset 9', { exact: true }).waitFor()
  // datetime-local is local time; let the page format it.
  const local = await page.evaluate((ms) => {
    const d = new Date(ms)
    const p = (n) => String(n).padStart(2, '0')
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
  }, cut)
  await page.getByLabel('Up to time').fill(local)
  await page.getByText('5 messages, newest first from').waitFor()
  const rows = await page.locator('[role=grid] button.row').allTextContents()
  assert.equal(rows.length, 5)
  assert.ok(rows.every((r) => r.includes('early-')), rows.join('\n'))
  await page.getByLabel('Up to time').fill('')
  await page.getByText('10 messages, newest first').waitFor()

  // A queue group over the topic with two records leased to w1.
  const put = await fetch(`${pier.base}/api/v1/queues/timed-workers`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ topic: 'timed' }),
  })
  assert.ok(put.ok, await put.text())
  const got = await post(pier.base, '/api/v1/queues/timed-workers/receive', { consumer: 'w1', max_records: 2 })
  assert.equal(got.length, 2)
  await page.reload()
  await page.getByLabel('State in group').selectOption('timed-workers')
  await page.getByText('in flight: w1 (delivery 1)').first().waitFor()
  const states = await page.locator('[role=grid] button.row span.st').allTextContents()
  assert.equal(states.filter((s) => s === 'in flight: w1 (delivery 1)').length, 2, states.join(', '))
  assert.equal(states.filter((s) => s === 'ready').length, 8, states.join(', '))
  await page.getByLabel('Offset 0', { exact: true }).click()
  await page.getByRole('complementary', { name: 'Message detail' }).getByText('In timed-workers: in flight: w1').waitFor()
  await shot(page, 'messages-state')
  assert.deepEqual(errors, [])
})

test('a Kafka group shows each partition\'s lag over time', async () => {
  await post(pier.base, '/api/v1/topics', { name: 'lagging', partitions: 2 })
  await post(pier.base, '/api/v1/topics/lagging/messages', { value: 'x', count: 40 })
  await post(pier.base, '/api/v1/groups/reporting/offsets', {
    offsets: [
      { topic: 'lagging', partition: 0, offset: 5 },
      { topic: 'lagging', partition: 1, offset: 0 },
    ],
  })
  const { page, errors } = await newPage()
  await page.goto(`${pier.base}/#/consumers`)
  // Samples arrive once a second; wait for a few.
  const chart = page.getByRole('img', { name: /Lag of lagging partition 0: peak 15 over [3-9] s/ })
  await chart.waitFor({ timeout: 15_000 })
  await page.getByRole('img', { name: /Lag of lagging partition 1: peak 20 over/ }).waitFor()
  const d = await chart.locator('path').getAttribute('d')
  assert.match(d ?? '', /^M0\.0,[\d.]+ L/, 'a drawn line')
  await shot(page, 'consumers-lag')
  assert.deepEqual(errors, [])
})
