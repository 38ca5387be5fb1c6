"""The nemesis run's consumers, each a process the nemesis may SIGKILL.
Each appends its own history, one JSON object per line, flushed:

  classic  {"received": [p, offset, value]}   {"committed": [p, offset]}
  share    {"received": [p, offset, value, delivery]}  {"accepted": [[p, offset], ...]}
           {"accept_unknown": [[p, offset], ...], "why": ...} (sent, outcome not known)

Usage: clients.py classic|share BOOTSTRAP TOPIC GROUP HISTORY STOPFILE
They run until STOPFILE exists and nothing new came for IDLE_S seconds."""

import json
import os
import sys
import time


def log(f, **event):
    event["pid"] = os.getpid()
    f.write(json.dumps(event) + "\n")
    f.flush()


# Longer than a share lease (3 s) plus its backoff: a killed consumer's
# records come back before the survivor gives up.
IDLE_S = 8


def idle_and_stopped(stopfile, last_s):
    return os.path.exists(stopfile) and time.time() - last_s > IDLE_S


def classic(bootstrap, topic, group, f, stopfile):
    """Commits after processing: each record is received, "processed"
    (logged), then its offset committed every 10 records."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "client.id": "nemesis-classic",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "session.timeout.ms": 6000, "reconnect.backoff.ms": 50})
    c.subscribe([topic])
    last, todo = time.time(), {}
    while not idle_and_stopped(stopfile, last):
        for m in c.consume(50, 0.5):
            if m.error() is not None:
                continue
            last = time.time()
            log(f, received=[m.partition(), m.offset(), m.value().decode()])
            todo[m.partition()] = m.offset() + 1
            if m.offset() % 10 == 0:
                commit(c, topic, todo, f)
        if todo and os.path.exists(stopfile):
            commit(c, topic, todo, f)
    commit(c, topic, todo, f)
    c.close()


def commit(c, topic, todo, f):
    from confluent_kafka import TopicPartition, KafkaException
    if not todo:
        return
    try:
        done = c.commit(offsets=[TopicPartition(topic, p, o) for p, o in todo.items()], asynchronous=False)
    except KafkaException:
        return  # not acknowledged: not logged
    for tp in done or []:
        if tp.error is None:
            log(f, committed=[tp.partition, tp.offset])
    todo.clear()


def share(bootstrap, topic, group, f, stopfile):
    """Accepts every record it gets, explicitly; logs an acceptance only
    once commit_sync said it was taken."""
    from confluent_kafka import AcknowledgeType, ShareConsumer, KafkaException
    c = ShareConsumer({"bootstrap.servers": bootstrap, "group.id": group, "client.id": "nemesis-share",
                       "share.acknowledgement.mode": "explicit"})
    c.subscribe([topic])
    last = time.time()
    while not idle_and_stopped(stopfile, last):
        batch = [m for m in list(c.poll(0.5) or []) if m.error() is None]
        if not batch:
            continue
        last = time.time()
        for m in batch:
            log(f, received=[m.partition(), m.offset(), m.value().decode(), m.delivery_count()])
            c.acknowledge(m, AcknowledgeType.ACCEPT)
        try:
            results = c.commit_sync()
        except KafkaException as e:
            # No answer (a crash, a reset): the broker may have taken them.
            log(f, accept_unknown=[[m.partition(), m.offset()] for m in batch], why=str(e))
            continue
        # Per partition: None when the broker took the acknowledgements.
        results = results or {}
        taken = {tp.partition for tp, err in results.items() if err is None}
        ok = [[m.partition(), m.offset()] for m in batch if m.partition() in taken]
        if ok:
            log(f, accepted=ok)
        failed = {tp.partition: str(err) for tp, err in results.items() if err is not None}
        unknown = [[m.partition(), m.offset()] for m in batch
                   if m.partition() in failed or m.partition() not in results]
        if unknown:
            log(f, accept_unknown=unknown, why="; ".join(sorted(set(failed.values()))) or "no result")
    c.close()


if __name__ == "__main__":
    kind, bootstrap, topic, group, history, stopfile = sys.argv[1:7]
    with open(history, "a") as f:
        {"classic": classic, "share": share}[kind](bootstrap, topic, group, f, stopfile)
