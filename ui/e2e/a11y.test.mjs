// Accessibility of the web UI in Chromium against a real `pier serve`:
// axe-core on every screen (with data in it, and empty) in the light and
// the dark theme, no serious or critical violations; and a keyboard-only walk
// (Tab / Shift+Tab / Enter / Space and typing) through the navigation,
// creating a topic, producing to it and opening a message, where every
// control that takes focus shows a visible focus indicator and has an
// accessible name.

import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'

import { launchChromium, post, startPier } from './pier.mjs'

const require = createRequire(import.meta.url)
const axeSource = readFileSync(require.resolve('axe-core'), 'utf8')
const out = path.join(path.dirname(fileURLToPath(import.meta.url)), '.out')

let pier
let browser
let kcat

before(async () => {
  mkdirSync(out, { recursive: true })
  pier = await startPier()
  browser = await launchChromium()
})

after(async () => {
  kcat?.kill('SIGTERM')
  await browser?.close()
  await pier?.stop()
})

/** Runs axe-core in the page (evaluated over the DevTools protocol, so the
 *  page's Content-Security-Policy stays on) and returns the violations of
 *  impact serious or critical. */
async function axeViolations(page) {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axeSource)
  const violations = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ['violations'] })
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target.join(' '), summary: n.failureSummary, impact: n.impact })),
    }))
  })
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
}

function describe(violations) {
  return violations
    .map((v) => `  [${v.impact}] ${v.id}: ${v.help}\n${v.nodes.map((n) => `    ${n.target}\n      ${(n.summary ?? '').replaceAll('\n', '\n      ')}`).join('\n')}`)
    .join('\n')
}

/** Switches the theme with the menu's button (a real user's way). */
async function useTheme(page, theme) {
  const current = () => page.evaluate(() => document.documentElement.dataset.theme)
  if ((await current()) !== theme) await page.getByRole('button', { name: `Use ${theme} theme` }).click()
  assert.equal(await current(), theme, `theme switched to ${theme}`)
}

