// Series of samples for the live charts, and list virtualization.

import type { StatsSample } from '../api/types'

/** `values` plus `v` (non-finite counts as 0), keeping the newest `capacity`. */
export function appendCapped(values: readonly number[], v: number, capacity: number): number[] {
  const next = [...values, Number.isFinite(v) ? v : 0]
  return next.length > capacity ? next.slice(next.length - capacity) : next
}

/** SVG path for `values` scaled into a `width`×`height` box (0 at the bottom). */
export function sparkPath(values: readonly number[], width: number, height: number, max?: number): string {
  if (values.length === 0) return ''
  const top = max ?? Math.max(...values, 1)
  const step = values.length > 1 ? width / (values.length - 1) : 0
  return values
    .map((v, i) => {
      const x = (i * step).toFixed(1)
      const y = (height - (Math.max(0, v) / (top || 1)) * height).toFixed(1)
      return `${i === 0 ? 'M' : 'L'}${x},${y}`
    })
    .join(' ')
}

/** Rows visible in a scrolled list of fixed-height rows, with overscan. */
export function visibleRange(scrollTop: number, viewport: number, rowHeight: number, total: number, overscan = 8) {
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan)
  const last = Math.min(total, Math.ceil((scrollTop + viewport) / rowHeight) + overscan)
  return { first, last }
}

/** Key of one group's partition in [`lagHistory`]. */
export function lagKey(group: string, topic: string, partition: number): string {
  return `${group}|${topic}|${partition}`
}

/**
 * Adds one sample's per-partition lags to `history`; partitions missing from
 * the sample are dropped, so the map stays as small as what is live.
 */
export function lagHistory(history: Record<string, number[]>, s: StatsSample, capacity: number): Record<string, number[]> {
  const next: Record<string, number[]> = {}
  for (const g of s.groups) {
    for (const p of g.partitions) {
      const key = lagKey(g.group, p.topic, p.partition)
      next[key] = appendCapped(history[key] ?? [], p.lag, capacity)
    }
  }
  return next
}

/**
 * Where fault timeline entries fall on a chart `width` wide whose samples
 * were taken at `times` (oldest first); entries outside are left out.
 */
export function markPositions<T extends { t_ms: number }>(marks: readonly T[], times: readonly number[], width: number): { x: number; entry: T }[] {
  const first = times[0]
  const last = times[times.length - 1]
  if (first === undefined || last === undefined || last <= first) return []
  return marks
    .filter((m) => m.t_ms >= first && m.t_ms <= last)
    .map((m) => ({ x: ((m.t_ms - first) / (last - first)) * width, entry: m }))
}
