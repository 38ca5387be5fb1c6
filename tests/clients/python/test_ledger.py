"""The delivery ledger with real clients: each verdict produced on purpose,
and absent when the client is configured right, checked against the
client's own record of what it sent and received (sets of offsets, never
counts). `pier verify` is run as a CI job would run it."""

import json
import signal
import subprocess
import sys
import textwrap
import time

import jsonschema_rs
from confluent_kafka import AcknowledgeType, Consumer, Producer, ShareConsumer

from adapters import http, unique, wait_for
from conftest import REPO_ROOT, pier_bin


def verdict(pier, topic, group=None, expect=None):
    q = "topic=%s" % topic
    if group:
        q += "&group=%s" % group
    if expect:
        q += "&expect=%s" % expect
    return http(pier, "GET", "/api/v1/ledger/verdict?" + q)


def listed(v, kind):
    """Every (partition, offset) a finding lists."""
    f = next(f for f in v["findings"] if f["kind"] == kind)
    assert f["complete"], "all spans listed"
    out = {(s["partition"], o) for s in f["spans"] for o in range(s["first_offset"], s["last_offset"] + 1)}
    assert len(out) == f["records"], "the count matches the spans"
    return out


def stored(pier, topic, partition=0):
    """offset -> value of every stored record of the partition (over HTTP)."""
    out, offset = {}, 0
    while True:
        page = http(pier, "GET", "/api/v1/topics/%s/messages?partition=%d&offset=%d&limit=1000"
                    % (topic, partition, offset))
        if not page["messages"]:
            return out
        out.update({m["offset"]: m["value"] for m in page["messages"]})
        offset = page["next_offset"]


def produce_acked(pier, topic, values, **conf):
    """Produces each value; returns {offset: value} of every acknowledged one."""
    p = Producer({"bootstrap.servers": pier.bootstrap, "linger.ms": 0, "acks": "all", **conf})
    acked = {}

    def report(err, msg):
        if err is None:
            acked[msg.offset()] = msg.value().decode()

    for v in values:
        p.produce(topic, value=v.encode(), on_delivery=report)
        p.poll(0)
    assert p.flush(30) == 0
    return acked


def verify_cli(pier, *args):
    return subprocess.run([str(pier_bin()), "verify", "--server", pier.http, *args],
                          capture_output=True, text=True, timeout=60)


def verdict_schema():
    doc = json.loads((REPO_ROOT / "docs" / "openapi.json").read_text())
    return {"$ref": "#/components/schemas/VerdictResponse", "components": doc["components"]}


def test_power_loss_without_fsync_lists_exactly_the_acknowledged_records_gone(cutting_pier):
    pier = cutting_pier
    topic = unique("ledger-loss")
    http(pier, "POST", "/api/v1/topics", {"name": topic})
    durable = produce_acked(pier, topic, ["d%d" % i for i in range(100)])
    http(pier, "POST", "/api/v1/faults", {"kind": "power_loss"})
    # Control: with fsync on, the same cut loses nothing and the ledger says so.
    assert set(durable.items()) <= set(stored(pier, topic).items())
    v = verdict(pier, topic, expect="no-loss")
    assert listed(v, "lost_after_ack") == set() and v["met"] is True, v
    ok = verify_cli(pier, "--topic", topic, "--expect", "no-loss")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "OK: no-loss held" in ok.stdout

    http(pier, "PUT", "/api/v1/durability", {"fsync": False})
    at_risk = produce_acked(pier, topic, ["r%d" % i for i in range(200)])
    http(pier, "POST", "/api/v1/faults", {"kind": "power_loss"})
    after = stored(pier, topic)
    gone = {(0, o) for o, value in at_risk.items() if after.get(o) != value}
    assert gone, "without fsync a power cut loses acknowledged records"
    v = verdict(pier, topic, expect="no-loss")
    assert listed(v, "lost_after_ack") == gone
    assert v["guarantee"] == "none" and v["met"] is False
    broken = verify_cli(pier, "--topic", topic, "--expect", "no-loss", "--json")
    assert broken.returncode == 3, broken.stdout + broken.stderr
    answer = json.loads(broken.stdout)
    jsonschema_rs.validate(verdict_schema(), answer)
    assert listed(answer, "lost_after_ack") == gone
    text = verify_cli(pier, "--topic", topic, "--expect", "no-loss")
    assert text.returncode == 3 and "BROKEN: no-loss did not hold" in text.stdout, text.stdout


