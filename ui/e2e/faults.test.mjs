// The Faults panel in Debian's Chromium against a real `pier serve` with a
// data directory: crash the broker while a simulated load runs, see it come
// back with the crash drawn on the charts, and the counts add up; bad
// parameters are explained where they were typed.

import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'

import { getJson as pierGetJson, launchChromium, post, shot, startPier } from './pier.mjs'


let pier
let browser

before(async () => {
  pier = await startPier({ dataDir: mkdtempSync(path.join(os.tmpdir(), 'pier-faults-')) })
  browser = await launchChromium()
})

after(async () => {
  await browser?.close()
  await pier?.stop()
})

const getJson = (p) => pierGetJson(pier.base, p)

async function until(what, predicate, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await predicate()
    if (v) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

test('crash the broker from the Faults panel under load; it comes back and the counts add up', async () => {
  await post(pier.base, '/api/v1/topics', { name: 'load' })
  const producer = await post(pier.base, '/api/v1/simulations/producers', { topic: 'load', rate: 200 })
  await post(pier.base, '/api/v1/simulations/consumers', { topic: 'load', group: 'workers', members: 2, processing_ms: 1, lease_ms: 2000 })

  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } })
  const errors = []
  page.on('pageerror', (e) => errors.push(String(e)))
  await page.goto(`${pier.base}/#/faults`)
  await page.getByRole('heading', { name: 'Faults', level: 1 }).waitFor()
  // Wait for load on the chart before crashing.
  await until('produce on the chart', async () => {
    const text = await page.getByRole('figure', { name: 'Produced' }).locator('strong').textContent()
    return Number((text ?? '0').replace(/[^\d.]/g, '')) > 50
  })

  // Bad parameters are explained in the card, and nothing starts.
  const slow = page.getByRole('form', { name: 'Slow fsync' })
  await slow.getByLabel('delay ms (ms)').fill('0')
  await slow.getByRole('button', { name: 'Start slow fsync' }).click()
  await slow.getByRole('alert').filter({ hasText: 'delay_ms must be a whole number from 1 to 10000 ms' }).waitFor()
  const kill = page.getByRole('form', { name: 'Kill a consumer' })
  await kill.getByRole('button', { name: 'Kill a consumer now' }).click()
  await kill.getByRole('alert').filter({ hasText: 'kill_consumer needs a member' }).waitFor()
  assert.deepEqual(await getJson('/api/v1/faults'), [])

  const crash = page.getByRole('form', { name: 'Broker crash' })
  await crash.getByRole('button', { name: 'Broker crash now' }).click()
  await crash.getByRole('status').filter({ hasText: /Broker back in \d+ ms/ }).waitFor({ timeout: 30_000 })
  await page.getByRole('list', { name: 'Fault timeline, newest first' }).getByText('recovered').waitFor()
  // The crash is drawn on the live charts.
  await until('fault marks on the chart', async () =>
    /with \d+ fault event/.test((await page.getByRole('img', { name: /^Produced over/ }).getAttribute('aria-label')) ?? ''),
  )
  // Load continues after the restart.
  const sentAfterCrash = (await getJson('/api/v1/simulations')).find((s) => s.id === producer.id).sent
  await until('more produced after the restart', async () =>
    (await getJson('/api/v1/simulations')).find((s) => s.id === producer.id).sent > sentAfterCrash + 100,
  )
  await shot(page, 'faults')

  // Stop producing; every stored record gets consumed, and nothing the
  // producer was told was stored is missing.
  const acked = (await getJson('/api/v1/simulations')).find((s) => s.id === producer.id).sent
  await fetch(`${pier.base}/api/v1/simulations/${producer.id}`, { method: 'DELETE' })
  let last
  const q = await until('the queue to drain', async () => {
    const q = await getJson('/api/v1/queues/sim-workers')
    last = q
    return q.backlog === 0 && q.in_flight === 0 && q.waiting === 0 ? q : null
  }, 30_000).catch((e) => {
    throw new Error(`${e.message}; the queue: ${JSON.stringify(last)}`)
  })
  const topic = await getJson('/api/v1/topics/load')
  // Records, not counts: every stored offset is finished in the group.
  const records = []
  for (let offset = 0; ; ) {
    const page = await getJson(`/api/v1/topics/load/messages?group=sim-workers&limit=1000&order=oldest&offset=${offset}`)
    records.push(...page.messages)
    if (page.next_offset === null || page.messages.length === 0) break
    offset = page.next_offset
  }
  const unfinished = records.filter((m) => m.delivery?.state !== 'done').map((m) => `${m.partition}/${m.offset}`)
  assert.deepEqual(unfinished, [], 'every stored record finished in the group')
  assert.equal(records.length, topic.records, 'every stored record was looked at')
  assert.equal(q.accepted, records.length, `each accepted once, none dead-lettered: ${JSON.stringify(q)}`)
  assert.ok(topic.records >= acked, `${topic.records} stored, ${acked} acknowledged before the stop`)
  assert.deepEqual(errors, [], 'no errors in the page')
})
