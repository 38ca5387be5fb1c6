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

  /** Waits until the text of `css` matches `re`. */
  async waitText(css, re, timeoutMs = 20_000) {
    const deadline = Date.now() + timeoutMs
    let last = ''
    while (Date.now() < deadline) {
      try {
        last = await this.text(css)
        if (re.test(last)) return last
      } catch {
        // not there yet
      }
      await new Promise((r) => setTimeout(r, 250))
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

  async screenshot() {
    return Buffer.from(await this.cmd('GET', '/screenshot'), 'base64')
  }

  async end() {
    await fetch(`${this.base}/session/${this.id}`, { method: 'DELETE' }).catch(() => {})
  }
}
