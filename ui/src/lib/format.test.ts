import { describe, expect, it } from 'vitest'

import { bytes, count, duration, hexDump, jsonProblem, plural, prettyJson, rate, topicNameProblem } from './format'
import type { StatsSample } from '../api/types'
import { appendCapped, lagHistory, lagKey, markPositions, sparkPath, visibleRange } from './series'

describe('format', () => {
  it('formats sizes, counts and rates', () => {
    expect(bytes(0)).toBe('0 B')
    expect(bytes(1536)).toBe('1.54 KB')
    expect(bytes(12_345_678)).toBe('12.3 MB')
    expect(count(1234567)).toBe('1,234,567')
    expect(plural(1, 'topic')).toBe('1 topic')
    expect(plural(3, 'partition')).toBe('3 partitions')
    expect(rate(0)).toBe('0 msg/s')
    expect(rate(2.5)).toBe('2.5 msg/s')
    expect(rate(12345.6)).toBe('12,346 msg/s')
    expect(duration(65_000)).toBe('1m 5s')
    expect(duration(7_300_000)).toBe('2h 1m')
    expect(duration(7 * 86_400_000)).toBe('7d')
    expect(duration(90_000_000)).toBe('1d 1h')
  })

  it('pretty-prints JSON and dumps hex', () => {
    expect(prettyJson('{"a":1}')).toBe('{\n  "a": 1\n}')
    expect(prettyJson('plain text')).toBeNull()
    expect(prettyJson('{broken')).toBeNull()
    expect(hexDump(new TextEncoder().encode('hello, pier!\n\u0001'))[0]).toBe(
      '00000000  68 65 6c 6c 6f 2c 20 70 69 65 72 21 0a 01        hello, pier!..',
    )
  })

  it('explains bad topic names and bad JSON', () => {
    expect(topicNameProblem('orders.v1')).toBeNull()
    expect(topicNameProblem('')).toMatch(/name/)
    expect(topicNameProblem('has space')).toMatch(/Only letters/)
    expect(topicNameProblem('x'.repeat(250))).toMatch(/249/)
    expect(topicNameProblem('__pier_queues')).toMatch(/reserved/)
    expect(jsonProblem('{"ok": true}')).toBeNull()
    expect(jsonProblem('{"ok": tru}')).not.toBeNull()
  })
})

describe('series', () => {
  it('keeps the newest samples', () => {
    let s: number[] = []
    for (const v of [1, 2, 3, 4, Number.NaN]) s = appendCapped(s, v, 3)
    expect(s).toEqual([3, 4, 0])
  })

  it('draws a path and finds visible rows', () => {
    expect(sparkPath([0, 10], 100, 50)).toBe('M0.0,50.0 L100.0,0.0')
    expect(sparkPath([], 10, 10)).toBe('')
    expect(visibleRange(0, 300, 30, 100_000, 0)).toEqual({ first: 0, last: 10 })
    expect(visibleRange(30_000, 300, 30, 100_000, 2)).toEqual({ first: 998, last: 1012 })
    expect(visibleRange(0, 300, 30, 5)).toEqual({ first: 0, last: 5 })
  })
  it('keeps per-partition lag history only for live partitions', () => {
    const sample = (lags: [string, number, number][]) =>
      ({ groups: [{ group: 'g', consumed_per_sec: 0, lag: 0, members: 1, partitions: lags.map(([topic, partition, lag]) => ({ topic, partition, lag })) }] }) as unknown as StatsSample
    let h: Record<string, number[]> = {}
    h = lagHistory(h, sample([['t', 0, 5], ['t', 1, 7]]), 2)
    h = lagHistory(h, sample([['t', 0, 3], ['t', 1, 6]]), 2)
    h = lagHistory(h, sample([['t', 0, 0]]), 2)
    expect(h[lagKey('g', 't', 0)]).toEqual([3, 0])
    expect(h[lagKey('g', 't', 1)]).toBeUndefined()
  })
  it('places fault marks on the time axis', () => {
    const marks = [{ t_ms: 500 }, { t_ms: 1_500 }, { t_ms: 2_000 }, { t_ms: 9_000 }]
    expect(markPositions(marks, [1_000, 2_000, 3_000], 100).map((m) => m.x)).toEqual([25, 50])
    expect(markPositions(marks, [1_000], 100)).toEqual([])
  })
})
