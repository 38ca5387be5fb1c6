// Generated from Pier's Rust types by crates/pier-http/tests/generated.rs.
// Do not edit: change the Rust type, then run
//   PIER_UPDATE_GENERATED=1 cargo nextest run -p pier-http --test generated

export type BrokerInfo = { version: string, 
/**
 * `bootstrap.servers` for Kafka clients.
 */
kafka_address: string | null, http_address: string | null, 
/**
 * Where data lives; `null` when it is kept in memory.
 */
data_dir: string | null, started_ms: number, uptime_ms: number, 
/**
 * Why the store refuses writes (after an I/O error), if it does.
 */
poisoned: string | null, topics: number, partitions: number, size_bytes: number, clients: number, };

export type ClientSummary = { connection_id: number, 
/**
 * `host:port` of the client's end.
 */
peer: string, client_id: string | null, requests: number, };

export type TopicSummary = { name: string, 
/**
 * The topic id Kafka clients see.
 */
id: string, partitions: Array<PartitionSummary>, 
/**
 * Records currently stored (high watermark minus log start, summed).
 */
records: number, size_bytes: number, 
/**
 * Settings by Kafka name (`retention.ms`, `retention.bytes`,
 * `max.message.bytes`).
 */
config: { [key in string]: string }, };

export type PartitionSummary = { partition: number, 
/**
 * First offset still stored.
 */
log_start_offset: number, 
/**
 * Next offset to be written.
 */
high_watermark: number, size_bytes: number, };

export type NewTopic = { 
/**
 * 1–249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`.
 */
name: string, partitions?: number, 
/**
 * Kafka-named settings: `retention.ms`, `retention.bytes`,
 * `max.message.bytes`.
 */
config?: { [key in string]: string }, };

export type TopicUpdate = { 
/**
 * Kafka-named settings to change; `null` restores a setting's default.
 */
config?: { [key in string]: string | null }, 
/**
 * New partition count; partitions can be added, never removed.
 */
partitions?: number, };

export type ProduceRequest = { key?: string, 
/**
 * A string is sent as is; `null` sends a message without a value (a
 * tombstone); any other JSON value is sent as JSON text.
 */
value: unknown, headers?: { [key in string]: string }, 
/**
 * Fixed partition; otherwise by key, or round robin without a key.
 */
partition?: number, 
/**
 * How many messages (default 1).
 */
count?: number, 
/**
 * Messages per second; as fast as possible when absent.
 */
rate?: number, 
/**
 * `{{seq}}` of the first message (default 0), to continue a sequence
 * across requests.
 */
first_seq?: number, };

export type Produced = { count: number, offsets: Array<OffsetRange>, duration_ms: number, };

export type OffsetRange = { partition: number, first: number, last: number, };

export type Order = "oldest" | "newest";

export type BrowseQuery = { 
/**
 * Partition to read (default 0).
 */
partition?: number, 
/**
 * Oldest first: the first offset to return. Newest first: return
 * offsets below this one.
 */
offset?: number, 
/**
 * At most this many messages (1–1000, default 100).
 */
limit?: number, order?: Order, 
/**
 * Start at a time instead of an offset (Unix ms): oldest first from
 * the first message at or after it, newest first from the last
 * message at or before it. Not together with `offset`.
 */
time_ms?: number, 
/**
 * Show each message's delivery state in this consumer group (a Kafka
 * group or a queue group).
 */
group?: string, 
/**
 * Only messages whose key contains this text.
 */
key?: string, 
/**
 * Only messages whose value contains this text.
 */
value?: string, 
/**
 * Only messages with a header whose `name=value` contains this text.
 */
header?: string, 
/**
 * Oldest first, at the end of the log: wait up to this long for new
 * messages (0–10000 ms).
 */
wait_ms?: number, };

