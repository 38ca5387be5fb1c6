// Benchmark (not a test; `node --test e2e/` does not pick it up): the
// frame rate of the Messages table holding 100,000 records, in Debian's
// Chromium (same flags as the tests, 1400×900) against a real `pier serve`
// on a temporary data directory. Prints numbers and exits.
//
//   cd ui && npm run build && PIER_BIN=/tmp/pier-bin/pier node e2e/bench-scroll.mjs
//
// Passes, each driven by requestAnimationFrame for ~5 s, scrollTop set once
// per frame:
//   steady  top to bottom in ~5 s (a constant step per frame)
//   fling   large steps (a tenth of the table per frame), wrapping to the top
//   wheel   40 px per frame, like a mouse wheel held down
// For each: frames per second, frame time p50/p95/p99 (the time between
// animation frames), frames over 33 ms, and frames where the rows for the
// scrolled-to position were not in the page yet (blank); "bottom" says the
// oldest record's row was rendered at the end of the table.
// BENCH_RECORDS (100000), BENCH_SECONDS (5), BENCH_TAIL=off (uncheck Live
// tail first), BENCH_PASSES=steady,fling (a subset), BENCH_TRACE=trace.json (a Chrome trace of the passes, for
// chrome://tracing or the analysis in the docs), BENCH_PROFILE=file.cpuprofile
// (a CPU profile of the passes, through the DevTools protocol).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import { launchChromium, post, startPier } from './pier.mjs'

const RECORDS = Number(process.env.BENCH_RECORDS ?? 100_000)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5)

const dir = mkdtempSync(path.join(os.tmpdir(), 'pier-bench-scroll-'))
const pier = await startPier({ dataDir: path.join(dir, 'data') })
let browser
try {
  await post(pier.base, '/api/v1/topics', { name: 'bench', partitions: 1 })
  let t = performance.now()
  // The API takes up to 1,000,000 per request; 10 requests show progress.
  const per = Math.ceil(RECORDS / 10)
  for (let sent = 0; sent < RECORDS; sent += per) {
    await post(pier.base, '/api/v1/topics/bench/messages', {
      key: 'customer-{{seq}}',
      value: '{"order": {{seq}}, "item": "widget", "quantity": 3, "at": "{{now_iso}}"}',
      count: Math.min(per, RECORDS - sent),
      first_seq: sent,
    })
  }
  console.log(`produced ${RECORDS.toLocaleString('en-US')} records through the HTTP API in ${((performance.now() - t) / 1000).toFixed(1)} s`)

  browser = await launchChromium()
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } })
  const errors = []
  page.on('pageerror', (e) => errors.push(String(e)))
  t = performance.now()
  await page.goto(`${pier.base}/#/messages/bench`)
  await page.getByText(`${RECORDS.toLocaleString('en-US')} messages, newest first`).waitFor({ timeout: 180_000 })
  console.log(`Messages loaded all ${RECORDS.toLocaleString('en-US')} in ${((performance.now() - t) / 1000).toFixed(1)} s`)
  const rowsInPage = await page.locator('.table [role=row]').count()
  console.log(`rows in the page: ${rowsInPage} (incl. the header)`)
  if (process.env.BENCH_TAIL === 'off') {
    await page.getByLabel('Live tail').uncheck()
    console.log('live tail off')
  }
  await page.waitForTimeout(1000)

  const cdp = await page.context().newCDPSession(page)
  if (process.env.BENCH_PROFILE) {
    await cdp.send('Profiler.enable')
    await cdp.send('Profiler.setSamplingInterval', { interval: 200 })
    await cdp.send('Profiler.start')
  }

  if (process.env.BENCH_TRACE) await browser.startTracing(page, { path: process.env.BENCH_TRACE, screenshots: false })
  const passes = [
    ['steady', { kind: 'sweep' }],
    ['fling', { kind: 'step', fraction: 0.1 }],
    ['wheel', { kind: 'step', px: 40 }],
  ]
  const only = process.env.BENCH_PASSES?.split(',')
  const results = []
  for (const [name, how] of passes.filter(([name]) => !only || only.includes(name))) {
    const r = await page.evaluate(
      async ({ how, ms }) => {
        const el = document.querySelector('.table')
        const ROW = 30
        const max = el.scrollHeight - el.clientHeight
        const step = how.px ?? Math.round(max * (how.fraction ?? 0))
        el.scrollTop = 0
        const frame = () => new Promise((r) => requestAnimationFrame(r))
        await frame()
        await frame()
        const deltas = []
        let blank = 0
        let bottom = false
        let last = await frame()
        const start = last
        for (;;) {
          const now = await frame()
          deltas.push(now - last)
          last = now
          // Rows for the position scrolled to in the previous frame (its
          // scroll event has run by now) must be in the page.
          const want = Math.floor(el.scrollTop / ROW)
          const label = el.querySelector(`[aria-rowindex="${want + 2}"]`)
          if (!label) blank++
          if (el.scrollTop >= max - 1 && label) bottom = true
          if (now - start >= ms && (how.kind !== 'sweep' || el.scrollTop >= max - 1)) break
          el.scrollTop =
            how.kind === 'sweep' ? Math.min(max, (max * (now - start)) / ms) : el.scrollTop + step > max ? 0 : el.scrollTop + step
        }
        return { deltas, blank, bottom, elapsed: last - start, max, step }
      },
      { how, ms: SECONDS * 1000 },
    )
    const sorted = [...r.deltas].sort((a, b) => a - b)
    const pct = (p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
    const out = {
      pass: name,
      step_px: how.kind === 'sweep' ? `~${Math.round(r.max / r.deltas.length).toLocaleString('en-US')}` : r.step.toLocaleString('en-US'),
      frames: r.deltas.length,
      fps: (r.deltas.length / (r.elapsed / 1000)).toFixed(1),
      p50_ms: pct(50).toFixed(1),
      p95_ms: pct(95).toFixed(1),
      p99_ms: pct(99).toFixed(1),
      max_ms: sorted.at(-1).toFixed(1),
      over_33ms: r.deltas.filter((d) => d > 33).length,
      blank: r.blank,
      reached_bottom: r.bottom,
    }
    results.push(out)
  }
  if (process.env.BENCH_TRACE) {
    await browser.stopTracing()
    console.log(`trace: ${process.env.BENCH_TRACE}`)
  }
  if (process.env.BENCH_PROFILE) {
    const { profile } = await cdp.send('Profiler.stop')
    writeFileSync(process.env.BENCH_PROFILE, JSON.stringify(profile))
    console.log(`CPU profile: ${process.env.BENCH_PROFILE}`)
  }
  console.log(`Chromium ${browser.version()}, ${os.cpus().length} CPUs (${os.cpus()[0].model}), load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`)
  console.table(results)
  if (errors.length) console.log('page errors:', errors)
} finally {
  await browser?.close()
  await pier.stop()
  rmSync(dir, { recursive: true, force: true })
}