def test_lost_acknowledgements_without_idempotence_are_listed_as_stored_twice(pier):
    for client, idempotent in (("careful", True), ("careless", False)):
        topic = unique("ledger-dup")
        http(pier, "POST", "/api/v1/topics", {"name": topic})
        fault = http(pier, "POST", "/api/v1/faults",
                     {"kind": "lose_produce_ack", "params": {"every": 3}, "client_id": client})
        p = Producer({"bootstrap.servers": pier.bootstrap, "client.id": client, "linger.ms": 0,
                      "enable.idempotence": idempotent, "acks": "all", "retries": 10,
                      "retry.backoff.ms": 10, "reconnect.backoff.ms": 10})
        for i in range(45):
            p.produce(topic, key=b"k%d" % i, value=b"m%d" % i)
            assert p.flush(30) == 0
        http(pier, "DELETE", "/api/v1/faults/%d" % fault["fault"]["id"])
        # The client's own record: every value it sent, once each. A value
        # stored at several offsets has copies after its first.
        first, copies = {}, set()
        for offset, value in sorted(stored(pier, topic).items()):
            if value in first:
                copies.add((0, offset))
            else:
                first[value] = offset
        assert set(first) == {"m%d" % i for i in range(45)}, "nothing lost"
        v = verdict(pier, topic)
        assert listed(v, "stored_twice") == copies
        # Each copy is listed with its key (the key of the value stored there).
        stored_now = stored(pier, topic)
        twice = next(f for f in v["findings"] if f["kind"] == "stored_twice")
        assert {(r["offset"], r["key"]) for r in twice["listed"]} == \
            {(o, "k" + stored_now[o][1:]) for _, o in copies}
        if idempotent:
            assert copies == set() and v["guarantee"] == "effectively-exactly-once", v
        else:
            assert copies, "lost acknowledgements make retries store copies"
            assert v["guarantee"] == "at-least-once"


DYING_CONSUMER = textwrap.dedent("""
    import json, os, sys
    from confluent_kafka import Consumer, TopicPartition
    bootstrap, group, topic, n, die_after = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "client.id": "dying",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "session.timeout.ms": 6000})  # its successor waits this long for its partition
    c.subscribe([topic])
    got = []
    while len(got) < n:
        got += [m.offset() for m in c.consume(n - len(got), 1.0) if m.error() is None]
    for i, offset in enumerate(got):
        # process the record, then commit every 10 processed
        if (i + 1) % 10 == 0:
            c.commit(offsets=[TopicPartition(topic, 0, offset + 1)], asynchronous=False)
        if i + 1 == die_after:
            print(json.dumps(got), flush=True)
            os._exit(9)  # dies mid-batch, without closing
""")


def test_a_consumer_killed_between_commits_has_its_uncommitted_records_delivered_again(pier):
    topic, group, n = unique("ledger-redo"), unique("g"), 50
    http(pier, "POST", "/api/v1/topics", {"name": topic})
    produce_acked(pier, topic, ["j%d" % i for i in range(n)])
    dying = subprocess.run([sys.executable, "-c", DYING_CONSUMER, pier.bootstrap, group, topic, str(n), "25"],
                           capture_output=True, text=True, timeout=60)
    first = set(json.loads(dying.stdout))
    assert first == set(range(n)), dying.stderr
    c = Consumer({"bootstrap.servers": pier.bootstrap, "group.id": group, "client.id": "successor",
                  "enable.auto.commit": False, "session.timeout.ms": 6000})
    c.subscribe([topic])
    second = set()
    try:
        deadline = time.time() + 60
        while len(second) < n - 20 and time.time() < deadline:
            second |= {m.offset() for m in c.consume(50, 0.5) if m.error() is None}
        c.commit(asynchronous=False)
    finally:
        c.close()
    twice = {(0, o) for o in first & second}
    assert twice == {(0, o) for o in range(20, n)}, "the successor starts at the last commit"
    v = verdict(pier, topic, group, expect="at-least-once")
    assert listed(v, "delivered_more_than_once") == twice
    assert listed(v, "committed_without_delivery") == set()
    assert v["guarantee"] == "at-least-once" and v["met"] is True, v


SHARE_DYING = textwrap.dedent("""
    import json, sys, time
    from confluent_kafka import AcknowledgeType, ShareConsumer
    c = ShareConsumer({"bootstrap.servers": sys.argv[1], "group.id": sys.argv[2],
                       "share.acknowledgement.mode": "explicit", "client.id": "doomed"})
    c.subscribe([sys.argv[3]])
    while True:
        batch = [m for m in list(c.poll(1.0) or []) if m.error() is None]
        if batch:
            accepted = [m.offset() for m in batch[: len(batch) // 2]]
            for m in batch[: len(batch) // 2]:
                c.acknowledge(m, AcknowledgeType.ACCEPT)
            c.commit_sync()
            print(json.dumps({"held": [m.offset() for m in batch], "accepted": accepted}), flush=True)
            time.sleep(3600)  # killed mid-batch
""")


