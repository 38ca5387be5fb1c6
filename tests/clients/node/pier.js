'use strict'
// Starts and stops a Pier broker for the kafkajs tests.
//
// startPier() spawns `$PIER_BIN serve --data-dir DIR --kafka 127.0.0.1:0`,
// waits for its ready line (`pier ready kafka=HOST:PORT data=DIR`) and
// resolves to a handle with .bootstrap, .stop() and .stderrTail().
// Options: extraArgs (more `pier serve` arguments, e.g. --kafka-listener),
// tlsInit (run `pier tls init` on the data directory first; .caFile is then
// the CA clients must trust). Listeners besides the plaintext one are in
// .listeners, e.g. { sasl_plaintext: '127.0.0.1:PORT', ssl: ..., sasl_ssl: ... }.

const { execFileSync, spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const readline = require('node:readline')

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..')
const READY_RE = /^pier ready kafka=(\S+):(\d+) http=\S+ data=(.+?)((?: [a-z_]+=\S+)*)$/
const READY_TIMEOUT_MS = 30000
const STOP_TIMEOUT_MS = 20000

const live = new Set()
// Never leave a broker behind, however this process ends.
process.on('exit', () => {
  for (const child of live) {
    try { child.kill('SIGKILL') } catch (_) {}
  }
})

function pierBin () {
  const raw = process.env.PIER_BIN || 'target/debug/pier'
  if (path.isAbsolute(raw)) return raw
  const fromCwd = path.resolve(process.cwd(), raw)
  return fs.existsSync(fromCwd) ? fromCwd : path.resolve(REPO_ROOT, raw)
}

async function startPier ({ dataDir, port = 0, extraArgs = [], tlsInit = null } = {}) {
  const bin = pierBin()
  if (!fs.existsSync(bin)) {
    throw new Error(`Pier binary not found at ${bin} (set PIER_BIN or build it first)`)
  }
  const ownDir = !dataDir
  dataDir = dataDir || path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pier-kafkajs-')), 'data')
  if (tlsInit) {
    execFileSync(bin, ['tls', 'init', '--data-dir', dataDir, ...(tlsInit.expired ? ['--expired'] : [])],
      { stdio: ['ignore', 'pipe', 'pipe'], timeout: 60000 })
  }
  const args = ['serve', '--data-dir', dataDir, '--kafka', `127.0.0.1:${port}`, '--http', '127.0.0.1:0', ...extraArgs]
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  live.add(child)

  const stderr = []
  child.stderr.setEncoding('utf8')
  readline.createInterface({ input: child.stderr }).on('line', line => {
    stderr.push(line)
    if (stderr.length > 300) stderr.shift()
  })
  const stderrTail = (n = 80) => `---- pier stderr (last ${n} lines) ----\n` + stderr.slice(-n).join('\n')

  let exit = null
  const exited = new Promise(resolve => {
    child.on('exit', (code, signal) => {
      exit = { code, signal }
      live.delete(child)
      resolve(exit)
    })
  })

  const ready = await new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: child.stdout })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`pier printed no ready line within ${READY_TIMEOUT_MS} ms\n${stderrTail()}`))
    }, READY_TIMEOUT_MS)
    let first = true
    rl.on('line', line => {
      if (!first) return // keep draining stdout
      first = false
      clearTimeout(timer)
      resolve(line)
    })
    child.on('error', e => { clearTimeout(timer); reject(e) })
    exited.then(({ code, signal }) => {
      clearTimeout(timer)
      reject(new Error(`pier exited (code=${code} signal=${signal}) before its ready line\n${stderrTail()}`))
    })
  })

  const m = READY_RE.exec(ready)
  if (!m) {
    child.kill('SIGKILL')
    throw new Error(`unexpected first stdout line from pier: ${JSON.stringify(ready)}`)
  }
  const host = m[1]
  const boundPort = Number(m[2])
  const listeners = Object.fromEntries(m[4].trim().split(/\s+/).filter(Boolean).map(kv => kv.split('=', 2)))
  if (port && boundPort !== port) throw new Error(`pier bound port ${boundPort}, asked for ${port}`)

  async function stop (signal = 'SIGTERM') {
    if (exit) {
      throw new Error(`pier had already exited (code=${exit.code} signal=${exit.signal})\n${stderrTail()}`)
    }
    child.kill(signal)
    let timer
    const timeout = new Promise(resolve => { timer = setTimeout(() => resolve(null), STOP_TIMEOUT_MS) })
    const result = await Promise.race([exited, timeout])
    clearTimeout(timer)
    if (!result) {
      child.kill('SIGKILL')
      await exited
      throw new Error(`pier did not exit within ${STOP_TIMEOUT_MS} ms of ${signal}\n${stderrTail()}`)
    }
    return result
  }

  function cleanup () {
    if (ownDir) fs.rmSync(path.dirname(dataDir), { recursive: true, force: true })
  }

  return {
    bootstrap: `${host}:${boundPort}`,
    host,
    port: boundPort,
    listeners,
    dataDir,
    caFile: path.join(dataDir, 'tls', 'ca.pem'),
    stop,
    stderrTail,
    stderrLines: () => stderr.slice(),
    cleanup,
    exited: () => exit
  }
}

// Runs fn(pier) against a fresh broker (options as for startPier); always
// stops it (SIGTERM, which must exit with status 0) and removes its data
// directory.
async function withPier (fn, options = {}) {
  const pier = await startPier(options)
  let err = null
  try {
    await fn(pier)
  } catch (e) {
    err = e
  }
  let stopErr = null
  try {
    const { code, signal } = await pier.stop('SIGTERM')
    if (code !== 0) stopErr = new Error(`pier exited with code=${code} signal=${signal} after SIGTERM (want 0)\n${pier.stderrTail()}`)
  } catch (e) {
    stopErr = e
  }
  pier.cleanup()
  if (err) {
    console.error(pier.stderrTail())
    throw err
  }
  if (stopErr) throw stopErr
}

function killAll () {
  for (const child of live) {
    try { child.kill('SIGKILL') } catch (_) {}
  }
}

module.exports = { startPier, withPier, killAll, pierBin }
