// Typed calls to Pier's API (types generated from the Rust side).

import type {
  AckRequest,
  AckResponse,
  BrokerInfo,
  BrowsePage,
  BrowseQuery,
  Durability,
  Fault,
  FaultRequest,
  FaultSpec,
  FaultStarted,
  GroupSummary,
  Journey,
  LabRun,
  LabStart,
  LabSummary,
  LedgerStatus,
  NewSimConsumers,
  NewSimProducer,
  NewTopic,
  ProduceRequest,
  Produced,
  QueueGroupSummary,
  QueueSettings,
  SecurityInfo,
  Simulation,
  StatsSample,
  TimelineEntry,
  TopicSummary,
  TopicUpdate,
  VerdictRequest,
  VerdictResponse,
} from './types'
import { TauriTransport, inTauri } from './tauri'
import { HttpTransport, type Transport } from './transport'

const enc = encodeURIComponent

function query(q: Record<string, string | number | undefined | null>): string {
  const parts = Object.entries(q)
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => `${enc(k)}=${enc(String(v))}`)
  return parts.length ? `?${parts.join('&')}` : ''
}

export function createClient(t: Transport) {
  return {
    transport: t,
    broker: () => t.request<BrokerInfo>('GET', '/api/v1/broker'),
    topics: () => t.request<TopicSummary[]>('GET', '/api/v1/topics'),
    topic: (name: string) => t.request<TopicSummary>('GET', `/api/v1/topics/${enc(name)}`),
    createTopic: (body: NewTopic) => t.request<TopicSummary>('POST', '/api/v1/topics', body),
    updateTopic: (name: string, body: TopicUpdate) => t.request<TopicSummary>('PATCH', `/api/v1/topics/${enc(name)}`, body),
    configureQueue: (group: string, body: QueueSettings) =>
      t.request<QueueGroupSummary>('PUT', `/api/v1/queues/${enc(group)}`, body),
    deleteTopic: (name: string) => t.request<void>('DELETE', `/api/v1/topics/${enc(name)}`),
    produce: (topic: string, body: ProduceRequest) =>
      t.request<Produced>('POST', `/api/v1/topics/${enc(topic)}/messages`, body),
    browse: (topic: string, q: BrowseQuery) =>
      t.request<BrowsePage>('GET', `/api/v1/topics/${enc(topic)}/messages${query(q)}`),
    groups: () => t.request<GroupSummary[]>('GET', '/api/v1/groups'),
    queues: () => t.request<QueueGroupSummary[]>('GET', '/api/v1/queues'),
    ack: (group: string, body: AckRequest) =>
      t.request<AckResponse>('POST', `/api/v1/queues/${enc(group)}/ack`, body),
    simulations: () => t.request<Simulation[]>('GET', '/api/v1/simulations'),
    startProducer: (body: NewSimProducer) => t.request<Simulation>('POST', '/api/v1/simulations/producers', body),
    startConsumers: (body: NewSimConsumers) => t.request<Simulation>('POST', '/api/v1/simulations/consumers', body),
    stopSimulation: (id: number) => t.request<void>('DELETE', `/api/v1/simulations/${id}`),
    faultKinds: () => t.request<FaultSpec[]>('GET', '/api/v1/faults/kinds'),
    faults: () => t.request<Fault[]>('GET', '/api/v1/faults'),
    faultTimeline: () => t.request<TimelineEntry[]>('GET', '/api/v1/faults/timeline'),
    startFault: (body: FaultRequest) => t.request<FaultStarted>('POST', '/api/v1/faults', body),
    healFault: (id: number) => t.request<TimelineEntry>('DELETE', `/api/v1/faults/${id}`),
    durability: () => t.request<Durability>('GET', '/api/v1/durability'),
    setDurability: (fsync: boolean) => t.request<Durability>('PUT', '/api/v1/durability', { fsync }),
    security: () => t.request<SecurityInfo>('GET', '/api/v1/security'),
    setUser: (name: string, password: string) => t.request<void>('PUT', `/api/v1/users/${enc(name)}`, { password }),
    deleteUser: (name: string) => t.request<void>('DELETE', `/api/v1/users/${enc(name)}`),
    ledger: () => t.request<LedgerStatus>('GET', '/api/v1/ledger'),
    labs: () => t.request<LabSummary[]>('GET', '/api/v1/labs'),
    startLab: (body: LabStart) => t.request<LabRun>('POST', '/api/v1/labs/runs', body),
    labRun: (id: number) => t.request<LabRun>('GET', `/api/v1/labs/runs/${id}`),
    stopLab: (id: number) => t.request<LabRun>('POST', `/api/v1/labs/runs/${id}/stop`),
    verdict: (q: VerdictRequest) =>
      t.request<VerdictResponse>('GET', `/api/v1/ledger/verdict${query({ ...q, expect: q.expect ?? undefined })}`),
    journey: (topic: string, partition: number, offset: number) =>
      t.request<Journey>('GET', `/api/v1/ledger/journey/${enc(topic)}/${partition}/${offset}`),
    stats: (last = 120) => t.request<StatsSample[]>('GET', `/api/v1/stats${query({ last })}`),
  }
}

export type Client = ReturnType<typeof createClient>

/** Over HTTP in a browser, in process in the desktop app. */
export const api: Client = createClient(inTauri() ? new TauriTransport() : new HttpTransport())