test('axe-core finds no serious or critical violations on any screen, in light and dark', async () => {
  const { base, kafka } = pier
  // An empty broker first: the overview's "start here" and the empty states.
  const emptyScreens = ['overview', 'topics', 'messages', 'consumers', 'simulate', 'faults', 'report']

  const page = await browser.newPage({ viewport: { width: 1280, height: 860 }, colorScheme: 'light' })
  const errors = []
  page.on('pageerror', (e) => errors.push(String(e)))
  const found = []
  const check = async (state, theme) => {
    await page.waitForTimeout(150) // let transitions and the last refresh settle
    const v = await axeViolations(page)
    if (v.length) found.push(`${state} (${theme}):\n${describe(v)}`)
  }

  await page.goto(`${base}/#/overview`)
  await page.getByRole('status').filter({ hasText: 'Live' }).waitFor()
  for (const theme of ['light', 'dark']) {
    await useTheme(page, theme)
    for (const screen of emptyScreens) {
      await page.goto(`${base}/#/${screen}`)
      await page.locator('main h1').waitFor()
      await page.locator('main .empty').first().waitFor()
      await check(`#/${screen} empty`, theme)
    }
  }

  // Data on every screen: topics, messages with keys and headers, a Kafka
  // group with a member (kcat) and one with committed offsets only, a
  // simulated producer and consumer group (a queue group).
  await post(base, '/api/v1/topics', { name: 'orders', partitions: 3 })
  await post(base, '/api/v1/topics', { name: 'work', partitions: 1 })
  await post(base, '/api/v1/topics/orders/messages', {
    key: 'customer-{{seq}}',
    value: '{"order": {{seq}}, "item": "widget", "at": "{{now_iso}}"}',
    headers: { source: 'a11y-test', trace: '{{uuid}}' },
    partition: 0,
    count: 20,
  })
  await post(base, '/api/v1/topics/orders/messages', { value: 'plain text {{seq}}', partition: 1, count: 5 })
  await post(base, '/api/v1/groups/billing/offsets', { offsets: [{ topic: 'orders', partition: 0, offset: 12 }] })
  kcat = spawn('kcat', ['-b', kafka, '-G', 'shipping', 'orders', '-q'], { stdio: 'ignore' })
  kcat.on('error', (e) => errors.push(`kcat: ${e}`))
  await post(base, '/api/v1/simulations/producers', { topic: 'work', rate: 5, value_bytes: 40 })
  await post(base, '/api/v1/simulations/consumers', { topic: 'work', group: 'workers', members: 2, processing_ms: 5 })
  // An active fault that harms nothing here: latency for a client id no one uses.
  await post(base, '/api/v1/faults', { kind: 'latency', params: { latency_ms: 5 }, client_id: 'a11y-nobody' })

  const screens = [
    ['overview', async () => page.getByText('2 topics · 4 partitions').waitFor()],
    ['topics', async () => page.getByRole('link', { name: 'orders', exact: true }).waitFor()],
    ['topics (deleting)', async () => {
      await page.getByRole('button', { name: 'Delete topic work' }).click()
      await page.getByRole('button', { name: 'Delete work and its messages' }).waitFor()
    }, 'topics'],
    ['topics (bad name)', async () => {
      await page.getByLabel('Name').fill('bad name')
      await page.getByRole('alert').filter({ hasText: 'Only letters' }).waitFor()
    }, 'topics'],
    ['messages/orders', async () => {
      await page.getByText(/^2\d messages, newest first/).waitFor()
      await page.getByRole('row', { name: 'Offset 17', exact: true }).click()
      await page.getByLabel('Message detail').getByText('"item": "widget"').waitFor()
    }],
    ['messages/orders (hex)', async () => {
      await page.getByText(/^2\d messages, newest first/).waitFor()
      await page.getByRole('row', { name: 'Offset 3', exact: true }).click()
      await page.getByRole('tab', { name: 'hex' }).click()
      await page.getByLabel('Message detail').getByText(/^00000000/m).waitFor()
    }, 'messages/orders'],
    ['produce/orders', async () => {
      await page.getByRole('button', { name: 'Send 1' }).waitFor()
      await page.getByRole('button', { name: 'Send 1' }).click()
      await page.getByText(/1 to orders in \d+ ms/).waitFor()
    }],
    ['produce/orders (invalid JSON)', async () => {
      await page.getByLabel('Value', { exact: false }).first().fill('{"n": oops}')
      await page.getByRole('alert').filter({ hasText: 'Invalid JSON' }).first().waitFor()
    }, 'produce/orders'],
    ['consumers', async () => {
      await page.getByText('billing').waitFor()
      await page.getByText('shipping').waitFor({ timeout: 20_000 })
      await page.getByRole('cell', { name: 'sim-workers' }).waitFor()
    }],
    ['simulate', async () => page.getByRole('region', { name: 'Consumer group workers' }).getByText(/lag \d/).waitFor()],
    ['report/work', async () => {
      await page.locator('select[name="report-group"]').selectOption('sim-workers')
      await page.getByRole('status').filter({ hasText: /guarantee|once|lost/i }).waitFor()
      await page.getByRole('button', { name: /unconsumed/ }).click()
    }],
    ['faults', async () => page.getByRole('button', { name: /^Heal fault \d+/ }).first().waitFor()],
    ['connect', async () => page.getByText('bootstrap.servers=').waitFor()],
    ['settings', async () => page.getByText('This page configures the desktop app').waitFor()],
  ]
  for (const theme of ['light', 'dark']) {
    await page.goto(`${base}/#/overview`)
    await useTheme(page, theme)
    for (const [state, ready, route = state] of screens) {
      await page.goto(`${base}/#/${route}`)
      await page.locator('main h1').waitFor()
      try {
        await ready()
      } catch (e) {
        await page.screenshot({ path: path.join(out, 'a11y-failed.png'), fullPage: true })
        throw new Error(`#/${state} (${theme}) did not get ready: ${e.message}`)
      }
      await check(`#/${state}`, theme)
      if (state === 'messages/orders') await page.screenshot({ path: path.join(out, `a11y-messages-${theme}.png`), fullPage: true })
    }
  }
  await page.close()
  assert.deepEqual(errors, [], 'no script errors')
  assert.equal(found.length, 0, `axe-core violations (serious or critical):\n${found.join('\n')}`)
})

/** What the browser's accessibility tree says about the focused element,
 *  and whether its focus is visibly drawn. */
