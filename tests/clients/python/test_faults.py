"""Faults injected over the HTTP API, with real Kafka clients going through
them: lost acknowledgements and crashes with idempotent producers (no
duplicates) and without (duplicates), connection resets, latency, a
blackhole, refused connections, sliced and throttled responses."""

import threading
import time
import urllib.error

import pytest
from confluent_kafka import Consumer, Producer
from kafka import KafkaProducer
from kafka.errors import KafkaError, NoBrokersAvailable

from adapters import http, unique, wait_for


def start_fault(pier, kind, **body):
    return http(pier, "POST", "/api/v1/faults", dict(kind=kind, **body))


def heal(pier, fault):
    return http(pier, "DELETE", "/api/v1/faults/%d" % fault["fault"]["id"])


def stored_values(pier, topic, partition=0):
    """Every value stored in the partition, in offset order (over HTTP)."""
    values, offset = [], 0
    while True:
        page = http(pier, "GET", "/api/v1/topics/%s/messages?partition=%d&offset=%d&limit=1000"
                    % (topic, partition, offset))
        if not page["messages"]:
            return values
        values.extend(m["value"] for m in page["messages"])
        offset = page["next_offset"]


def ck_produce_all(pier, topic, n, **conf):
    """Produces m0..m{n-1} one by one (each flushed); returns delivery errors."""
    p = Producer({"bootstrap.servers": pier.bootstrap, "linger.ms": 0,
                  "message.timeout.ms": 30000, "socket.keepalive.enable": True,
                  "reconnect.backoff.ms": 10, "retry.backoff.ms": 10, **conf})
    errors = []
    for i in range(n):
        p.produce(topic, value=b"m%d" % i,
                  on_delivery=lambda err, msg: errors.append(err) if err else None)
        p.flush(30)
    return errors


def test_lost_acks_duplicate_without_idempotence_but_not_with_it(pier):
    topic = unique("acks")
    http(pier, "POST", "/api/v1/topics", {"name": topic})
    f1 = start_fault(pier, "lose_produce_ack", params={"every": 3}, client_id="careful")
    f2 = start_fault(pier, "lose_produce_ack", params={"every": 3}, client_id="careless")
    assert f1["fault"]["client_id"] == "careful"
    assert ck_produce_all(pier, topic, 60, **{"client.id": "careful", "enable.idempotence": True}) == []
    stored = stored_values(pier, topic)
    assert stored == ["m%d" % i for i in range(60)], "idempotent: each record once, in order"

    dup_topic = unique("dups")
    http(pier, "POST", "/api/v1/topics", {"name": dup_topic})
    assert ck_produce_all(pier, dup_topic, 60, **{"client.id": "careless", "enable.idempotence": False,
                                                   "acks": "all", "retries": 10}) == []
    stored = stored_values(pier, dup_topic)
    assert sorted(set(stored)) == sorted("m%d" % i for i in range(60)), "nothing lost"
    assert len(stored) >= 60 + 60 // 3 - 1, \
        "every 3rd acknowledgement lost, so about a third are stored twice: %d stored" % len(stored)
    heal(pier, f1)
    heal(pier, f2)
    assert http(pier, "GET", "/api/v1/faults") == []


