"""Crash safety: acknowledged records survive kill -9 of the broker."""

import pytest

from adapters import CLIENTS, consume_until, consumer, producer, unique


@pytest.mark.parametrize("client", CLIENTS)
def test_acked_records_survive_kill_9(pier, client):
    topic = unique("crash")
    values = [b"durable-%05d" % i for i in range(1500)]
    p = producer(client, pier.bootstrap, acks="all", linger_ms=5)
    acked = []
    try:
        for start in range(0, len(values), 300):
            for v in values[start:start + 300]:
                p.send(topic, v)
            acked += p.flush()
    finally:
        p.close()
    assert sorted(d.offset for d in acked) == list(range(len(values)))

    pier.restart(kill=True)

    c = consumer(client, pier.bootstrap, assign=[(topic, 0)])
    try:
        records = consume_until(c, len(values), timeout=30, settle=1.0)
        assert len(records) == len(values), "%d of %d acknowledged records survived kill -9" % (
            len(records), len(values))
        assert [r.value for r in records] == values
        assert [r.offset for r in records] == list(range(len(values)))

        # The log goes on after the crash without reusing an offset.
        p = producer(client, pier.bootstrap, acks="all")
        try:
            p.send(topic, b"after the crash")
            assert [d.offset for d in p.flush()] == [len(values)]
        finally:
            p.close()
        more = consume_until(c, 1, timeout=15)
        assert [(r.offset, r.value) for r in more] == [(len(values), b"after the crash")]
    finally:
        c.close()


@pytest.mark.parametrize("client", CLIENTS)
def test_acked_records_survive_graceful_restart(pier, client):
    topic = unique("restart")
    values = [b"kept-%04d" % i for i in range(500)]
    p = producer(client, pier.bootstrap, acks=1)
    try:
        for v in values:
            p.send(topic, v)
        assert sorted(d.offset for d in p.flush()) == list(range(len(values)))
    finally:
        p.close()

    pier.restart(kill=False)

    c = consumer(client, pier.bootstrap, assign=[(topic, 0)])
    try:
        records = consume_until(c, len(values), timeout=30, settle=1.0)
        assert c.watermarks(topic, 0) == (0, len(values))
    finally:
        c.close()
    assert [r.value for r in records] == values
