"""Kafka share groups (KIP-932) with confluent-kafka's ShareConsumer
(librdkafka 2.16): records shared between consumers, a crashed consumer's
records redelivered after the lock expires, RELEASE until the delivery limit
ends in Pier's dead-letter topic, REJECT dead-letters at once."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

from confluent_kafka import AcknowledgeType, Producer, ShareConsumer

from adapters import http, unique, wait_for


def produce(pier, topic, n, partitions=1, prefix="m"):
    http(pier, "POST", "/api/v1/topics", {"name": topic, "partitions": partitions})
    p = Producer({"bootstrap.servers": pier.bootstrap})
    for i in range(n):
        p.produce(topic, key=b"k%d" % i, value=("%s%d" % (prefix, i)).encode())
    assert p.flush(30) == 0


def share_consumer(pier, group, topic, explicit=False, name="c", max_records=None):
    conf = {"bootstrap.servers": pier.bootstrap, "group.id": group, "client.id": name}
    if max_records:
        conf["max.poll.records"] = max_records
    if explicit:
        conf["share.acknowledgement.mode"] = "explicit"
    c = ShareConsumer(conf)
    c.subscribe([topic])
    return c


def records(batch):
    out = []
    for m in list(batch or []):
        assert m.error() is None, m.error()
        out.append(m)
    return out


def test_two_share_consumers_split_the_records(pier):
    topic, group = unique("shared"), unique("sg")
    total = 2000
    produce(pier, topic, total, partitions=2)
    got = {}
    lock = threading.Lock()
    done = threading.Event()

    def run(name):
        c = share_consumer(pier, group, topic, name=name, max_records=50)
        mine = []
        try:
            deadline = time.time() + 60
            while not done.is_set() and time.time() < deadline:
                batch = records(c.poll(0.5))
                mine.extend((m.partition(), m.offset()) for m in batch)
                time.sleep(0.05)  # "process" the batch
                with lock:
                    got[name] = list(mine)
                    if sum(len(v) for v in got.values()) >= total:
                        done.set()
            c.commit_sync()  # implicit mode: accepts what poll returned
        finally:
            c.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    everything = got.get("a", []) + got.get("b", [])
    assert sorted(everything) == sorted(set(everything)), "a record went to both consumers"
    assert len(set(everything)) == total
    shares = {k: len(v) for k, v in got.items()}
    assert min(shares.values()) >= total // 5, "both consumers did a fair part: %s" % shares
    q = wait_for(lambda: (lambda q: q if q["accepted"] == total else None)(http(pier, "GET", "/api/v1/queues/" + group)),
                 timeout=15, what="all accepted")
    assert q["redelivered"] == 0 and q["backlog"] == 0 and q["in_flight"] == 0, q


CRASHING_CONSUMER = textwrap.dedent("""
    import sys, time
    from confluent_kafka import ShareConsumer
    c = ShareConsumer({"bootstrap.servers": sys.argv[1], "group.id": sys.argv[2],
                       "share.acknowledgement.mode": "explicit", "client.id": "doomed"})
    c.subscribe([sys.argv[3]])
    while True:
        batch = [m for m in list(c.poll(1.0) or []) if m.error() is None]
        if batch:
            print(" ".join("%d:%d" % (m.partition(), m.offset()) for m in batch), flush=True)
            time.sleep(3600)  # holds its records until it is killed
""")


def test_a_killed_consumers_records_go_to_the_other_after_the_lock_expires(pier):
    topic, group = unique("crashy"), unique("sg")
    produce(pier, topic, 50)
    # A short record lock so the test need not wait Kafka's default 30 s.
    http(pier, "PUT", "/api/v1/queues/" + group, {"topic": topic, "lease_ms": 3000, "backoff_base_ms": 0, "backoff_max_ms": 0})
    doomed = subprocess.Popen([sys.executable, "-c", CRASHING_CONSUMER, pier.bootstrap, group, topic],
                              stdout=subprocess.PIPE, text=True)
    try:
        line = doomed.stdout.readline().split()
        held = {tuple(map(int, x.split(":"))) for x in line}
        assert held, "the doomed consumer got records"
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)
    finally:
        if doomed.poll() is None:
            doomed.kill()
    survivor = share_consumer(pier, group, topic, explicit=True, name="survivor")
    seen = {}
    try:
        deadline = time.time() + 30
        while len(seen) < 50 and time.time() < deadline:
            for m in records(survivor.poll(0.5)):
                seen[(m.partition(), m.offset())] = m.value()
                survivor.acknowledge(m, AcknowledgeType.ACCEPT)
            survivor.commit_sync()
    finally:
        survivor.close()
    assert len(seen) == 50, "survivor got %d of 50" % len(seen)
    assert held <= set(seen), "the killed consumer's records were redelivered"
    q = http(pier, "GET", "/api/v1/queues/" + group)
    assert q["redelivered"] >= len(held) and q["accepted"] == 50, q


def test_release_until_the_limit_then_the_dead_letter_topic_and_reject_at_once(pier):
    topic, group = unique("poison"), unique("sg")
    produce(pier, topic, 2, prefix="bad")
    c = share_consumer(pier, group, topic, explicit=True, name="picky")
    deliveries = {0: 0, 1: 0}
    try:
        deadline = time.time() + 45
        while time.time() < deadline:
            for m in records(c.poll(0.5)):
                deliveries[m.offset()] += 1
                # offset 0 is released every time; offset 1 is rejected.
                c.acknowledge(m, AcknowledgeType.RELEASE if m.offset() == 0 else AcknowledgeType.REJECT)
            c.commit_sync()
            q = http(pier, "GET", "/api/v1/queues/" + group)
            if q["dead_letter_depth"] == 2:
                break
    finally:
        c.close()
    assert deliveries == {0: 5, 1: 1}, deliveries  # Kafka's delivery count limit is 5
    dlq = http(pier, "GET", "/api/v1/topics/%s.dlq/messages" % topic)["messages"]
    by_offset = {int(m["headers"]["pier-dlq-offset"]): m for m in dlq}
    assert by_offset[0]["value"] == "bad0" and by_offset[0]["headers"]["pier-dlq-deliveries"] == "5"
    assert by_offset[1]["value"] == "bad1" and by_offset[1]["headers"]["pier-dlq-deliveries"] == "1"
    assert "rejected" in by_offset[1]["headers"]["pier-dlq-reason"]
    assert by_offset[0]["headers"]["pier-dlq-group"] == group
