"""KIP-848 consumer groups (`group.protocol=consumer`) with confluent-kafka
(librdkafka): members share the partitions, a member leaving hands its
partitions over, and commits resume where they left off. Sets of record
ids, never counts. Each scenario runs against Pier and against the
reference Apache Kafka 4.4 (`broker` fixture, `tests/reference/kafka`):
the same assertions must hold on both."""

import json
import os
import subprocess
import threading
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from adapters import http, unique, wait_for
from conftest import REPO_ROOT


def create(pier, topic):
    admin = AdminClient({"bootstrap.servers": pier.bootstrap})
    admin.create_topics([NewTopic(topic, 3, 1)])[topic].result(30)


def produce(pier, topic, ids):
    p = Producer({"bootstrap.servers": pier.bootstrap, "linger.ms": 5})
    for i in ids:
        p.produce(topic, key=str(i).encode(), value=("id-%d" % i).encode(), partition=i % 3)
    assert p.flush(30) == 0


class Member(threading.Thread):
    """A consumer of the new protocol polling on its own thread; it commits
    each record after processing it (at-least-once)."""

    def __init__(self, pier, topic, group, name):
        super().__init__(name=name, daemon=True)
        self.c = Consumer({"bootstrap.servers": pier.bootstrap, "group.id": group,
                           "group.protocol": "consumer", "client.id": name,
                           "enable.auto.commit": False, "auto.offset.reset": "earliest"})
        self.c.subscribe([topic])
        self.got, self.assigned, self.error = [], set(), None
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    def run(self):
        try:
            while not self.stopping.is_set():
                m = self.c.poll(0.2)
                with self.lock:
                    self.assigned = {tp.partition for tp in self.c.assignment()}
                if m is None:
                    continue
                if m.error():
                    raise KafkaException(m.error())
                with self.lock:
                    self.got.append(m.value().decode())
                self.c.commit(message=m, asynchronous=False)
        except BaseException as e:  # surfaced by the test
            self.error = e
        finally:
            self.c.close()

    def partitions(self):
        with self.lock:
            return set(self.assigned)

    def received(self):
        with self.lock:
            return list(self.got)

    def stop(self):
        self.stopping.set()
        self.join(30)
        assert self.error is None, self.error


def test_members_share_partitions_hand_them_over_and_resume_from_commits(broker):
    pier = broker
    topic, group = unique("kip848"), unique("kip848-group")
    create(pier, topic)
    a, b = Member(pier, topic, group, "member-a"), Member(pier, topic, group, "member-b")
    a.start()
    b.start()
    # Both get partitions, never the same one, all three covered.
    wait_for(lambda: a.partitions() and b.partitions()
             and a.partitions() | b.partitions() == {0, 1, 2}, 30, "both members assigned")
    assert not a.partitions() & b.partitions()
    pa, pb = a.partitions(), b.partitions()
    if hasattr(pier, "http"):
        # Pier's HTTP API (and so the UI) shows the group as KIP-848, with
        # each member's epoch and what it owns.
        g = wait_for(lambda: (lambda g: g if g["state"] == "Stable" else None)(
            http(pier, "GET", "/api/v1/groups/" + group)), 10, "a stable group")
        assert g["protocol"] == "consumer" and g["generation"] > 0, g
        owned = {m["client_id"]: {p for a in m["assignment"] for p in a["partitions"]}
                 for m in g["members"]}
        assert owned == {"member-a": pa, "member-b": pb}, g
        assert all(m["member_epoch"] > 0 and m["target"] == m["assignment"] for m in g["members"]), g
    produce(pier, topic, range(300))
    everything = {"id-%d" % i for i in range(300)}
    wait_for(lambda: set(a.received()) | set(b.received()) >= everything, 30, "all 300 received")
    # Each received exactly the records of its own partitions (id % 3).
    assert set(a.received()) == {"id-%d" % i for i in range(300) if i % 3 in pa}
    assert set(b.received()) == {"id-%d" % i for i in range(300) if i % 3 in pb}
    # a leaves: b takes its partitions over and gets what comes next.
    a.stop()
    wait_for(lambda: b.partitions() == {0, 1, 2}, 30, "b owns every partition")
    produce(pier, topic, range(300, 450))
    later = {"id-%d" % i for i in range(300, 450)}
    wait_for(lambda: set(b.received()) >= later, 30, "b receives the next 150")
    b.stop()
    # A new member resumes from the commits: nothing before them again.
    produce(pier, topic, range(450, 480))
    c = Member(pier, topic, group, "member-c")
    c.start()
    newest = {"id-%d" % i for i in range(450, 480)}
    wait_for(lambda: set(c.received()) >= newest, 30, "c receives the newest 30")
    time.sleep(1)
    c.stop()
    assert set(c.received()) == newest, "c starts where the group committed"
    # Nothing lost across the three members.
    assert set(a.received()) | set(b.received()) | set(c.received()) == \
        {"id-%d" % i for i in range(480)}


def test_committed_offsets_of_a_kip848_group_are_the_groups(broker):
    pier = broker
    topic, group = unique("kip848-c"), unique("kip848-cg")
    create(pier, topic)
    produce(pier, topic, range(30))
    m = Member(pier, topic, group, "only")
    m.start()
    wait_for(lambda: len(set(m.received())) == 30, 30, "30 received")
    m.stop()
    probe = Consumer({"bootstrap.servers": pier.bootstrap, "group.id": group,
                      "group.protocol": "consumer"})
    committed = probe.committed([TopicPartition(topic, p) for p in range(3)], timeout=10)
    probe.close()
    assert {tp.partition: tp.offset for tp in committed} == {0: 10, 1: 10, 2: 10}


def test_the_java_client_shares_partitions_and_hands_them_over(broker):
    """kafka-clients 4.4 (`tests/java/Kip848.java`, run from the reference
    Kafka's jars), judged here by record ids."""
    jars = os.path.join(REPO_ROOT, "tests", "reference", ".jars", "*")
    program = os.path.join(REPO_ROOT, "tests", "java", "Kip848.java")
    topic, group = unique("kip848-java"), unique("kip848-java-group")
    run = subprocess.run(["java", "-cp", jars, program, broker.bootstrap, topic, group],
                         capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    owned_a, owned_b = set(seen["owned_a"]), set(seen["owned_b"])
    assert not owned_a & owned_b and owned_a | owned_b == {0, 1, 2}, seen
    assert set(seen["first_a"]) == {"id-%d" % i for i in range(300) if i % 3 in owned_a}
    assert set(seen["first_b"]) == {"id-%d" % i for i in range(300) if i % 3 in owned_b}
    assert set(seen["later_b"]) == {"id-%d" % i for i in range(300, 450)}, \
        "after a left, b got every new record"
