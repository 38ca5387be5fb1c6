// How the UI reaches Pier. The desktop app and the browser differ only
// here: HttpTransport talks to `pier serve` (fetch + Server-Sent Events);
// a Tauri transport (invoke + Tauri events) will implement the same
// interface.

import type { LiveEvent, Problem } from './types'

export interface Transport {
  request<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T>
  /** Calls `on` for every live event until the returned function is called. */
  subscribe(on: (event: LiveEvent) => void, onStatus?: (connected: boolean) => void): () => void
}

/** A failed call, with the server's problem details when it sent them. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem | null,
    message: string,
  ) {
    super(message)
  }
}

export const EVENT_KINDS = [
  'records',
  'topic-created',
  'topic-deleted',
  'group',
  'member-joined',
  'member-left',
  'rebalance',
  'stats',
  'anomaly',
] as const

const TOKEN_KEY = 'pier-token'

/**
 * How the HTTP transport asks the user for the API token after a 401 (a
 * Pier started with --allow-remote or --http-token). The UI shell sets
 * `ask`; it resolves to the token typed, or null when the user gives up.
 */
export const tokenPrompt: { ask: ((retry: string) => Promise<string | null>) | null } = { ask: null }

export class HttpTransport implements Transport {
  private token: string | null = sessionStorage.getItem(TOKEN_KEY)
  private asking: Promise<string | null> | null = null
  private readonly reconnect = new Set<() => void>()

  constructor(private readonly base = '') {}

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      let response: Response
      try {
        response = await fetch(this.base + path, {
          method,
          headers: this.headers(body !== undefined),
          body: body === undefined ? undefined : JSON.stringify(body),
        })
      } catch (e) {
        throw new ApiError(0, null, `Pier is not reachable (${String(e)})`)
      }
      const text = await response.text()
      if (response.ok) return (text ? JSON.parse(text) : undefined) as T
      let problem: Problem | null = null
      try {
        problem = JSON.parse(text) as Problem
      } catch {
        // not problem JSON
      }
      const message = problem ? `${problem.title}: ${problem.detail}` : `HTTP ${response.status}`
      const retry = response.status === 401 && attempt < 3 && (await this.askToken(attempt === 0 ? '' : 'That token was not accepted.'))
      if (!retry) throw new ApiError(response.status, problem, message)
    }
  }

  private headers(json: boolean): Record<string, string> {
    const h: Record<string, string> = json ? { 'Content-Type': 'application/json' } : {}
    if (this.token) h.Authorization = `Bearer ${this.token}`
    return h
  }

  /** One prompt shared by every request that got a 401 meanwhile. */
  private async askToken(reason: string): Promise<boolean> {
    if (!tokenPrompt.ask) return false
    this.asking ??= tokenPrompt.ask(reason).finally(() => (this.asking = null))
    const token = await this.asking
    if (!token) return false
    if (token !== this.token) {
      this.token = token
      sessionStorage.setItem(TOKEN_KEY, token)
      for (const r of this.reconnect) r()
    }
    return true
  }

  subscribe(on: (event: LiveEvent) => void, onStatus?: (connected: boolean) => void): () => void {
    let source: EventSource | null = null
    const handler = (e: MessageEvent) => {
      try {
        on(JSON.parse(e.data as string) as LiveEvent)
      } catch {
        // ignore malformed events
      }
    }
    // EventSource cannot send headers: the token goes in the query.
    const open = () => {
      source?.close()
      const q = this.token ? `?access_token=${encodeURIComponent(this.token)}` : ''
      source = new EventSource(this.base + '/api/v1/events' + q)
      for (const kind of EVENT_KINDS) source.addEventListener(kind, handler as EventListener)
      source.onopen = () => onStatus?.(true)
      source.onerror = () => onStatus?.(false)
    }
    open()
    this.reconnect.add(open)
    return () => {
      this.reconnect.delete(open)
      source?.close()
    }
  }
}