async function focused(page, cdp) {
  const { result } = await cdp.send('Runtime.evaluate', { expression: 'document.activeElement' })
  const { nodes } = await cdp.send('Accessibility.getPartialAXTree', { objectId: result.objectId, fetchRelatives: false })
  const ax = nodes.find((n) => !n.ignored) ?? nodes[0]
  await cdp.send('Runtime.releaseObject', { objectId: result.objectId })
  const info = await page.evaluate(() => {
    const el = document.activeElement
    if (!el || el === document.body) return null
    const cs = getComputedStyle(el)
    const r = el.getBoundingClientRect()
    const parse = (c) => {
      const m = /rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)/.exec(c)
      return m ? { rgb: [+m[1], +m[2], +m[3]], a: m[4] === undefined ? 1 : +m[4] } : null
    }
    const lum = ([r, g, b]) =>
      [r, g, b].map((v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)).reduce((a, v, i) => a + v * [0.2126, 0.7152, 0.0722][i], 0)
    // The background the ring is drawn on: outside the element for a
    // non-negative outline offset, inside it otherwise.
    const offset = parseFloat(cs.outlineOffset) || 0
    let bgEl = offset >= 0 ? el.parentElement : el
    let bg = null
    while (bgEl) {
      const c = parse(getComputedStyle(bgEl).backgroundColor)
      if (c && c.a > 0.5) {
        bg = c.rgb
        break
      }
      bgEl = bgEl.parentElement
    }
    bg ??= parse(getComputedStyle(document.body).backgroundColor)?.rgb ?? [255, 255, 255]
    const ring = parse(cs.outlineColor)
    const hasOutline = cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 1 && ring && ring.a > 0.5
    const hasShadow = cs.boxShadow !== 'none'
    const [l1, l2] = [lum(ring?.rgb ?? bg), lum(bg)].sort((a, b) => b - a)
    return {
      tag: el.tagName.toLowerCase(),
      href: el.getAttribute('href'),
      id: `${el.tagName.toLowerCase()}${el.getAttribute('name') ? `[name=${el.getAttribute('name')}]` : ''} "${(el.textContent ?? '').trim().slice(0, 40)}"`,
      ring: hasOutline ? `${cs.outlineWidth} ${cs.outlineStyle} ${cs.outlineColor}` : hasShadow ? cs.boxShadow : `none (outline: ${cs.outlineWidth} ${cs.outlineStyle} ${cs.outlineColor}; :focus-visible ${el.matches(":focus-visible")}, :focus ${el.matches(":focus")}, hasFocus ${document.hasFocus()})`,
      contrast: hasOutline ? (l1 + 0.05) / (l2 + 0.05) : hasShadow ? Infinity : 0,
      box: { x: r.x, y: r.y, width: r.width, height: r.height },
      viewport: { width: innerWidth, height: innerHeight },
    }
  })
  if (!info) return null
  return { ...info, role: ax?.role?.value ?? '', name: (ax?.name?.value ?? '').trim() }
}

/** Pixels of the focused control with and without its focus styles: they
 *  must differ (a ring clipped away by a scroll box would not). */
async function focusIsDrawn(page, info) {
  const pad = 6
  const x = Math.max(0, Math.floor(info.box.x - pad))
  const y = Math.max(0, Math.floor(info.box.y - pad))
  const clip = {
    x,
    y,
    width: Math.min(info.viewport.width, Math.ceil(info.box.x + info.box.width + pad)) - x,
    height: Math.min(info.viewport.height, Math.ceil(info.box.y + info.box.height + pad)) - y,
  }
  if (clip.width <= 0 || clip.height <= 0) return false
  const withRing = await page.screenshot({ clip })
  await page.evaluate(() => {
    const s = document.createElement('style')
    s.id = 'no-focus-ring'
    s.textContent = '*:focus, *:focus-visible, *:focus-within { outline: none !important; box-shadow: none !important; }'
    document.head.append(s)
  })
  const without = await page.screenshot({ clip })
  await page.evaluate(() => document.getElementById('no-focus-ring')?.remove())
  return !withRing.equals(without)
}