def test_refused_produce_requests_are_retried_by_librdkafka_each_record_once_in_order(pier):
    """fail_produce answers every 3rd produce request of one client with
    NOT_LEADER_OR_FOLLOWER and stores nothing of it: an idempotent
    confluent-kafka producer retries and every record is stored once, in
    order; the fault counts only that client's requests."""
    topic = unique("refused")
    http(pier, "POST", "/api/v1/topics", {"name": topic})
    f = start_fault(pier, "fail_produce", params={"every": 3}, client_id="leader-change")
    assert f["fault"]["kind"] == "fail_produce"
    assert ck_produce_all(pier, topic, 45, **{"client.id": "leader-change", "enable.idempotence": True}) == []
    assert stored_values(pier, topic) == ["m%d" % i for i in range(45)]
    # Without retries the refusals reach the application, with Kafka's code
    # (kafka-python: retries=0 fails the send with NotLeaderForPartitionError).
    f2 = start_fault(pier, "fail_produce", params={"every": 3}, client_id="no-retries")
    strict = unique("strict")
    http(pier, "POST", "/api/v1/topics", {"name": strict})
    kp = KafkaProducer(bootstrap_servers=pier.bootstrap, client_id="no-retries", retries=0,
                       linger_ms=0, max_in_flight_requests_per_connection=1)
    failed = []
    for i in range(9):
        try:
            kp.send(strict, value=b"m%d" % i).get(timeout=10)
        except KafkaError as e:
            failed.append((i, type(e).__name__))
    kp.close()
    assert failed == [(i, "NotLeaderForPartitionError") for i in (2, 5, 8)], failed
    assert stored_values(pier, strict) == ["m%d" % i for i in range(9) if i % 3 != 2]
    heal(pier, f2)
    other = unique("unaffected")
    http(pier, "POST", "/api/v1/topics", {"name": other})
    assert ck_produce_all(pier, other, 10, **{"client.id": "bystander"}) == []
    assert stored_values(pier, other) == ["m%d" % i for i in range(10)]
    heal(pier, f)
    assert http(pier, "GET", "/api/v1/faults") == []


