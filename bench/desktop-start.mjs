#!/usr/bin/env node
// Start to interactive window of the desktop app: launches pier-desktop
// under Xvfb through tauri-driver LAUNCHES times (default 5), each with a
// fresh XDG_DATA_HOME/XDG_CONFIG_HOME (so a first start: new data
// directory, new settings) and free ports, and measures from asking for
// the app to the window's Overview showing the running broker's bootstrap
// address. Also when the broker's HTTP API first answered and when the
// webview started loading the UI. Prints each launch and min/median/max.
//
//   node bench/desktop-start.mjs [LAUNCHES]
//   PIER_DESKTOP_BIN (default target/debug/pier-desktop), TAURI_DRIVER
//   (default ~/.cargo/bin/tauri-driver).
//
// The time includes WebKitWebDriver setting up its automation session
// (tauri-driver starts the app for it), so a plain launch is a little
// faster than this.

import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

import { launchTimed } from '../src-tauri/e2e/webdriver.mjs'

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const app = path.resolve(repo, process.env.PIER_DESKTOP_BIN ?? 'target/debug/pier-desktop')
const driverBin = process.env.TAURI_DRIVER ?? path.join(os.homedir(), '.cargo/bin/tauri-driver')
const launches = Number(process.argv[2] ?? 5)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

async function distinctPorts(n) {
  const ports = new Set()
  while (ports.size < n) ports.add(await freePort())
  return [...ports]
}

const display = `:${200 + Math.floor(Math.random() * 100)}`
const xvfb = spawn('Xvfb', [display, '-screen', '0', '1400x900x24', '-nolisten', 'tcp'], { stdio: 'ignore' })
await sleep(1000)

const rows = []
try {
  for (let i = 1; i <= launches; i++) {
    const home = mkdtempSync(path.join(os.tmpdir(), 'pier-desktop-start-'))
    const env = { XDG_DATA_HOME: path.join(home, 'data'), XDG_CONFIG_HOME: path.join(home, 'config') }
    const [kafkaPort, httpPort, driverPort, nativePort] = await distinctPorts(4)
    const store = path.join(env.XDG_DATA_HOME, 'dev.pier.workbench', 'settings.json')
    mkdirSync(path.dirname(store), { recursive: true })
    writeFileSync(store, JSON.stringify({ settings: { kafka_port: kafkaPort, http_port: httpPort } }))
    const driver = spawn(driverBin, ['--port', String(driverPort), '--native-port', String(nativePort)], {
      stdio: 'ignore',
      env: { ...process.env, ...env, DISPLAY: display },
    })
    const url = `http://127.0.0.1:${driverPort}`
    for (let k = 0; k < 100; k++) {
      try {
        await fetch(`${url}/status`)
        break
      } catch {
        await sleep(100)
      }
    }
    // The broker's HTTP API, watched from outside while the window starts.
    const t0 = Date.now()
    let brokerMs = null
    let watching = true
    const watch = (async () => {
      while (watching && brokerMs === null) {
        try {
          const r = await fetch(`http://127.0.0.1:${httpPort}/api/v1/broker`)
          if (r.ok) brokerMs = Date.now() - t0
        } catch {
          await sleep(10)
        }
      }
    })()
    try {
      const m = await launchTimed(url, app)
      watching = false
      await watch
      await m.session.end()
      rows.push({ launch: i, interactive_ms: m.interactiveMs, broker_http_ms: brokerMs, ui_loading_from_ms: m.navigationMs, webdriver_session_ms: m.sessionMs })
      console.log(`launch ${i}: interactive window after ${m.interactiveMs} ms (broker HTTP answered at ${brokerMs} ms, UI loading from ${m.navigationMs} ms)`)
    } finally {
      watching = false
      driver.kill('SIGTERM')
      await new Promise((r) => (driver.exitCode !== null ? r() : driver.once('exit', r)))
      await sleep(500) // the app and WebKitWebDriver go with the driver
      rmSync(home, { recursive: true, force: true })
    }
  }
} finally {
  xvfb.kill('SIGTERM')
}

console.table(rows)
const stats = (key) => {
  const v = rows.map((r) => r[key]).filter((x) => x !== null).sort((a, b) => a - b)
  return { min: v[0], median: v.length % 2 ? v[(v.length - 1) / 2] : Math.round((v[v.length / 2 - 1] + v[v.length / 2]) / 2), max: v.at(-1) }
}
const s = stats('interactive_ms')
const b = stats('broker_http_ms')
console.log(`start to interactive window over ${rows.length} launches: min ${s.min} ms, median ${s.median} ms, max ${s.max} ms`)
console.log(`start to broker HTTP answering: min ${b.min} ms, median ${b.median} ms, max ${b.max} ms`)
console.log(`(${app.startsWith(repo) ? path.relative(repo, app) : app}; ${os.cpus().length} CPUs, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')})`)
