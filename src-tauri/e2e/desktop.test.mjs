// The real desktop window: pier-desktop under Xvfb, driven by tauri-driver
// and WebKitWebDriver. The app starts its broker; kcat talks to it; a topic
// created in the UI receives a message sent by kcat and the message shows
// in the UI; settings survive a restart of the app.

import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'

import { Session } from './webdriver.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const repo = path.resolve(here, '../..')
const app = path.resolve(repo, process.env.PIER_DESKTOP_BIN ?? 'target/debug/pier-desktop')
const driverBin = process.env.TAURI_DRIVER ?? path.join(os.homedir(), '.cargo/bin/tauri-driver')
const out = path.join(here, '.out')

const children = []
let driverUrl
const home = mkdtempSync(path.join(os.tmpdir(), 'pier-desktop-'))
const env = { XDG_DATA_HOME: path.join(home, 'data'), XDG_CONFIG_HOME: path.join(home, 'config') }

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

before(async () => {
  mkdirSync(out, { recursive: true })
  const display = `:${90 + Math.floor(Math.random() * 100)}`
  children.push(spawn('Xvfb', [display, '-screen', '0', '1400x900x24', '-nolisten', 'tcp'], { stdio: 'ignore' }))
  await new Promise((r) => setTimeout(r, 1000))
  const port = await freePort()
  const driver = spawn(driverBin, ['--port', String(port)], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, ...env, DISPLAY: display },
  })
  children.push(driver)
  driverUrl = `http://127.0.0.1:${port}`
  for (let i = 0; i < 50; i++) {
    try {
      await fetch(`${driverUrl}/status`)
      return
    } catch {
      await new Promise((r) => setTimeout(r, 200))
    }
  }
  throw new Error('tauri-driver did not start')
})

after(() => {
  for (const c of children.reverse()) c.kill('SIGTERM')
})

async function openApp() {
  return Session.start(driverUrl, app)
}

async function go(s, hash) {
  await s.script(`location.hash = ${JSON.stringify(hash)}`)
}

test('the app starts its broker; a kcat message to a topic made in the UI shows in the UI', async () => {
  const s = await openApp()
  try {
    const overview = await s.waitText('main', /Kafka bootstrap\s+127\.0\.0\.1:\d+/)
    const bootstrap = /Kafka bootstrap\s+(127\.0\.0\.1:\d+)/.exec(overview)[1]
    // A real Kafka client talks to the app's broker.
    const meta = execFileSync('kcat', ['-b', bootstrap, '-L', '-m', '10'], { encoding: 'utf8' })
    assert.match(meta, /1 brokers:/)

    await go(s, '#/topics')
    await s.type('input[name="topic-name"]', 'desk')
    await s.click('form[aria-label="Create a topic"] button[type="submit"]')
    await s.waitText('main table', /desk/)

    execFileSync('kcat', ['-b', bootstrap, '-P', '-t', 'desk', '-k', 'from-kcat'], { input: '{"hello": "desktop"}\n' })
    await go(s, '#/messages/desk')
    await s.waitText('main', /1 messages, newest first/)
    await s.waitText('.table', /from-kcat/)
    await s.waitText('.table', /"hello": "desktop"/)
    writeFileSync(path.join(out, 'desktop-messages.png'), await s.screenshot())
    if (process.env.PIER_UPDATE_SCREENSHOTS) {
      writeFileSync(path.join(repo, 'docs/screenshots/desktop.png'), await s.screenshot())
    }
  } finally {
    await s.end()
  }
})

test('settings survive a restart of the app', async () => {
  let s = await openApp()
  try {
    await go(s, '#/settings')
    await s.find('form[aria-label="Settings"]')
    await s.script(`
      const input = document.querySelector('form[aria-label="Settings"] input[type="number"][min="1"][max="1024"]');
      input.value = '3'; input.dispatchEvent(new Event('input', { bubbles: true }));`)
    await s.click('form[aria-label="Settings"] button[type="submit"]')
    await s.waitText('main', /Saved\./)
  } finally {
    await s.end()
  }
  s = await openApp()
  try {
    await go(s, '#/settings')
    await s.find('form[aria-label="Settings"]')
    const value = await s.script(`return document.querySelector('form[aria-label="Settings"] input[type="number"][min="1"][max="1024"]').value`)
    assert.equal(value, '3')
  } finally {
    await s.end()
  }
})
