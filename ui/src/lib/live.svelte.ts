// Live broker state shared by the screens: broker info, topics, groups,
// queue groups and rate series, kept fresh by the event stream.

import { api } from '../api/client'
import type {
  BrokerInfo,
  Durability,
  Fault,
  GroupSummary,
  LiveEvent,
  QueueGroupSummary,
  StatsSample,
  TimelineEntry,
  TopicSummary,
} from '../api/types'
import { appendCapped, lagHistory } from './series'

const HISTORY = 120
/** Fault timeline entries kept for the charts and the Faults screen. */
const TIMELINE_KEPT = 200

class Live {
  connected = $state(false)
  info = $state<BrokerInfo | null>(null)
  topics = $state<TopicSummary[]>([])
  groups = $state<GroupSummary[]>([])
  queues = $state<QueueGroupSummary[]>([])
  latest = $state<StatsSample | null>(null)
  error = $state<string | null>(null)
  // Plain arrays, replaced on every sample, so charts redraw.
  produceRate = $state<number[]>([])
  consumeRate = $state<number[]>([])
  commitLatency = $state<number[]>([])
  /** When each sample of the series above was taken (Unix ms). */
  sampleTimes = $state<number[]>([])
  /** Faults on now, the fault timeline (newest last) and the fsync switch. */
  faults = $state<Fault[]>([])
  timeline = $state<TimelineEntry[]>([])
  durability = $state<Durability | null>(null)
  /** Lag history per `group|topic|partition`, for partitions in the latest sample. */
  partitionLag = $state<Record<string, number[]>>({})
  /** Bumped on every change, so screens can refetch what they show. */
  tick = $state(0)
  private stop: (() => void) | null = null
  private pending: ReturnType<typeof setTimeout> | null = null

  start(): void {
    if (this.stop) return
    void this.refresh()
    void api.stats(HISTORY).then((samples) => samples.forEach((s) => this.addSample(s)), () => {})
    this.stop = api.transport.subscribe(
      (e) => this.onEvent(e),
      (ok) => {
        this.connected = ok
        if (ok) void this.refresh()
      },
    )
  }

  async refresh(): Promise<void> {
    try {
      const [info, topics, groups, queues, faults, timeline, durability] = await Promise.all([
        api.broker(),
        api.topics(),
        api.groups(),
        api.queues(),
        api.faults(),
        api.faultTimeline(),
        api.durability(),
      ])
      this.info = info
      this.topics = topics
      this.groups = groups
      this.queues = queues
      this.faults = faults
      this.timeline = timeline.slice(-TIMELINE_KEPT)
      this.durability = durability
      this.error = null
      this.tick++
    } catch (e) {
      this.error = e instanceof Error ? e.message : String(e)
    }
  }

  private lastSampleMs = 0

  private addSample(s: StatsSample): void {
    // History and the event stream may both deliver a sample.
    if (s.t_ms <= this.lastSampleMs) return
    this.lastSampleMs = s.t_ms
    this.latest = s
    this.sampleTimes = appendCapped(this.sampleTimes, s.t_ms, HISTORY)
    this.produceRate = appendCapped(this.produceRate, s.produce_records_per_sec, HISTORY)
    const consumed = s.consume_records_per_sec + s.queues.reduce((a, q) => a + q.accepted_per_sec, 0)
    this.consumeRate = appendCapped(this.consumeRate, consumed, HISTORY)
    this.commitLatency = appendCapped(this.commitLatency, s.commit_latency_avg_micros / 1000, HISTORY)
    this.partitionLag = lagHistory(this.partitionLag, s, HISTORY)
  }

  private onEvent(e: LiveEvent): void {
    if (e.kind === 'stats') {
      this.addSample(e)
    }
    // Coalesce bursts of events into one refresh.
    if (this.pending === null) {
      this.pending = setTimeout(() => {
        this.pending = null
        void this.refresh()
      }, 300)
    }
  }
}

export const live = new Live()