def test_a_share_consumer_killed_mid_batch_has_exactly_its_unacknowledged_records_redelivered(pier):
    topic, group, n = unique("ledger-share"), unique("sg"), 40
    http(pier, "POST", "/api/v1/topics", {"name": topic})
    produce_acked(pier, topic, ["s%d" % i for i in range(n)])
    http(pier, "PUT", "/api/v1/queues/" + group,
         {"topic": topic, "lease_ms": 3000, "backoff_base_ms": 0, "backoff_max_ms": 0})
    doomed = subprocess.Popen([sys.executable, "-c", SHARE_DYING, pier.bootstrap, group, topic],
                              stdout=subprocess.PIPE, text=True)
    try:
        told = json.loads(doomed.stdout.readline())
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)
    finally:
        if doomed.poll() is None:
            doomed.kill()
    unsettled = {(0, o) for o in set(told["held"]) - set(told["accepted"])}
    assert unsettled and told["accepted"]
    survivor = ShareConsumer({"bootstrap.servers": pier.bootstrap, "group.id": group,
                              "share.acknowledgement.mode": "explicit", "client.id": "survivor"})
    survivor.subscribe([topic])
    seen = set()
    try:
        deadline = time.time() + 30
        while len(seen) < n - len(told["accepted"]) and time.time() < deadline:
            for m in list(survivor.poll(0.5) or []):
                if m.error() is None:
                    seen.add(m.offset())
                    survivor.acknowledge(m, AcknowledgeType.ACCEPT)
            survivor.commit_sync()
    finally:
        survivor.close()
    assert seen == set(range(n)) - set(told["accepted"])
    v = verdict(pier, topic, group)
    assert listed(v, "delivered_more_than_once") == unsettled
    assert v["group_kind"] == "queue" and v["guarantee"] == "at-least-once", v


AUTO_COMMITTER = textwrap.dedent("""
    import json, os, sys, time
    from kafka import KafkaConsumer
    bootstrap, group, topic = sys.argv[1], sys.argv[2], sys.argv[3]
    c = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, client_id="auto-committer",
                      enable_auto_commit=True, auto_commit_interval_ms=100, auto_offset_reset="earliest",
                      max_poll_records=10)
    got, processed = [], []
    deadline = time.time() + 30
    while time.time() < deadline:
        for records in c.poll(timeout_ms=500).values():
            for r in records:
                got.append(r.offset)
                if len(processed) < 25:
                    processed.append(r.offset)  # "processes" only the first 25
        if len(got) >= 40:
            time.sleep(0.5)       # the auto-commit runs in the next poll ...
            c.poll(timeout_ms=200)
            print(json.dumps({"got": got, "processed": processed}), flush=True)
            os._exit(9)           # ... and the consumer dies before processing the rest
""")


def test_kafka_python_auto_commit_killed_mid_batch(pier):
    """Auto-commit commits what poll returned, processed or not. The records
    a successor gets again are listed as delivered more than once; the
    committed-but-unprocessed ones are gone for the application, and a
    broker cannot see that (docs/ledger.md)."""
    from kafka import KafkaConsumer
    topic, group, n = unique("ledger-auto"), unique("g"), 60
    http(pier, "POST", "/api/v1/topics", {"name": topic})
    produce_acked(pier, topic, ["a%d" % i for i in range(n)])
    dying = subprocess.run([sys.executable, "-c", AUTO_COMMITTER, pier.bootstrap, group, topic],
                           capture_output=True, text=True, timeout=60)
    told = json.loads(dying.stdout)
    first, processed = set(told["got"]), set(told["processed"])
    c = KafkaConsumer(topic, bootstrap_servers=pier.bootstrap, group_id=group, client_id="successor",
                      enable_auto_commit=False, auto_offset_reset="earliest")
    second = set()
    deadline = time.time() + 30
    while time.time() < deadline and (not second or max(second) < n - 1):
        for records in c.poll(timeout_ms=500).values():
            second |= {r.offset for r in records}
    c.close()
    assert max(second) == n - 1 and min(second) > 0, "the successor resumed from a commit"
    v = verdict(pier, topic, group)
    again = listed(v, "delivered_more_than_once")
    # What both got is listed; what is listed, the successor got (the dying
    # consumer may also have fetched records it never returned from poll).
    assert {(0, o) for o in first & second} <= again <= {(0, o) for o in second}
    assert listed(v, "committed_without_delivery") == set()
    unprocessed_and_skipped = (first - processed) - second
    assert unprocessed_and_skipped, "auto-commit skipped records the app never processed"
    assert not ({(0, o) for o in unprocessed_and_skipped} & again), "the broker saw them delivered once"
