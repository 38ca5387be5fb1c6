// A tiny WebDriver client (the W3C protocol over fetch) for tauri-driver.

export class Session {
  constructor(base, id) {
    this.base = base
    this.id = id
  }

  static async start(base, application, env = {}) {
    const r = await fetch(`${base}/session`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        capabilities: { alwaysMatch: { browserName: 'wry', 'tauri:options': { application, env } } },
      }),
    })
    const body = await r.json()
    if (!r.ok) throw new Error(`new session: ${JSON.stringify(body)}`)
    return new Session(base, body.value.sessionId)
  }

  async cmd(method, path, body) {
    const r = await fetch(`${this.base}/session/${this.id}${path}`, {
      method,
      headers: { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const json = await r.json()
    if (!r.ok) throw new Error(`${method} ${path}: ${JSON.stringify(json.value)}`)
    return json.value
  }

  async find(css, timeoutMs = 15_000) {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      try {
        const el = await this.cmd('POST', '/element', { using: 'css selector', value: css })
        return Object.values(el)[0]
      } catch (e) {
        if (Date.now() > deadline) throw e
        await new Promise((r) => setTimeout(r, 200))
      }
    }
  }

  /** The element's textContent (WebDriver's rendered text skips rows
   *  positioned inside a scrolled box). */
  async text(css) {
    await this.find(css)
    return this.script(`return document.querySelector(arguments[0])?.textContent ?? ''`, [css])
  }

  /** Waits until the text of `css` matches `re`, looking every `intervalMs`. */
  async waitText(css, re, timeoutMs = 20_000, intervalMs = 250) {
    const deadline = Date.now() + timeoutMs
    let last = ''
    while (Date.now() < deadline) {
      try {
        last = await this.script(`return document.querySelector(arguments[0])?.textContent ?? null`, [css])
        if (last !== null && re.test(last)) return last
      } catch {
        // not there yet
      }
      await new Promise((r) => setTimeout(r, intervalMs))
    }
    throw new Error(`waiting for ${css} to match ${re}; last text: ${last}`)
  }

  async click(css) {
    await this.cmd('POST', `/element/${await this.find(css)}/click`, {})
  }

  async type(css, text) {
    const el = await this.find(css)
    await this.cmd('POST', `/element/${el}/clear`, {})
    await this.cmd('POST', `/element/${el}/value`, { text })
  }

  async script(source, args = []) {
    return this.cmd('POST', '/execute/sync', { script: source, args })
  }

  /** Runs `source` with a `done(value)` callback as its last argument. */
  async scriptAsync(source, args = []) {
    return this.cmd('POST', '/execute/async', { script: source, args })
  }

  async screenshot() {
    return Buffer.from(await this.cmd('GET', '/screenshot'), 'base64')
  }

  async end() {
    await fetch(`${this.base}/session/${this.id}`, { method: 'DELETE' }).catch(() => {})
  }
}

/**
 * Launches the app through tauri-driver and measures the time from asking
 * for it to a window showing live broker data: the Overview with the
 * broker's Kafka bootstrap address (fetched from the running broker).
 * `navigationMs` is when the webview started loading the UI (its
 * `performance.timeOrigin`), after the process started and the window
 * opened. Returns the open session; end it when done.
 */
export async function launchTimed(driverUrl, application, { timeoutMs = 60_000 } = {}) {
  const t0 = Date.now()
  const session = await Session.start(driverUrl, application)
  const sessionMs = Date.now() - t0
  let text
  let origin
  let interactiveMs
  try {
    text = await session.waitText('main', /Kafka bootstrap\s+127\.0\.0\.1:\d+/, timeoutMs, 10)
    interactiveMs = Date.now() - t0
    origin = await session.script('return performance.timeOrigin')
  } catch (e) {
    await session.end()
    throw e
  }
  return {
    session,
    bootstrap: /Kafka bootstrap\s+(127\.0\.0\.1:\d+)/.exec(text)[1],
    sessionMs,
    navigationMs: Math.round(origin - t0),
    interactiveMs,
  }
}