def test_idempotent_producer_rides_out_broker_crashes(pier):
    topic = unique("crash")
    http(pier, "POST", "/api/v1/topics", {"name": topic})
    n = 3000
    p = Producer({"bootstrap.servers": pier.bootstrap, "enable.idempotence": True,
                  "linger.ms": 2, "message.timeout.ms": 60000, "reconnect.backoff.ms": 20})
    errors, delivered = [], []

    def report(err, msg):
        (errors if err else delivered).append(err or msg.offset())

    done = threading.Event()

    def crash_twice():
        for _ in range(2):
            wait_for(lambda: len(delivered) > n // 4 or done.is_set(), 30, "deliveries")
            r = start_fault(pier, "broker_crash")
            assert r["recovery"]["took_ms"] >= 0
            time.sleep(0.3)

    t = threading.Thread(target=crash_twice)
    t.start()
    for i in range(n):
        p.produce(topic, value=b"m%d" % i, on_delivery=report)
        if i % 100 == 0:
            p.poll(0)
            time.sleep(0.01)
    p.flush(60)
    done.set()
    t.join()
    assert errors == []
    assert len(delivered) == n
    stored = stored_values(pier, topic)
    assert stored == ["m%d" % i for i in range(n)], "exactly once and in order across two crashes"
    timeline = http(pier, "GET", "/api/v1/faults/timeline")
    assert [e["event"] for e in timeline].count("recovered") == 2


def test_resets_are_retried_and_nothing_is_doubled(pier):
    topic = unique("reset")
    http(pier, "POST", "/api/v1/topics", {"name": topic})
    fault = start_fault(pier, "connection_reset", params={"every": 4})
    producer = KafkaProducer(bootstrap_servers=pier.bootstrap, acks="all", retries=20,
                             retry_backoff_ms=20, reconnect_backoff_ms=20, client_id="resetting")
    for i in range(100):
        producer.send(topic, b"r%d" % i).get(timeout=30)
    producer.close()
    heal(pier, fault)
    assert stored_values(pier, topic) == ["r%d" % i for i in range(100)], \
        "a reset before handling loses nothing and doubles nothing"


def test_latency_slows_only_the_chosen_client(pier):
    topic = unique("latency")
    http(pier, "POST", "/api/v1/topics", {"name": topic})
    slow = KafkaProducer(bootstrap_servers=pier.bootstrap, client_id="slow", acks="all")
    slow.send(topic, b"warm").get(timeout=30)
    fault = start_fault(pier, "latency", params={"latency_ms": 400}, client_id="slow")
    started = time.monotonic()
    slow.send(topic, b"late").get(timeout=30)
    assert time.monotonic() - started >= 0.4, "the produce round trip carries the latency"
    fast = KafkaProducer(bootstrap_servers=pier.bootstrap, client_id="fast", acks="all")
    fast.send(topic, b"unaffected").get(timeout=30)
    heal(pier, fault)
    slow.close()
    fast.close()
    assert stored_values(pier, topic) == ["warm", "late", "unaffected"]


def test_blackhole_times_out_then_heals(pier):
    topic = unique("blackhole")
    http(pier, "POST", "/api/v1/topics", {"name": topic})
    p = KafkaProducer(bootstrap_servers=pier.bootstrap, client_id="victim", acks="all", retries=0,
                      request_timeout_ms=1500, max_block_ms=3000)
    p.send(topic, b"before").get(timeout=30)
    fault = start_fault(pier, "blackhole", client_id="victim")
    with pytest.raises(KafkaError):
        p.send(topic, b"swallowed").get(timeout=10)
    heal(pier, fault)
    p2 = KafkaProducer(bootstrap_servers=pier.bootstrap, client_id="victim", acks="all")
    p2.send(topic, b"after").get(timeout=30)
    try:
        p.close(timeout=1)
    except KafkaError:
        pass  # its blackholed batch never completes
    p2.close()
    stored = stored_values(pier, topic)
    assert stored[0] == "before" and stored[-1] == "after"
    assert "swallowed" not in stored, "a blackholed request is never handled"


def test_refused_connections_come_back_after_healing(pier):
    topic = unique("refuse")
    http(pier, "POST", "/api/v1/topics", {"name": topic})
    existing = KafkaProducer(bootstrap_servers=pier.bootstrap, acks="all")
    existing.send(topic, b"one").get(timeout=30)
    fault = start_fault(pier, "refuse_connections")
    with pytest.raises(NoBrokersAvailable):
        KafkaProducer(bootstrap_servers=pier.bootstrap, api_version_auto_timeout_ms=2000)
    existing.send(topic, b"two").get(timeout=30)  # open connections keep working
    heal(pier, fault)
    fresh = KafkaProducer(bootstrap_servers=pier.bootstrap, acks="all")
    fresh.send(topic, b"three").get(timeout=30)
    existing.close()
    fresh.close()
    assert stored_values(pier, topic) == ["one", "two", "three"]


def test_sliced_and_throttled_responses_still_arrive_whole(pier):
    topic = unique("slices")
    http(pier, "POST", "/api/v1/topics", {"name": topic})
    value = "x" * 1024
    http(pier, "POST", "/api/v1/topics/%s/messages" % topic, {"value": value, "count": 100})
    slices = start_fault(pier, "slice_responses", params={"bytes": 7, "delay_ms": 0})
    throttle = start_fault(pier, "bandwidth", params={"bytes_per_sec": 40000})
    c = Consumer({"bootstrap.servers": pier.bootstrap, "group.id": unique("g"),
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    started = time.monotonic()
    got = []
    while len(got) < 100 and time.monotonic() - started < 45:
        m = c.poll(0.5)
        if m is not None and m.error() is None:
            got.append(m.value())
    elapsed = time.monotonic() - started
    c.close()
    heal(pier, slices)
    heal(pier, throttle)
    assert len(got) == 100 and all(v == value.encode() for v in got)
    assert elapsed >= 100 * 1024 / 40000 * 0.8, "100 KiB at 40 kB/s takes over 2 s: %.2fs" % elapsed


def test_bad_fault_requests_get_problem_details(pier):
    for body, status in [({"kind": "latency", "params": {"latency_ms": 10 ** 9}}, 400),
                         ({"kind": "slow_fsync", "client_id": "x"}, 400),
                         ({"kind": "tornado"}, 400)]:
        with pytest.raises(urllib.error.HTTPError) as e:
            http(pier, "POST", "/api/v1/faults", body)
        assert e.value.code == status
        assert e.value.headers.get_content_type() == "application/problem+json"
    with pytest.raises(urllib.error.HTTPError) as e:
        http(pier, "DELETE", "/api/v1/faults/12345")
    assert e.value.code == 404
    assert http(pier, "GET", "/api/v1/faults") == []
