"""Authorization (`pier serve --authorization`) with real clients.

Alice logs in over SASL_PLAINTEXT (PLAIN) and may read and write topics
`acl-ok-*` and read groups `acl-group-ok-*` (rules added over the HTTP API).
What her clients see when a rule is missing is Kafka's: a producer's delivery
report carries TOPIC_AUTHORIZATION_FAILED, a consumer's poll returns
GROUP_AUTHORIZATION_FAILED. Each refusal has the allowed case as its control:
the same client produces and consumes (values compared as multisets), so a
broker that refused everything fails too, and refused records are never
stored.
"""

from collections import Counter

import pytest

from adapters import http, unique, wait_for
from conftest import PierServer, pier_bin, running

USER, PASSWORD = "alice", "wonderland"
RECORDS = 20
# How long a client may take to report a refusal.
REFUSAL_TIMEOUT_S = 15
# Longer than REFUSAL_TIMEOUT_S: a refused record must fail, not time out.
MESSAGE_TIMEOUT_MS = 30000

RULES = [
    {"principal": USER, "resource": "topic", "pattern": "acl-ok-*", "operations": ["read", "write"]},
    {"principal": USER, "resource": "group", "pattern": "acl-group-ok-*", "operations": ["read"]},
    # Metadata and produce may reach the broker, but not a write.
    {"principal": USER, "resource": "topic", "pattern": "acl-look-*", "operations": ["describe"]},
]


@pytest.fixture
def acl_pier(request, tmp_path):
    data, logs = tmp_path / "data", tmp_path / "logs"
    logs.mkdir()
    args = ["--sasl-user", "%s:%s" % (USER, PASSWORD),
            "--kafka-listener", "SASL_PLAINTEXT://127.0.0.1:0", "--authorization"]
    with running(request, PierServer(pier_bin(), data, logs, extra_args=args)) as server:
        assert http(server, "GET", "/api/v1/security")["authorization"] is True
        for rule in RULES:
            http(server, "POST", "/api/v1/acls", rule)
        assert len(http(server, "GET", "/api/v1/acls")) == len(RULES)
        yield server


def confluent_settings(pier):
    return {"bootstrap.servers": pier.listeners["sasl_plaintext"],
            "security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "PLAIN",
            "sasl.username": USER, "sasl.password": PASSWORD}


def kafka_python_settings(pier):
    return dict(bootstrap_servers=pier.listeners["sasl_plaintext"], security_protocol="SASL_PLAINTEXT",
                sasl_mechanism="PLAIN", sasl_plain_username=USER, sasl_plain_password=PASSWORD)


def new_topic(pier, prefix):
    """A topic created over HTTP: alice may not create topics (auto-creation
    needs CREATE, which no rule gives her)."""
    topic = unique(prefix)
    http(pier, "POST", "/api/v1/topics", {"name": topic, "partitions": 1})
    return topic


def stored_records(pier, topic):
    return http(pier, "GET", "/api/v1/topics/%s" % topic)["records"]


def confluent_deliveries(pier, topic, values):
    """Produces `values` to `topic`; returns the delivery report errors (None
    for a stored record), one per value."""
    from confluent_kafka import Producer

    reports = []
    p = Producer(dict(confluent_settings(pier), **{"message.timeout.ms": MESSAGE_TIMEOUT_MS}))
    for v in values:
        p.produce(topic, v, on_delivery=lambda err, msg: reports.append(err))
    assert p.flush(REFUSAL_TIMEOUT_S) == 0, "records still queued after %ss" % REFUSAL_TIMEOUT_S
    assert len(reports) == len(values)
    return reports


