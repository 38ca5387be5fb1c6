// The desktop app's transport: the same API, answered in process by the
// Tauri shell (`api` command), and live events as Tauri events.

import { invoke, isTauri } from '@tauri-apps/api/core'
import { listen } from '@tauri-apps/api/event'

import { ApiError, type Transport } from './transport'
import type { LiveEvent, Problem } from './types'

interface ApiReply {
  status: number
  body: unknown
}

export class TauriTransport implements Transport {
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const reply = await invoke<ApiReply>('api', { method, path, body: body ?? null })
    if (reply.status >= 400) {
      const problem = (reply.body && typeof reply.body === 'object' ? reply.body : null) as Problem | null
      const message = problem ? `${problem.title}: ${problem.detail}` : `HTTP ${reply.status}`
      throw new ApiError(reply.status, problem, message)
    }
    return reply.body as T
  }

  subscribe(on: (event: LiveEvent) => void, onStatus?: (connected: boolean) => void): () => void {
    let stop: (() => void) | null = null
    let stopped = false
    void listen<LiveEvent>('pier-event', (e) => on(e.payload)).then((unlisten) => {
      if (stopped) unlisten()
      else {
        stop = unlisten
        onStatus?.(true)
      }
    })
    return () => {
      stopped = true
      stop?.()
    }
  }
}

export const inTauri = isTauri

/** Settings of the desktop app (applied at the next start). */
export interface DesktopSettings {
  data_dir: string
  kafka_port: number
  http_port: number
  auto_create_topics: boolean
  default_partitions: number
  theme: string
  window_width: number
  window_height: number
}

export interface StartupNotes {
  notes: string[]
  kafka_address: string
  http_address: string
  data_dir: string
}

export const desktop = {
  settings: () => invoke<DesktopSettings>('settings_get'),
  saveSettings: (settings: DesktopSettings) => invoke<DesktopSettings>('settings_set', { settings }),
  notes: () => invoke<StartupNotes>('startup_notes'),
}
