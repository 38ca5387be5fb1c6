"""The differential suite: one scenario, run against Pier and against the
reference Apache Kafka 4.4 (`broker` fixture), must observe the same thing.
Each test states what Kafka does; Pier must match it, or the difference is
listed in `docs/kafka.md` with its reason."""

import time

from confluent_kafka import (Consumer, KafkaError, KafkaException, Producer, TopicPartition)
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from adapters import unique, wait_for


def admin_of(broker):
    return AdminClient({"bootstrap.servers": broker.bootstrap})


def create(broker, topic, partitions=1, config=None):
    a = admin_of(broker)
    a.create_topics([NewTopic(topic, partitions, 1, config=config or {})])[topic].result(30)
    # Metadata reaches the brokers' caches asynchronously on Kafka.
    wait_for(lambda: topic in a.list_topics(timeout=10).topics, 30, "topic visible")


def test_a_record_over_max_message_bytes_is_refused_with_message_too_large(broker):
    topic = unique("diff-big")
    create(broker, topic, config={"max.message.bytes": "1000"})
    errors = []
    p = Producer({"bootstrap.servers": broker.bootstrap, "message.max.bytes": 1_000_000,
                  "retries": 0})
    p.produce(topic, value=b"x" * 5000, on_delivery=lambda err, msg: errors.append(err))
    p.flush(30)
    assert [e.code() for e in errors] == [KafkaError.MSG_SIZE_TOO_LARGE]
    ok = []
    p.produce(topic, value=b"x" * 100, on_delivery=lambda err, msg: ok.append(err))
    p.flush(30)
    assert ok == [None], "control: a small record is stored"


def test_an_invalid_topic_config_is_invalid_config(broker):
    topic = unique("diff-config")
    a = admin_of(broker)  # kept alive while its futures run
    f = a.create_topics([NewTopic(topic, 1, 1, config={"retention.ms": "soon"})])[topic]
    try:
        f.result(30)
        code = None
    except KafkaException as e:
        code = e.args[0].code()
    assert code == KafkaError.INVALID_CONFIG


def test_deleting_a_topic_that_does_not_exist_is_unknown_topic(broker):
    a = admin_of(broker)
    f = a.delete_topics([unique("diff-missing")])
    (fut,) = f.values()
    try:
        fut.result(30)
        code = None
    except KafkaException as e:
        code = e.args[0].code()
    assert code == KafkaError.UNKNOWN_TOPIC_OR_PART


def test_offsets_for_times_finds_the_first_record_at_or_after(broker):
    topic = unique("diff-times")
    create(broker, topic)
    base = int(time.time() * 1000) - 60_000
    p = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(10):
        p.produce(topic, value=b"v%d" % i, partition=0, timestamp=base + i * 1000)
    assert p.flush(30) == 0
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": unique("diff-times-g")})
    asked = [TopicPartition(topic, 0, base + 3500), TopicPartition(topic, 0, base - 1),
             TopicPartition(topic, 0, base + 60_000)]
    found = [c.offsets_for_times([tp], timeout=10)[0].offset for tp in asked]
    c.close()
    # 3.5 s in: offset 4; before everything: 0; after everything: -1 (none).
    assert found == [4, 0, -1]


def test_fetching_past_the_end_with_no_reset_policy_is_offset_out_of_range(broker):
    topic = unique("diff-range")
    create(broker, topic)
    p = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(5):
        p.produce(topic, value=b"v%d" % i, partition=0)
    assert p.flush(30) == 0
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": unique("diff-range-g"),
                  "auto.offset.reset": "error", "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0, 1000)])
    codes = []
    deadline = time.monotonic() + 20
    while not codes and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and m.error():
            codes.append(m.error().code())
    c.close()
    assert codes == [KafkaError._AUTO_OFFSET_RESET]


def test_topic_config_defaults_are_kafkas(broker):
    topic = unique("diff-defaults")
    create(broker, topic)
    r = ConfigResource(ConfigResource.Type.TOPIC, topic)
    a = admin_of(broker)
    configs = a.describe_configs([r])[r].result(30)
    wanted = ["cleanup.policy", "retention.ms", "retention.bytes", "max.message.bytes"]
    assert {k: configs[k].value for k in wanted} == {
        "cleanup.policy": "delete",
        "retention.ms": "604800000",
        "retention.bytes": "-1",
        "max.message.bytes": "1048588",
    }


