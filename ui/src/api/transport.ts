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
] as const

export class HttpTransport implements Transport {
  constructor(private readonly base = '') {}

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response
    try {
      response = await fetch(this.base + path, {
        method,
        headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
    } catch (e) {
      throw new ApiError(0, null, `Pier is not reachable (${String(e)})`)
    }
    const text = await response.text()
    if (!response.ok) {
      let problem: Problem | null = null
      try {
        problem = JSON.parse(text) as Problem
      } catch {
        // not problem JSON
      }
      const message = problem ? `${problem.title}: ${problem.detail}` : `HTTP ${response.status}`
      throw new ApiError(response.status, problem, message)
    }
    return (text ? JSON.parse(text) : undefined) as T
  }

  subscribe(on: (event: LiveEvent) => void, onStatus?: (connected: boolean) => void): () => void {
    const source = new EventSource(this.base + '/api/v1/events')
    const handler = (e: MessageEvent) => {
      try {
        on(JSON.parse(e.data as string) as LiveEvent)
      } catch {
        // ignore malformed events
      }
    }
    for (const kind of EVENT_KINDS) source.addEventListener(kind, handler as EventListener)
    source.onopen = () => onStatus?.(true)
    source.onerror = () => onStatus?.(false)
    return () => source.close()
  }
}
