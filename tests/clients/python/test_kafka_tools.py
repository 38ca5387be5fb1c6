"""Kafka's own command-line tools, run from the Apache Kafka 4.4 jars
(the classes behind kafka-topics.sh, kafka-console-producer.sh, …) against
Pier and against the reference Kafka, with the same assertions: what an
operator types works the same on both."""

import os
import subprocess
import uuid

import pytest

from conftest import REPO_ROOT

JARS = os.path.join(REPO_ROOT, "tests", "reference", ".jars", "*")
TOOLS = "org.apache.kafka.tools."


def run_tool(cls, *args, stdin=None, timeout=90):
    """Runs a tool class, whatever its exit status."""
    return subprocess.run(
        ["java", "-Dlog4j2.level=error", "-cp", JARS, TOOLS + cls, *args],
        input=stdin, capture_output=True, text=True, timeout=timeout)


def tool(cls, *args, stdin=None, timeout=90):
    """Runs a tool class that must succeed; its stdout (logs go to stderr)."""
    out = run_tool(cls, *args, stdin=stdin, timeout=timeout)
    assert out.returncode == 0, f"{cls} {args}: {out.returncode}\n{out.stdout}\n{out.stderr}"
    return out.stdout


def name(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_topics_console_producer_and_consumer_and_offsets(broker):
    b = broker.bootstrap
    topic = name("tools")
    assert f"Created topic {topic}." in tool("TopicCommand", "--bootstrap-server", b, "--create",
                                             "--topic", topic, "--partitions", "3")
    described = tool("TopicCommand", "--bootstrap-server", b, "--describe", "--topic", topic)
    assert "PartitionCount: 3" in described
    assert sorted(line.split("Partition: ")[1].split()[0]
                  for line in described.splitlines() if "Partition: " in line) == ["0", "1", "2"]
    assert topic in tool("TopicCommand", "--bootstrap-server", b, "--list").split()
    lines = [f"line-{i}" for i in range(30)]
    tool("ConsoleProducer", "--bootstrap-server", b, "--topic", topic,
         stdin="\n".join(lines) + "\n")
    group = name("console")
    got = tool("consumer.ConsoleConsumer", "--bootstrap-server", b, "--topic", topic,
               "--from-beginning", "--max-messages", "30", "--group", group)
    # Every line, each once: compare the sets, not a count.
    received = [x for x in got.splitlines() if x.startswith("line-")]
    assert sorted(received) == sorted(lines)
    offsets = tool("GetOffsetShell", "--bootstrap-server", b, "--topic", topic)
    ends = {int(p): int(o) for p, o in (x.split(":")[1:] for x in offsets.split())}
    assert sorted(ends) == [0, 1, 2] and sum(ends.values()) == 30


def test_consumer_groups_describe_reset_and_delete(broker):
    b = broker.bootstrap
    topic, group = name("groups"), name("g")
    tool("TopicCommand", "--bootstrap-server", b, "--create", "--topic", topic, "--partitions", "1")
    tool("ConsoleProducer", "--bootstrap-server", b, "--topic", topic,
         stdin="".join(f"m{i}\n" for i in range(10)))
    tool("consumer.ConsoleConsumer", "--bootstrap-server", b, "--topic", topic,
         "--from-beginning", "--max-messages", "10", "--group", group)
    described = tool("consumer.group.ConsumerGroupCommand", "--bootstrap-server", b,
                     "--describe", "--group", group)
    row = next(line.split() for line in described.splitlines() if line.startswith(group))
    # GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG …
    assert row[1:6] == [topic, "0", "10", "10", "0"], described
    reset = tool("consumer.group.ConsumerGroupCommand", "--bootstrap-server", b, "--reset-offsets",
                 "--to-offset", "4", "--group", group, "--topic", topic, "--execute")
    assert any(line.split()[1:4] == [topic, "0", "4"] for line in reset.splitlines()
               if line.startswith(group)), reset
    # The reset took: a consumer of the group starts at offset 4.
    again = tool("consumer.ConsoleConsumer", "--bootstrap-server", b, "--topic", topic,
                 "--max-messages", "6", "--group", group)
    assert [x for x in again.splitlines() if x.startswith("m")] == [f"m{i}" for i in range(4, 10)]
    assert "was successful" in tool("consumer.group.ConsumerGroupCommand", "--bootstrap-server", b,
                                    "--delete", "--group", group)
    assert group not in tool("consumer.group.ConsumerGroupCommand", "--bootstrap-server", b, "--list")


def test_configs_describe_alter_and_delete_a_topic_setting(broker):
    b = broker.bootstrap
    topic = name("configs")
    tool("TopicCommand", "--bootstrap-server", b, "--create", "--topic", topic)
    entity = ["--bootstrap-server", b, "--entity-type", "topics", "--entity-name", topic]
    assert "retention.ms" not in tool("ConfigCommand", *entity, "--describe")
    assert "Completed updating config" in tool("ConfigCommand", *entity, "--alter",
                                               "--add-config", "retention.ms=60000")
    assert "retention.ms=60000" in tool("ConfigCommand", *entity, "--describe")
    tool("ConfigCommand", *entity, "--alter", "--delete-config", "retention.ms")
    assert "retention.ms" not in tool("ConfigCommand", *entity, "--describe")


def test_config_errors_match(broker):
    b = broker.bootstrap
    topic = name("badconfig")
    tool("TopicCommand", "--bootstrap-server", b, "--create", "--topic", topic)
    out = run_tool("ConfigCommand", "--bootstrap-server", b, "--entity-type", "topics",
                   "--entity-name", topic, "--alter", "--add-config", "retention.ms=soon")
    assert out.returncode != 0
    assert "InvalidConfigurationException" in out.stdout + out.stderr, out.stdout + out.stderr


def test_producer_and_consumer_perf_tests(broker):
    b = broker.bootstrap
    topic = name("perf")
    produced = tool("ProducerPerformance", "--topic", topic, "--num-records", "5000",
                    "--record-size", "100", "--throughput", "-1",
                    "--command-property", f"bootstrap.servers={b}")
    assert "5000 records sent" in produced
    consumed = tool("ConsumerPerformance", "--bootstrap-server", b, "--topic", topic,
                    "--num-records", "5000")
    row = consumed.strip().splitlines()[-1].split(", ")
    # data.consumed.in.nMsg is the fifth column.
    assert int(row[4]) == 5000, consumed


def test_incremental_alter_configs_errors_match_kafka(broker):
    """The API behind `kafka-configs --alter`, with bad input: an unknown
    topic and a bad value get Kafka's error codes on both brokers."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry,
                                       ConfigResource, ResourceType)
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    topic = name("iac")
    admin.create_topics([__import__("confluent_kafka").admin.NewTopic(topic, 1)])[topic].result(30)

    def alter(resource_name, value):
        entry = ConfigEntry("retention.ms", value, incremental_operation=AlterConfigOpType.SET)
        res = ConfigResource(ResourceType.TOPIC, resource_name, incremental_configs=[entry])
        fut = admin.incremental_alter_configs([res])[res]
        try:
            fut.result(30)
            return None
        except KafkaException as e:
            return e.args[0].name()

    assert alter(topic, "120000") is None
    assert alter(topic, "soon") == "INVALID_CONFIG"
    assert alter(name("missing"), "1000") == "UNKNOWN_TOPIC_OR_PART"


def test_delete_offsets_of_a_group(broker):
    """`kafka-consumer-groups --delete-offsets` (OffsetDelete): the group's
    offset of the topic goes; an unknown group is GROUP_ID_NOT_FOUND on
    both brokers."""
    b = broker.bootstrap
    topic, group = name("deloff"), name("g")
    tool("TopicCommand", "--bootstrap-server", b, "--create", "--topic", topic, "--partitions", "2")
    tool("ConsoleProducer", "--bootstrap-server", b, "--topic", topic,
         stdin="".join(f"d{i}\n" for i in range(6)))
    tool("consumer.ConsoleConsumer", "--bootstrap-server", b, "--topic", topic,
         "--from-beginning", "--max-messages", "6", "--group", group)
    cg = ["consumer.group.ConsumerGroupCommand", "--bootstrap-server", b]
    before = tool(*cg, "--describe", "--group", group)
    assert sum(1 for line in before.splitlines() if line.startswith(group)) == 2, before
    deleted = tool(*cg, "--delete-offsets", "--group", group, "--topic", topic)
    rows = [line.split() for line in deleted.splitlines() if line.startswith(topic)]
    assert sorted((r[1], r[2]) for r in rows) == [("0", "Successful"), ("1", "Successful")], deleted
    after = run_tool(*cg, "--describe", "--group", group)
    assert not any(line.startswith(group) for line in after.stdout.splitlines()), after.stdout
    missing = run_tool(*cg, "--delete-offsets", "--group", name("nobody"), "--topic", topic)
    assert "GroupIdNotFoundException" in missing.stdout + missing.stderr, missing.stdout + missing.stderr


def test_delete_offsets_of_a_subscribed_topic_is_refused(broker):
    """OffsetDelete while a member is subscribed to the topic:
    GROUP_SUBSCRIBED_TO_TOPIC on both brokers, and the offset stays."""
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
    topic, group = name("subscribed"), name("g")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, 1)])[topic].result(30)
    p = Producer({"bootstrap.servers": broker.bootstrap})
    p.produce(topic, b"x")
    p.flush(30)
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    try:
        msg = None
        for _ in range(60):
            msg = c.poll(0.5)
            if msg is not None and not msg.error():
                break
        assert msg is not None and not msg.error()
        c.commit(message=msg, asynchronous=False)
        out = run_tool("consumer.group.ConsumerGroupCommand", "--bootstrap-server", broker.bootstrap,
                       "--delete-offsets", "--group", group, "--topic", topic)
        said = out.stdout + out.stderr
        assert "GroupSubscribedToTopicException" in said or "GROUP_SUBSCRIBED_TO_TOPIC" in said, said
        committed = c.committed([TopicPartition(topic, 0)], timeout=30)
        assert committed[0].offset == 1
    finally:
        c.close()


def test_log_dirs_describe_every_partition_with_its_size(broker):
    """kafka-log-dirs --describe: one broker, one log directory holding
    every partition of the topic, each with a size (bytes on disk differ
    between Pier and Kafka; which partitions, and that the written ones
    are not empty, must not)."""
    import json
    b = broker.bootstrap
    topic = name("logdirs")
    tool("TopicCommand", "--bootstrap-server", b, "--create", "--topic", topic, "--partitions", "2")
    tool("ConsoleProducer", "--bootstrap-server", b, "--topic", topic, "--property", "parse.key=true",
         stdin="".join(f"k0\tv{i}\n" for i in range(20)))
    out = tool("LogDirsCommand", "--bootstrap-server", b, "--describe", "--topic-list", topic)
    report = json.loads(next(line for line in out.splitlines() if line.startswith("{")))
    [broker_dirs] = report["brokers"]
    [log_dir] = broker_dirs["logDirs"]
    assert log_dir["error"] is None, log_dir
    sizes = {p["partition"]: p["size"] for p in log_dir["partitions"]}
    assert set(sizes) == {f"{topic}-0", f"{topic}-1"}, sizes
    # One key: every record went to the same partition; the other is empty.
    assert sorted(s > 0 for s in sizes.values()) == [False, True], sizes
    assert all(p["offsetLag"] == 0 and p["isFuture"] is False for p in log_dir["partitions"])


def test_alter_configs_replaces_a_topics_settings(broker):
    """AlterConfigs (the older API, kafka-python's alter_configs): the
    settings given replace the topic's whole set, so one left out goes
    back to its default; a bad value is INVALID_CONFIG (40), on both."""
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient
    b = broker.bootstrap
    topic = name("alter")
    tool("TopicCommand", "--bootstrap-server", b, "--create", "--topic", topic)
    entity = ["--bootstrap-server", b, "--entity-type", "topics", "--entity-name", topic]
    admin = KafkaAdminClient(bootstrap_servers=b)

    def alter(configs):
        r = admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs=configs)])
        return [res[0] for res in r.resources]

    try:
        assert alter({"retention.ms": "60000", "max.message.bytes": "2000000"}) == [0]
        described = tool("ConfigCommand", *entity, "--describe")
        assert "retention.ms=60000" in described and "max.message.bytes=2000000" in described
        assert alter({"max.message.bytes": "3000000"}) == [0]
        described = tool("ConfigCommand", *entity, "--describe")
        assert "max.message.bytes=3000000" in described
        assert "retention.ms" not in described, "left out: back to the default"
        assert alter({"retention.ms": "soon"}) == [40]
        assert "max.message.bytes=3000000" in tool("ConfigCommand", *entity, "--describe")
    finally:
        admin.close()