@pytest.mark.parametrize("case", ["no rule", "describe only"])
def test_confluent_producer_gets_topic_authorization_failed(acl_pier, case):
    from confluent_kafka import KafkaError

    # No rule: refused at Metadata, librdkafka fails the record without
    # sending it. Describe only: Metadata answers, the Produce is refused.
    topic = new_topic(acl_pier, "acl-denied" if case == "no rule" else "acl-look")
    reports = confluent_deliveries(acl_pier, topic, [b"must not be stored"])
    assert reports[0] is not None, "the record was stored"
    assert reports[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, reports[0]
    assert stored_records(acl_pier, topic) == 0


def test_confluent_consumer_gets_group_authorization_failed(acl_pier):
    from confluent_kafka import Consumer, KafkaError

    topic = new_topic(acl_pier, "acl-ok")
    assert confluent_deliveries(acl_pier, topic, [b"x"]) == [None]
    c = Consumer(dict(confluent_settings(acl_pier), **{
        "group.id": unique("acl-group-denied"), "auto.offset.reset": "earliest",
        "enable.auto.commit": False}))
    errors = []
    try:
        c.subscribe([topic])

        def refused():
            for m in c.consume(num_messages=100, timeout=0.5):
                assert m.error() is not None, "a record reached a consumer of a refused group"
                errors.append(m.error())
            return any(e.code() == KafkaError.GROUP_AUTHORIZATION_FAILED for e in errors)

        wait_for(refused, REFUSAL_TIMEOUT_S,
                 lambda: "GROUP_AUTHORIZATION_FAILED from poll (got %s)" % [e.str() for e in errors[:3]])
    finally:
        c.close()


def test_confluent_authorized_produce_and_consume(acl_pier):
    from confluent_kafka import Consumer

    topic, group = new_topic(acl_pier, "acl-ok"), unique("acl-group-ok")
    values = [("value %d %s" % (i, topic)).encode() for i in range(RECORDS)]
    assert confluent_deliveries(acl_pier, topic, values) == [None] * RECORDS
    c = Consumer(dict(confluent_settings(acl_pier), **{
        "group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": False}))
    got = []
    try:
        c.subscribe([topic])

        def all_read():
            for m in c.consume(num_messages=100, timeout=0.5):
                assert m.error() is None, m.error()
                got.append(m.value())
            return len(got) >= RECORDS

        wait_for(all_read, 30, lambda: "%d of %d records" % (len(got), RECORDS))
        c.commit(asynchronous=False)
    finally:
        c.close()
    assert Counter(got) == Counter(values)


def test_kafka_python_sees_both_refusals(acl_pier):
    from kafka import KafkaConsumer, KafkaProducer
    from kafka.errors import GroupAuthorizationFailedError, TopicAuthorizationFailedError

    p = KafkaProducer(max_block_ms=5000, request_timeout_ms=5000, **kafka_python_settings(acl_pier))
    try:
        ok = new_topic(acl_pier, "acl-ok")
        assert p.send(ok, b"allowed").get(timeout=REFUSAL_TIMEOUT_S).offset == 0
        denied = new_topic(acl_pier, "acl-denied")
        with pytest.raises(TopicAuthorizationFailedError):
            p.send(denied, b"must not be stored").get(timeout=REFUSAL_TIMEOUT_S)
    finally:
        p.close(timeout=5)
    assert stored_records(acl_pier, denied) == 0

    c = KafkaConsumer(ok, group_id=unique("acl-group-denied"), auto_offset_reset="earliest",
                      enable_auto_commit=False, **kafka_python_settings(acl_pier))
    try:
        with pytest.raises(GroupAuthorizationFailedError):
            for _ in range(REFUSAL_TIMEOUT_S * 2):
                assert not c.poll(timeout_ms=500), "a record reached a consumer of a refused group"
    finally:
        c.close()
    c = KafkaConsumer(ok, group_id=unique("acl-group-ok"), auto_offset_reset="earliest",
                      enable_auto_commit=False, **kafka_python_settings(acl_pier))
    try:
        got = []
        wait_for(lambda: got.extend(r.value for rs in c.poll(timeout_ms=500).values() for r in rs) or got,
                 30, "the allowed record")
        assert got == [b"allowed"]
    finally:
        c.close()
