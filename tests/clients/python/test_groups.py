"""Consumer groups: partition assignment, rebalancing, committed offsets."""

import threading

import pytest

from adapters import (CLIENTS, admin, consume_until, consumer, producer, unique,
                      wait_for)


class Member(threading.Thread):
    """One group member polling on its own thread (JoinGroup is a barrier
    across members, so they must poll concurrently). Commits synchronously
    after each batch it receives."""

    def __init__(self, client, bootstrap, topic, group, name):
        super().__init__(name=name, daemon=True)
        self.client, self.bootstrap, self.topic, self.group = client, bootstrap, topic, group
        self.records = []
        self.assignment = frozenset()
        self.commit_failures = 0
        self.error = None
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    def run(self):
        c = None
        try:
            c = consumer(self.client, self.bootstrap, group=self.group, topics=[self.topic])
            while not self.stopping.is_set():
                recs = c.poll(0.3)
                assignment = frozenset(c.assignment())
                with self.lock:
                    self.assignment = assignment
                    self.records.extend(recs)
                if recs:
                    try:
                        c.commit()
                    except Exception:  # e.g. the group is rebalancing: at-least-once, retried later
                        self.commit_failures += 1
        except BaseException as e:  # surfaced by the test
            self.error = e
        finally:
            if c is not None:
                try:
                    c.close()  # sends LeaveGroup
                except BaseException as e:
                    self.error = self.error or e
            with self.lock:
                self.assignment = frozenset()

    def partitions(self):
        with self.lock:
            return {p for (_, p) in self.assignment}

    def got(self):
        with self.lock:
            return list(self.records)

    def stop(self, timeout=30):
        self.stopping.set()
        self.join(timeout)
        assert not self.is_alive(), "%s did not close within %ss" % (self.name, timeout)


@pytest.mark.timeout(150)
@pytest.mark.parametrize("client", CLIENTS)
def test_group_of_three_splits_partitions_then_two_cover_all(pier, client):
    topic, group = unique("group3"), unique("g3")
    a = admin(client, pier.bootstrap)
    try:
        a.create_topic(topic, 3)
    finally:
        a.close()

    expected = set()
    p = producer(client, pier.bootstrap)

    def produce(tag, per_partition=25):
        for part in range(3):
            for i in range(per_partition):
                v = ("%s:p%d:%d" % (tag, part, i)).encode()
                p.send(topic, v, partition=part)
                expected.add((part, v))
        acked = p.flush()
        assert sorted({d.partition for d in acked}) == [0, 1, 2]

    members = [Member(client, pier.bootstrap, topic, group, "member-%d" % i) for i in range(3)]
    try:
        produce("before")
        for m in members:
            m.start()

        def check_errors():
            for m in members:
                if m.error is not None:
                    raise AssertionError("%s failed: %r" % (m.name, m.error)) from m.error

        def received():
            return {(r.partition, r.value) for m in members for r in m.got()}

        def split_three_ways():
            check_errors()
            parts = [m.partitions() for m in members]
            return all(len(x) == 1 for x in parts) and set().union(*parts) == {0, 1, 2}

        wait_for(split_three_ways, 60, lambda: "three members to own one partition each (have %s)"
                 % [sorted(m.partitions()) for m in members])
        wait_for(lambda: check_errors() or expected <= received(), 30,
                 "the group to read every record produced before it formed")

        # One member leaves; the other two must take over its partition.
        leaver, stayers = members[2], members[:2]
        left_partition = leaver.partitions()
        leaver.stop()
        assert leaver.error is None, "closing the leaving member failed: %r" % leaver.error

        def two_cover_all():
            check_errors()
            parts = [m.partitions() for m in stayers]
            return (all(parts) and not (parts[0] & parts[1])
                    and parts[0] | parts[1] == {0, 1, 2})

        wait_for(two_cover_all, 60, lambda: "the two remaining members to cover all partitions (have %s)"
                 % [sorted(m.partitions()) for m in stayers])

        produce("after")
        wait_for(lambda: check_errors() or expected <= received(), 30,
                 "the remaining members to read every record")
        got_after_leave = {(r.partition, r.value) for m in stayers for r in m.got()}
        assert {x for x in expected if x[1].startswith(b"after") and x[0] in left_partition} \
            <= got_after_leave, "the left partition's new records did not reach the remaining members"
    finally:
        for m in members:
            if m.is_alive():
                m.stop()
        p.close()

    for m in members:
        assert m.error is None, "%s failed: %r" % (m.name, m.error)
        for r in m.got():
            assert r.topic == topic
            assert r.value.split(b":")[1] == b"p%d" % r.partition, "record %r came from partition %d" % (
                r.value, r.partition)
    missing = expected - received()
    assert not missing, "%d records lost, e.g. %r" % (len(missing), sorted(missing)[:5])


@pytest.mark.parametrize("kill", [False, True], ids=["sigterm", "sigkill"])
@pytest.mark.parametrize("client", CLIENTS)
def test_committed_offset_survives_restart(pier, client, kill):
    topic, group = unique("commit"), unique("gc")
    values = [b"value-%02d" % i for i in range(15)]

    p = producer(client, pier.bootstrap)
    try:
        for v in values[:10]:
            p.send(topic, v)
        assert [d.offset for d in p.flush()] == list(range(10))
    finally:
        p.close()

    c = consumer(client, pier.bootstrap, group=group, topics=[topic])
    try:
        records = consume_until(c, 10, timeout=30, settle=0.5)
        assert [r.value for r in records] == values[:10]
        # Processed 0..5 only: commit "next offset 6", not the position (10).
        c.commit({(topic, 0): 6})
        assert c.committed(topic, 0) == 6
    finally:
        c.close()

    pier.restart(kill=kill)

    p = producer(client, pier.bootstrap)
    try:
        for v in values[10:]:
            p.send(topic, v)
        # The log goes on where it was: no offset reused or skipped.
        assert [d.offset for d in p.flush()] == list(range(10, 15))
    finally:
        p.close()

    c = consumer(client, pier.bootstrap, group=group, topics=[topic])
    try:
        assert c.committed(topic, 0) == 6, "committed offset lost across restart"
        records = consume_until(c, 9, timeout=30, settle=1.0)
    finally:
        c.close()
    assert [r.offset for r in records] == list(range(6, 15)), \
        "new group member did not resume at the committed offset"
    assert [r.value for r in records] == values[6:]
