"""Produce and consume with kafka-python and confluent-kafka."""

import json

import pytest

from adapters import (CLIENTS, CONFLUENT, KAFKA_PYTHON, consume_until, consumer,
                      producer, unique)


def close_all(*things):
    for t in things:
        if t is not None:
            t.close()


@pytest.mark.parametrize("client", CLIENTS)
def test_quickstart_consumer_first_on_missing_topic(pier, client):
    """Kafka's quickstart: a group-less consumer waits on a topic that does
    not exist yet; a producer then sends 20 JSON values, flushing each."""
    topic = unique("quickstart")
    if client == KAFKA_PYTHON:
        # subscribe() without group_id: kafka-python assigns itself every
        # partition of the topic, no group coordinator involved. A short
        # metadata max age lets it notice the topic once the producer made it.
        c = consumer(client, pier.bootstrap, group=None, topics=[topic],
                     extra={"metadata_max_age_ms": 1000})
    else:
        # librdkafka's subscribe() needs a group; assign() joins none.
        c = consumer(client, pier.bootstrap, assign=[(topic, 0)],
                     extra={"topic.metadata.refresh.interval.ms": 1000})
    p = None
    try:
        assert c.poll(1.0) == [], "records on a topic nobody has written to"
        p = producer(client, pier.bootstrap)
        sent = []
        for i in range(20):
            value = {"id": i, "event": "quickstart", "text": "hello pier %d" % i}
            p.send(topic, json.dumps(value).encode("utf-8"))
            acked = p.flush()
            assert [(d.topic, d.partition, d.offset) for d in acked] == [(topic, 0, i)]
            sent.append(value)
        records = consume_until(c, 20, timeout=30, settle=1.0)
        assert [json.loads(r.value) for r in records] == sent
        assert [(r.topic, r.partition, r.offset) for r in records] == [(topic, 0, i) for i in range(20)]
    finally:
        close_all(c, p)


@pytest.mark.parametrize("client", CLIENTS)
def test_ten_thousand_records_exactly_once_in_order(pier, client):
    topic = unique("bulk")
    n = 10_000
    values = [b"record-%06d" % i for i in range(n)]
    keys = [b"key-%d" % (i % 13) for i in range(n)]
    p = producer(client, pier.bootstrap, linger_ms=20)
    try:
        for k, v in zip(keys, values):
            p.send(topic, v, key=k, partition=0)
        acked = p.flush(timeout=60)
    finally:
        p.close()
    assert len(acked) == n
    assert sorted(d.offset for d in acked) == list(range(n)), "acknowledged offsets are not 0..n-1"

    c = consumer(client, pier.bootstrap, assign=[(topic, 0)])
    try:
        records = consume_until(c, n, timeout=45, settle=1.0)
        assert c.watermarks(topic, 0) == (0, n)
    finally:
        c.close()
    assert len(records) == n, "got %d records, want %d" % (len(records), n)
    assert [r.offset for r in records] == list(range(n))
    assert [r.value for r in records] == values
    assert [r.key for r in records] == keys


@pytest.mark.parametrize("client", CLIENTS)
def test_idempotent_producer_stores_each_record_once(pier, client):
    topic = unique("idempotent")
    n = 2000
    values = [json.dumps({"seq": i}).encode() for i in range(n)]
    p = producer(client, pier.bootstrap, idempotent=True, acks="all", linger_ms=10)
    try:
        acked = []
        for start in range(0, n, 500):  # several flushes: sequence numbers carry across batches
            for v in values[start:start + 500]:
                p.send(topic, v)
            acked += p.flush()
    finally:
        p.close()
    assert sorted(d.offset for d in acked) == list(range(n))

    c = consumer(client, pier.bootstrap, assign=[(topic, 0)])
    try:
        records = consume_until(c, n, timeout=30, settle=1.5)
        assert c.watermarks(topic, 0) == (0, n)
    finally:
        c.close()
    assert len(records) == n, "stored %d records for %d sent" % (len(records), n)
    assert [r.value for r in records] == values
    assert [r.offset for r in records] == list(range(n))


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
@pytest.mark.parametrize("producer_client", CLIENTS)
def test_compression_round_trip(pier, producer_client, codec):
    """Batches compressed by one library are read back by both."""
    topic = unique("codec-" + codec)
    values = [json.dumps({"i": i, "codec": codec, "pad": "pier " * 40}).encode() for i in range(300)]
    values.append(b"x" * 100_000 + b"end")  # one large, very compressible record
    values.append(b"")                     # and an empty one
    p = producer(producer_client, pier.bootstrap, compression=codec, linger_ms=50)
    try:
        for v in values:
            p.send(topic, v)
        acked = p.flush()
    finally:
        p.close()
    assert sorted(d.offset for d in acked) == list(range(len(values)))

    for consumer_client in CLIENTS:
        c = consumer(consumer_client, pier.bootstrap, assign=[(topic, 0)])
        try:
            records = consume_until(c, len(values), timeout=30, settle=0.5)
        finally:
            c.close()
        got = [r.value or b"" for r in records]  # an empty value may come back as None
        assert len(got) == len(values), "%s read %d of %d %s records" % (
            consumer_client, len(got), len(values), codec)
        assert got == values, "%s read back different %s records" % (consumer_client, codec)
        assert [r.offset for r in records] == list(range(len(values)))