export type BrowsePage = { messages: Array<Message>, 
/**
 * Pass as `offset` to get the next page; `null` when there is nothing
 * further in this direction (yet).
 */
next_offset: number | null, log_start_offset: number, high_watermark: number, 
/**
 * Records looked at (more than returned when filtering).
 */
scanned: number, };

export type Message = { partition: number, offset: number, timestamp_ms: number, key: string | null, 
/**
 * The value as text (invalid UTF-8 replaced by U+FFFD).
 */
value: string | null, 
/**
 * The value's bytes in hex, when they are not valid UTF-8.
 */
value_hex: string | null, value_size: number, headers: { [key in string]: string }, 
/**
 * Where this message stands in the group asked for with `group`.
 */
delivery?: DeliveryState, };

export type DeliveryState = { "state": "committed" } | { "state": "uncommitted" } | { "state": "ready" } | { "state": "in_flight", consumer: string, delivery: number, lease_deadline_ms: number, } | { "state": "retrying", deliveries: number, not_before_ms: number, reason: string | null, } | { "state": "dead_lettering", deliveries: number, reason: string, } | { "state": "done" };

export type GroupSummary = { group_id: string, 
/**
 * Kafka's name: `Empty`, `PreparingRebalance`, `CompletingRebalance`,
 * `Stable` or `Dead` (classic); `Empty`, `Reconciling` or `Stable`
 * (KIP-848).
 */
state: string, 
/**
 * `classic` (JoinGroup/SyncGroup) or `consumer` (KIP-848,
 * `group.protocol=consumer`).
 */
protocol: string, 
/**
 * The generation (classic) or the group epoch (KIP-848).
 */
generation: number, members: Array<GroupMember>, lag: Array<PartitionLag>, total_lag: number, };

export type GroupMember = { member_id: string, client_id: string, client_host: string, 
/**
 * What the leader assigned (empty while rebalancing, or when the group
 * does not use Kafka's consumer protocol); for a KIP-848 group, what
 * the member owns now.
 */
assignment: Array<MemberAssignment>, 
/**
 * KIP-848 groups: the member's epoch (`None` in a classic group).
 */
member_epoch: number | null, 
/**
 * KIP-848 groups: what the member is headed for (it differs from
 * `assignment` while partitions are handed over).
 */
target: Array<MemberAssignment>, };

export type MemberAssignment = { topic: string, partitions: Array<number>, };

export type PartitionLag = { topic: string, partition: number, committed_offset: number, high_watermark: number, 
/**
 * Records written but not yet consumed (committed) by the group.
 */
lag: number, };

export type OffsetToCommit = { topic: string, partition: number, 
/**
 * The next offset the group will read (Kafka's convention).
 */
offset: number, };

export type CommitOffsets = { offsets: Array<OffsetToCommit>, };

export type StatsSample = { 
/**
 * When it was taken (Unix ms).
 */
t_ms: number, produce_records_per_sec: number, produce_bytes_per_sec: number, 
/**
 * Committed-offset progress of all consumer groups.
 */
consume_records_per_sec: number, 
/**
 * Group commits per second (one log write + fdatasync each).
 */
group_commits_per_sec: number, 
/**
 * Mean time of a group commit's write + fdatasync over the interval.
 */
commit_latency_avg_micros: number, clients: number, total_lag: number, topics: Array<TopicRate>, groups: Array<GroupRate>, queues: Array<QueueRate>, 
/**
 * Records not stored because they were duplicates (since start).
 */
dedup_hits_total: number, dedup_hits_per_sec: number, };

export type TopicRate = { topic: string, records_per_sec: number, bytes_per_sec: number, records: number, size_bytes: number, };

export type GroupRate = { group: string, 
/**
 * How fast the group's committed offsets advance.
 */
consumed_per_sec: number, lag: number, members: number, 
/**
 * Lag of each partition the group has committed offsets for.
 */
partitions: Array<PartitionLagPoint>, };

export type PartitionLagPoint = { topic: string, partition: number, lag: number, };