test('keyboard only: navigation, create a topic, produce, open a message; focus is visible and named', async () => {
  const { base } = pier
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 }, colorScheme: 'light' })
  const cdp = await page.context().newCDPSession(page)
  const problems = []
  const visited = []

  /** Presses `key` (Tab or Shift+Tab) until the focused element matches
   *  `want`, checking every stop on the way. */
  async function tabTo(label, want, { key = 'Tab', max = 80 } = {}) {
    for (let i = 0; i < max; i++) {
      await page.keyboard.press(key)
      const f = await focused(page, cdp)
      if (!f) continue
      visited.push(`${f.role} "${f.name}"`)
      if (!f.name) problems.push(`${f.id} (${f.role}) has no accessible name`)
      if (!(f.contrast >= 3)) problems.push(`${f.id} "${f.name}": focus ring ${f.ring} has contrast ${f.contrast.toFixed(2)} (< 3:1)`)
      else if (!(await focusIsDrawn(page, f))) problems.push(`${f.id} "${f.name}": focus ring ${f.ring} is not visible on screen`)
      if (want(f)) return f
    }
    throw new Error(`${label}: not reached with ${max} × ${key}; stops: ${visited.slice(-max).join(', ')}`)
  }

  /** After choosing a screen, focus is on its content (Tab continues there). */
  const contentFocused = () => page.waitForFunction(() => document.activeElement?.tagName === 'MAIN', null, { timeout: 5000 })

  await page.goto(`${base}/#/overview`)
  await page.getByRole('status').filter({ hasText: 'Live' }).waitFor()

  // The navigation: forward to Messages, back to Topics with Shift+Tab.
  await tabTo('nav: Messages', (f) => f.role === 'link' && f.name === 'Messages')
  await tabTo('nav: Topics', (f) => f.role === 'link' && f.name === 'Topics', { key: 'Shift+Tab', max: 3 })
  await page.keyboard.press('Enter')
  await page.waitForURL(/#\/topics$/)
  await contentFocused()
  await page.getByRole('heading', { name: 'Topics', level: 1 }).waitFor()

  // Create a topic from the form.
  await tabTo('topic name', (f) => f.role === 'textbox' && /^Name/.test(f.name), { max: 20 })
  await page.keyboard.type('typed-by-keys')
  await tabTo('create button', (f) => f.role === 'button' && f.name === 'Create topic', { max: 10 })
  await page.keyboard.press('Space')
  await page.getByRole('link', { name: 'typed-by-keys', exact: true }).waitFor()

  // Produce five messages to it from its row's Produce link.
  await tabTo('produce link', (f) => f.role === 'link' && f.href === '#/produce/typed-by-keys', { max: 20 })
  await page.keyboard.press('Enter')
  await page.waitForURL(/#\/produce\/typed-by-keys$/)
  await contentFocused()
  await tabTo('count', (f) => f.role === 'spinbutton' && /^Count/.test(f.name), { max: 20 })
  await page.keyboard.type('5')
  await tabTo('send button', (f) => f.role === 'button' && f.name === 'Send 5', { max: 10 })
  await page.keyboard.press('Enter')
  await page.getByText(/5 to typed-by-keys in \d+ ms/).waitFor()

  // Open the topic's messages from the recent sends, then one message.
  await tabTo('messages link', (f) => f.role === 'link' && f.href === '#/messages/typed-by-keys', { max: 20 })
  await page.keyboard.press('Enter')
  await page.waitForURL(/#\/messages\/typed-by-keys$/)
  await contentFocused()
  await page.getByText('5 messages, newest first').waitFor()
  await tabTo('message row', (f) => f.role === 'row' && f.name === 'Offset 2', { max: 20 })
  await page.keyboard.press('Enter')
  const detail = page.getByRole('complementary', { name: 'Message detail' })
  await detail.getByText('Offset 2 · partition 0').waitFor()
  await tabTo('detail tabs', (f) => f.role === 'tab' && f.name === 'text', { max: 10 })
  await page.keyboard.press('Space')
  await detail.getByText(/"order": 2/).waitFor()
  await page.screenshot({ path: path.join(out, 'a11y-keyboard.png') })

  writeFileSync(path.join(out, 'a11y-keyboard-stops.txt'), `${visited.join('\n')}\n`)
  await page.close()
  assert.deepEqual(problems, [], `focus problems:\n${problems.join('\n')}`)
})
