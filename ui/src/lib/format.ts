// Formatting for numbers, sizes, rates and times, shared by every screen.

export function bytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '–'
  const units = ['B', 'KB', 'MB', 'GB', 'TB']
  let v = n
  let u = 0
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000
    u++
  }
  return u === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`
}

export function count(n: number): string {
  if (!Number.isFinite(n)) return '–'
  return Math.round(n).toLocaleString('en-US')
}

/** `1 topic`, `3 topics`. */
export function plural(n: number, word: string): string {
  return `${count(n)} ${word}${n === 1 ? '' : 's'}`
}

export function rate(perSec: number, unit = 'msg/s'): string {
  if (!Number.isFinite(perSec) || perSec <= 0) return `0 ${unit}`
  if (perSec < 10) return `${perSec.toFixed(1)} ${unit}`
  return `${count(perSec)} ${unit}`
}

export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '–'
  const s = Math.floor(ms / 1000)
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m ${s % 60}s`
  const h = Math.floor(m / 60)
  if (h < 24) return `${h}h ${m % 60}m`
  const d = Math.floor(h / 24)
  return h % 24 ? `${d}d ${h % 24}h` : `${d}d`
}

export function time(ms: number): string {
  const d = new Date(ms)
  return Number.isNaN(d.getTime()) ? '–' : d.toISOString().replace('T', ' ').replace('Z', '')
}

/** Pretty JSON if the text is JSON, else null. */
export function prettyJson(text: string | null | undefined): string | null {
  if (text == null) return null
  const t = text.trim()
  if (!(t.startsWith('{') || t.startsWith('['))) return null
  try {
    return JSON.stringify(JSON.parse(t), null, 2)
  } catch {
    return null
  }
}

/** Hex dump lines: offset, 16 bytes in hex, printable text. */
export function hexDump(data: Uint8Array): string[] {
  const lines: string[] = []
  for (let i = 0; i < data.length; i += 16) {
    const chunk = Array.from(data.slice(i, i + 16))
    const hex = chunk.map((b) => b.toString(16).padStart(2, '0')).join(' ')
    const text = chunk.map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('')
    lines.push(`${i.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  ${text}`)
  }
  return lines
}

/** Checks a topic name as Kafka (and Pier) do; returns why it is bad. */
export function topicNameProblem(name: string): string | null {
  if (!name) return 'Give the topic a name.'
  if (name === '.' || name === '..') return 'A topic cannot be named "." or "..".'
  if (name.length > 249) return 'At most 249 characters.'
  if (!/^[a-zA-Z0-9._-]+$/.test(name)) return "Only letters, digits, '.', '_' and '-'."
  if (name.startsWith('__pier')) return 'Names starting with __pier are reserved.'
  return null
}

/** Why a message value is not valid JSON, or null when it is. */
export function jsonProblem(text: string): string | null {
  try {
    JSON.parse(text)
    return null
  } catch (e) {
    return e instanceof Error ? e.message : String(e)
  }
}