export type QueueRate = { group: string, topic: string, accepted_per_sec: number, redelivered_per_sec: number, in_flight: number, waiting: number, backlog: number, dead_letter_depth: number, consumers: Array<QueueConsumer>, };

export type LiveEvent = { "kind": "records", topic: string, partition: number, from: number, high_watermark: number, } | { "kind": "topic-created", topic: string, partitions: number, } | { "kind": "topic-deleted", topic: string, } | { "kind": "group", group: string, state: string, generation: number, members: Array<string>, } | { "kind": "member-joined", group: string, member: string, client_id: string, } | { "kind": "member-left", group: string, member: string, } | { "kind": "rebalance", group: string, state: string, generation: number, lag: number, } | { "kind": "stats" } & StatsSample | { "kind": "fault" } & TimelineEntry | { "kind": "anomaly" } & Anomaly;

export type QueueSettings = { 
/**
 * The topic to consume (required for a new group; cannot change).
 */
topic?: string, 
/**
 * Lease length (default 30000 ms, at most 3600000).
 */
lease_ms?: number, 
/**
 * Deliveries before dead-lettering (default 5, 1–100).
 */
max_deliveries?: number, 
/**
 * First redelivery backoff (default 500 ms); doubles per delivery.
 */
backoff_base_ms?: number, 
/**
 * Backoff cap (default 30000 ms).
 */
backoff_max_ms?: number, 
/**
 * Default `<topic>.dlq`.
 */
dead_letter_topic?: string, 
/**
 * Most records one consumer may hold (default 1000).
 */
max_in_flight?: number, };

export type QueueGroupSummary = { group: string, topic: string, lease_ms: number, max_deliveries: number, backoff_base_ms: number, backoff_max_ms: number, dead_letter_topic: string, max_in_flight: number, consumers: Array<QueueConsumer>, 
/**
 * Leased right now.
 */
in_flight: number, 
/**
 * Waiting for a redelivery (backoff or delay).
 */
waiting: number, 
/**
 * Never delivered yet.
 */
backlog: number, dead_letter_pending: number, 
/**
 * Records in the dead-letter topic.
 */
dead_letter_depth: number, delivered: number, redelivered: number, accepted: number, released: number, expired: number, dead_lettered: number, };

export type QueueConsumer = { consumer: string, in_flight: number, 
/**
 * 0 when only known from leases logged before a restart.
 */
last_seen_ms: number, };

export type ReceiveRequest = { 
/**
 * Who receives (any name, 1–255 characters); acknowledgements must
 * come from the same name.
 */
consumer: string, 
/**
 * Up to this many records (default 10, at most 10000).
 */
max_records?: number, 
/**
 * This request's lease length instead of the group's.
 */
lease_ms?: number, 
/**
 * Wait up to this long when nothing is available (0–10000 ms).
 */
wait_ms?: number, 
/**
 * Create the group over this topic if it does not exist.
 */
topic?: string, };

export type QueueMessage = { 
/**
 * 1 on the first delivery.
 */
delivery: number, lease_deadline_ms: number, message: Message, };

export type AckKind = "accept" | "release" | "reject" | "extend";

export type AckItem = { partition: number, offset: number, 
/**
 * The delivery number received; a stale one is refused.
 */
delivery?: number, action: AckKind, 
/**
 * `release`: wait this long instead of the backoff.
 */
delay_ms?: number, 
/**
 * `reject`: why (kept in the dead letter's headers).
 */
reason?: string, 
/**
 * `extend`: the new lease length from now.
 */
lease_ms?: number, };

export type AckRequest = { consumer: string, acks: Array<AckItem>, };

export type AckResult = { partition: number, offset: number, ok: boolean, 
/**
 * Why it was refused (the record's state did not change).
 */
error: string | null, };

export type AckResponse = { results: Array<AckResult>, failed: number, };