def test_committed_offsets_of_a_group_without_members_round_trip(broker):
    topic, group = unique("diff-commit"), unique("diff-commit-g")
    create(broker, topic, partitions=2)
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group,
                  "enable.auto.commit": False})
    c.commit(offsets=[TopicPartition(topic, 0, 7), TopicPartition(topic, 1, 0)], asynchronous=False)
    got = c.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)], timeout=10)
    c.close()
    assert [(tp.partition, tp.offset) for tp in got] == [(0, 7), (1, 0)]


# --- Classic group errors, request by request (kafka-python's protocol
# classes on a raw connection: a client library would hide these codes).

UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS, MEMBER_ID_REQUIRED = 25, 22, 27, 79


def join(wire, group, member_id=""):
    from kafka.protocol.group import JoinGroupRequest
    return wire.call(JoinGroupRequest[4](
        group=group, session_timeout=10_000, rebalance_timeout=3_000, member_id=member_id,
        protocol_type="consumer", group_protocols=[("range", b"")]))


def test_classic_group_errors_match_kafka(broker):
    from kafka.protocol.commit import OffsetCommitRequest
    from kafka.protocol.group import HeartbeatRequest, JoinGroupRequest, SyncGroupRequest

    from raw_wire import Wire

    group, topic = unique("diff-group"), unique("diff-group-t")
    create(broker, topic)
    wire = Wire(broker.bootstrap)
    wire.coordinator(group)
    try:
        seen = {}  # what each request got, compared whole at the end
        seen["heartbeat, unknown group"] = wire.call(HeartbeatRequest[2](
            group=group, generation_id=1, member_id="nobody")).error_code
        first = join(wire, group)
        seen["join v4 without a member id"] = first.error_code
        joined = join(wire, group, first.member_id)
        seen["join again with it"] = joined.error_code
        gen, me = joined.generation_id, joined.member_id
        seen["sync"] = wire.call(SyncGroupRequest[2](
            group=group, generation_id=gen, member_id=me,
            group_assignment=[(me, b"")])).error_code
        seen["heartbeat"] = wire.call(HeartbeatRequest[2](
            group=group, generation_id=gen, member_id=me)).error_code
        seen["heartbeat, wrong generation"] = wire.call(HeartbeatRequest[2](
            group=group, generation_id=gen + 5, member_id=me)).error_code
        seen["heartbeat, unknown member"] = wire.call(HeartbeatRequest[2](
            group=group, generation_id=gen, member_id="nobody")).error_code

        def commit(generation, member):
            r = wire.call(OffsetCommitRequest[2](
                consumer_group=group, consumer_group_generation_id=generation,
                consumer_id=member, retention_time=-1,
                topics=[(topic, [(0, 0, "")])]))
            return r.topics[0][1][0][1]

        seen["commit"] = commit(gen, me)
        seen["commit, wrong generation"] = commit(gen + 5, me)
        seen["commit, unknown member"] = commit(gen, "nobody")
        # A second member starts a rebalance: the first hears so.
        other = Wire(broker.bootstrap)
        other.coordinator(group)
        try:
            second = join(other, group)
            # Its JoinGroup waits for the rebalance: send it, do not wait.
            other.client.send(other.node, JoinGroupRequest[4](
                group=group, session_timeout=10_000, rebalance_timeout=3_000,
                member_id=second.member_id, protocol_type="consumer",
                group_protocols=[("range", b"")]))
            other.client.poll(timeout_ms=200)
            deadline = time.monotonic() + 10
            code = None
            while time.monotonic() < deadline:
                code = wire.call(HeartbeatRequest[2](
                    group=group, generation_id=gen, member_id=me)).error_code
                if code:
                    break
                time.sleep(0.1)
            seen["heartbeat while another joins"] = code
        finally:
            other.close()
    finally:
        wire.close()
    assert seen == {
        "heartbeat, unknown group": UNKNOWN_MEMBER_ID,
        "join v4 without a member id": MEMBER_ID_REQUIRED,
        "join again with it": 0,
        "sync": 0,
        "heartbeat": 0,
        "heartbeat, wrong generation": ILLEGAL_GENERATION,
        "heartbeat, unknown member": UNKNOWN_MEMBER_ID,
        "commit": 0,
        "commit, wrong generation": ILLEGAL_GENERATION,
        "commit, unknown member": UNKNOWN_MEMBER_ID,
        "heartbeat while another joins": REBALANCE_IN_PROGRESS,
    }