export type LeaseInfo = { partition: number, offset: number, consumer: string, delivery: number, deadline_ms: number, };

export type Left = { 
/**
 * Records it held, now available again.
 */
released: number, };

export type ReplayRequest = { 
/**
 * First dead-letter offset to replay (default 0).
 */
from_offset?: number, 
/**
 * At most this many (default and limit 10000).
 */
max_records?: number, };

export type Replayed = { replayed: number, 
/**
 * Where a further replay would start.
 */
next_offset: number, };

export type NewSimProducer = { topic: string, 
/**
 * Messages per second (1–100000).
 */
rate: number, 
/**
 * Value size in bytes (default 100, at most 1 MiB).
 */
value_bytes?: number, 
/**
 * Distinct keys to cycle through (default 0: no keys).
 */
keys?: number, };

export type NewSimConsumers = { topic: string, 
/**
 * Name of the group (the queue group is `sim-<group>`).
 */
group: string, 
/**
 * Members (1–16).
 */
members: number, 
/**
 * Time each message takes (0–10000 ms).
 */
processing_ms?: number, 
/**
 * Share of messages that fail and are released for retry (0–1).
 */
failure_rate?: number, 
/**
 * Each member crashes (stops without acknowledging what it holds)
 * after this many messages.
 */
crash_after?: number, 
/**
 * Lease per message (default 5000 ms, so crashes show quickly).
 */
lease_ms?: number, };

export type SimMember = { name: string, processed: number, failed: number, crashed: boolean, };

export type Simulation = { "kind": "producer", id: number, 
/**
 * The client id network faults see (`sim-producer-<id>`).
 */
client_id: string, topic: string, rate: number, sent: number, error: string | null, } | { "kind": "consumers", id: number, topic: string, group: string, queue_group: string, members: Array<SimMember>, 
/**
 * Records processed a second time because a consumer crashed
 * after processing them but before acknowledging.
 */
processed_twice: number, error: string | null, };

export type FaultKind = "broker_crash" | "power_loss" | "fsync_failure" | "slow_fsync" | "disk_full" | "latency" | "bandwidth" | "connection_reset" | "blackhole" | "slice_responses" | "refuse_connections" | "lose_produce_ack" | "fail_produce" | "kill_consumer" | "slow_consumer" | "crash_before_ack" | "poison_messages";

export type ScopeKind = "broker" | "client_id" | "member" | "topic";

export type ParamSpec = { name: string, 
/**
 * `ms`, `bytes`, `percent`…
 */
unit: string, min: number, max: number, default: number, about: string, };

export type FaultSpec = { kind: FaultKind, title: string, 
/**
 * What happens, concretely.
 */
does: string, 
/**
 * What it teaches: which reliability feature it exercises and what to
 * watch.
 */
teaches: string, params: Array<ParamSpec>, scopes: Array<ScopeKind>, 
/**
 * Happens once and cannot be healed; the broker recovers on its own.
 */
instant: boolean, };

export type FaultRequest = { 
/**
 * One of the kinds in the catalog, e.g. `slow_fsync`.
 */
kind: string, 
/**
 * Parameters by name; missing ones take their default.
 */
params?: { [key in string]: number }, 
/**
 * Heal on its own after this long (1 ms to 1 hour); default: until
 * healed. Not for instant faults.
 */
duration_ms?: number, 
/**
 * Network faults only: affect just the connections of this
 * `client.id` (default: every client).
 */
client_id?: string, 
/**
 * Consumer faults: the simulated consumer to hit (required).
 */
member?: string, 
/**
 * Poison messages: the topic whose records are poison (required).
 */
topic?: string, };

export type Fault = { id: number, kind: FaultKind, 
/**
 * Every parameter, defaults filled in.
 */
params: { [key in string]: number }, 
/**
 * The one client affected, if not all.
 */
client_id: string | null, 
/**
 * The simulated consumer affected (consumer faults).
 */
member: string | null, 
/**
 * The topic affected (poison messages).
 */
topic: string | null, started_ms: number, 
/**
 * When it heals on its own, if it does.
 */
heals_at_ms: number | null, };

export type FaultEvent = "started" | "healed" | "expired" | "recovered" | "failed";

export type TimelineEntry = { 
/**
 * The fault this is about.
 */
fault: number, kind: FaultKind, event: FaultEvent, t_ms: number, 
/**
 * What happened, for people (e.g. what recovery found).
 */
detail: string, };

export type Recovery = { 
/**
 * From the crash to accepting connections again.
 */
took_ms: number, 
/**
 * Opening the store, including log replay.
 */
open_ms: number, 
/**
 * Batches replayed from the write-ahead log.
 */
replayed_batches: number, 
/**
 * The database file needed repair (an unclean shutdown).
 */
repaired: boolean, topics: number, 
/**
 * Records stored after recovery, over all topics.
 */
records: number, };

export type FaultStarted = { fault: Fault, 
/**
 * For crashes and power loss: what the restart found.
 */
recovery: Recovery | null, };

export type Durability = { 
/**
 * fdatasync the log before every acknowledgement. Off, like Kafka's
 * default, acknowledged records reach the disk with the next
 * checkpoint (each second) and a power loss before that loses them.
 */
fsync: boolean, 
/**
 * Writes not yet fsynced are modelled as an OS page cache, so a power
 * loss really drops them. Without it a power loss acts like a crash.
 */
page_cache_model: boolean, };

export type DurabilityUpdate = { 
/**
 * fdatasync the log before every acknowledgement.
 */
fsync: boolean, };

export type ListenerInfo = { 
/**
 * `PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL` (Kafka's
 * `security.protocol`).
 */
protocol: string, 
/**
 * `bootstrap.servers` for this listener.
 */
address: string, 
/**
 * Clients authenticate with SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512).
 */
sasl: boolean, 
/**
 * Connections are TLS; clients trust the CA below.
 */
tls: boolean, };

export type SecurityInfo = { listeners: Array<ListenerInfo>, 
/**
 * SASL mechanisms every SASL listener accepts.
 */
mechanisms: Array<string>, 
/**
 * SASL user names (passwords are never stored, only salted keys).
 */
users: Array<string>, 
/**
 * The CA certificate (PEM) made by `pier tls init`, when TLS is on.
 */
ca_pem: string | null, 
/**
 * Kafka requests are checked against the ACL rules
 * (`pier serve --authorization`); off, everything is allowed.
 */
authorization: boolean, };

export type UserPassword = { password: string, };

export type AclResource = "topic" | "group";

export type AclOperation = "read" | "write" | "create" | "describe" | "all";

export type AclRule = { 
/**
 * A SASL user name, `ANONYMOUS` (clients of listeners without SASL),
 * or `*` (everyone). Kafka's `User:` prefix is accepted and dropped.
 */
principal: string, resource: AclResource, 
/**
 * An exact name, a prefix ending in `*` (`orders*`), or `*`.
 */
pattern: string, operations: Array<AclOperation>, };

export type VerdictRequest = { topic: string, 
/**
 * A classic or queue (share) group on the topic; without it, only
 * what producers did is judged.
 */
group: string | null, 
/**
 * Only what happened at or after this time (ms since the epoch).
 */
since_ms: number | null, 
/**
 * Spans listed per finding (default 1,000, at most 10,000).
 */
limit: number | null, 
/**
 * `no-loss`, `at-least-once` or `exactly-once`: the answer says
 * whether it was met.
 */
expect: Expectation | null, };

export type VerdictResponse = { 
/**
 * `None` without an expectation; `false` with `broken` saying why.
 */
met: boolean | null, broken: string | null, topic: string, group: string | null, group_kind: GroupKind | null, since_ms: number | null, checked_at_ms: number, 
/**
 * Recording began here: nothing before it is judged.
 */
ledger_started_ms: number | null, 
/**
 * Detail stopped being kept here (the entry cap was reached).
 */
truncated_ms: number | null, enabled: boolean, guarantee: Guarantee, 
/**
 * Why that guarantee, in words.
 */
because: string, 
/**
 * Records produced (and of those, acknowledged) in the window.
 */
produced: number, acknowledged: number, 
/**
 * Acknowledged with fsync off, or sent with acks=0.
 */
at_risk: number, findings: Array<Finding>, partitions: Array<PartitionReport>, };

export type LedgerStatus = { enabled: boolean, started_ms: number | null, truncated_ms: number | null, 
/**
 * Records per anomaly since it started.
 */
counters: Counters, };

export type Counters = { lost_after_ack: number, lost_unacknowledged: number, stored_twice: number, delivered_more_than_once: number, committed_without_delivery: number, out_of_order: number, dead_lettered: number, };

export type Verdict = { topic: string, group: string | null, group_kind: GroupKind | null, since_ms: number | null, checked_at_ms: number, 
/**
 * Recording began here: nothing before it is judged.
 */
ledger_started_ms: number | null, 
/**
 * Detail stopped being kept here (the entry cap was reached).
 */
truncated_ms: number | null, enabled: boolean, guarantee: Guarantee, 
/**
 * Why that guarantee, in words.
 */
because: string, 
/**
 * Records produced (and of those, acknowledged) in the window.
 */
produced: number, acknowledged: number, 
/**
 * Acknowledged with fsync off, or sent with acks=0.
 */
at_risk: number, findings: Array<Finding>, partitions: Array<PartitionReport>, };

export type Finding = { kind: FindingKind, meaning: string, 
/**
 * Records concerned (not spans).
 */
records: number, spans: Array<Span>, 
/**
 * `false` when more spans exist than were listed.
 */
complete: boolean, 
/**
 * The first records of the spans one by one, with their keys where
 * the record is still stored (filled by the workbench, which reads
 * the log; at most [`RECORDS_LISTED_MAX`]).
 */
listed: Array<RecordRef>, };

export type FindingKind = "lost_after_ack" | "lost_unacknowledged" | "stored_twice" | "delivered_more_than_once" | "committed_without_delivery" | "out_of_order" | "dead_lettered" | "stuck" | "unconsumed";

export type Guarantee = "none" | "at-most-once" | "at-least-once" | "effectively-exactly-once";

export type Expectation = "no-loss" | "at-least-once" | "exactly-once";

export type Span = { partition: number, first_offset: number, last_offset: number, 
/**
 * When it happened (ms since the epoch).
 */
at_ms: number, 
/**
 * Who: a client id and address, a group member, or a producer.
 */
who: string | null, 
/**
 * What exactly, in words: the other copy's offset, the rule used.
 */
detail: string | null, };

export type RecordRef = { partition: number, offset: number, 
/**
 * `None` without a key, or when the record is gone (lost).
 */
key: string | null, };

export type PartitionReport = { partition: number, log_start: number, high_watermark: number, committed: number | null, lag: number, stuck: boolean, };

export type GroupKind = "classic" | "queue" | "unattributed";

export type Journey = { topic: string, partition: number, offset: number, steps: Array<JourneyStep>, ledger_started_ms: number | null, truncated_ms: number | null, };

export type JourneyStep = { 
/**
 * When (for a run of records: when the run began or last moved).
 */
at_ms: number, 
/**
 * produced, acknowledged, lost, stored_twice, out_of_order, delivered,
 * delivered_again, committed, skipped, settled, dead_lettered,
 * removed_by_retention.
 */
what: string, group: string | null, who: string | null, detail: string | null, 
/**
 * The group was inferred from the client (a Fetch names no group).
 */
inferred: boolean, };

export type Anomaly = { seq: number, kind: FindingKind, topic: string, group: string | null, span: Span, };

export type LabSummary = { name: string, title: string, 
/**
 * The reliability concept it shows.
 */
concept: string, about: string, variants: Array<LabVariantSummary>, 
/**
 * The lab file, to save and edit (TOML, `docs/labs.md`).
 */
file: string, };

export type LabVariantSummary = { name: string, about: string, };

export type LabStart = { name?: string, 
/**
 * A lab file (TOML); checked before anything runs.
 */
file?: string, 
/**
 * Slow motion, to watch it: times this many times longer, rates this
 * many times lower (1–10, default 1).
 */
slow?: number, };

export type LabState = "running" | "passed" | "failed" | "error" | "stopped";

export type LabRun = { id: number, lab: string, title: string, state: LabState, started_ms: number, 
/**
 * The narrative so far, step by step.
 */
narrative: Array<LabLine>, report: LabReport | null, error: string | null, };

export type LabLine = { variant: string, 
/**
 * Milliseconds into the variant.
 */
at_ms: number, text: string, 
/**
 * When it was said (ms since the epoch: lines up with the fault
 * timeline and the charts).
 */
time_ms: number, };

export type LabReport = { lab: string, title: string, concept: string, about: string, 
/**
 * Every expectation of every variant met.
 */
passed: boolean, variants: Array<VariantReport>, };

export type VariantReport = { name: string, about: string, passed: boolean, elapsed_ms: number, 
/**
 * The fresh topics and groups this run used.
 */
topics: Array<string>, groups: Array<string>, narrative: Array<Said>, 
/**
 * Every verdict and client measure, by name (records).
 */
counts: { [key in string]: number }, expectations: Array<Checked>, 
/**
 * The records behind each non-zero count: `topic/partition@offset
 * key` for the ledger's verdicts, record ids for the clients' own.
 */
examples: { [key in string]: Array<string> }, 
/**
 * The guarantee each topic's group met, in words.
 */
guarantee: Array<string>, clients: Array<LabClient>, 
/**
 * The lag alerts that fired, in order.
 */
alerts: Array<LabAlert>, 
/**
 * Lag and per-consumer throughput over the run (empty without
 * consumers).
 */
timeline: LabTimeline, };

export type Said = { at_ms: number, text: string, };

export type Checked = { verdict: string, 
/**
 * `= 0`, `> 0`, `<= 10`.
 */
condition: string, actual: number, met: boolean, };

export type LabClient = { name: string, 
/**
 * `producer`, `consumer` or `app`.
 */
role: string, 
/**
 * Producers: records acknowledged; consumers and apps: processed.
 */
records: number, resends: number, crashes: number, 
/**
 * Consumers: the records of the batch it crashed in that it had not
 * processed (lost with the process).
 */
dropped_at_crash: Array<string>, errors: Array<string>, 
/**
 * Apps: how their runs ended, and their last lines of output.
 */
output: Array<string>, };

export type LabAlert = { name: string, 
/**
 * Milliseconds into the variant.
 */
fired_ms: number, 
/**
 * When the lag went back below the threshold (`null`: still firing
 * at the end).
 */
cleared_ms: number | null, 
/**
 * The highest lag while it fired (records).
 */
peak_lag: number, };

export type LabTimeline = { bucket_ms: number, 
/**
 * At the end of each bucket: records acknowledged to a producer and
 * not yet processed by any consumer.
 */
lag_records: Array<number>, 
/**
 * At the end of each bucket: how long the oldest of those has waited
 * (ms).
 */
lag_ms: Array<number>, 
/**
 * Records each consumer processed in each bucket.
 */
members: Array<LabMember>, };

export type LabMember = { name: string, processed: Array<number>, };

export type Problem = { 
/**
 * Stable identifier, e.g. `https://pier.dev/problems/not-found`.
 */
type: string, title: string, status: number, detail: string, };
