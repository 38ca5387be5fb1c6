"""Thin, uniform wrappers over kafka-python and confluent-kafka.

The tests are written once against these wrappers and run for both client
libraries. The wrappers only translate names and shapes; every call goes to
the real library, talking the real Kafka protocol to the broker.
"""

import json
import time
import urllib.request
import uuid
from collections import namedtuple

KAFKA_PYTHON = "kafka-python"
CONFLUENT = "confluent-kafka"
CLIENTS = [KAFKA_PYTHON, CONFLUENT]

# One consumed record, the same shape for both libraries.
Record = namedtuple("Record", "topic partition offset key value")
# One acknowledged (delivered) record.
Delivery = namedtuple("Delivery", "topic partition offset")

# Group timings short enough for quick rebalances, within Kafka's usual
# broker bounds (group.min.session.timeout.ms = 6000 by default).
SESSION_TIMEOUT_MS = 10000
HEARTBEAT_INTERVAL_MS = 1000


class DeliveryFailed(AssertionError):
    pass


# ---------------------------------------------------------------------------
# Factories


def producer(client, bootstrap, **kw):
    return {KAFKA_PYTHON: KPProducer, CONFLUENT: CKProducer}[client](bootstrap, **kw)


def consumer(client, bootstrap, **kw):
    return {KAFKA_PYTHON: KPConsumer, CONFLUENT: CKConsumer}[client](bootstrap, **kw)


def admin(client, bootstrap):
    return {KAFKA_PYTHON: KPAdmin, CONFLUENT: CKAdmin}[client](bootstrap)


def unique(prefix):
    """A topic or group name no other test uses."""
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


# ---------------------------------------------------------------------------
# kafka-python


class KPProducer:
    def __init__(self, bootstrap, acks="all", compression=None, idempotent=False,
                 linger_ms=5, extra=None):
        from kafka import KafkaProducer

        cfg = dict(
            bootstrap_servers=bootstrap,
            client_id="pier-test-kafka-python",
            acks={"all": "all", -1: "all", 1: 1, 0: 0}[acks],
            linger_ms=linger_ms,
            request_timeout_ms=15000,
            max_block_ms=30000,
        )
        if compression:
            cfg["compression_type"] = compression
        if idempotent:
            cfg["enable_idempotence"] = True
        cfg.update(extra or {})
        self.p = KafkaProducer(**cfg)
        self.futures = []

    def send(self, topic, value, key=None, partition=None):
        self.futures.append(self.p.send(topic, value=value, key=key, partition=partition))

    def flush(self, timeout=30):
        """Waits for every record sent so far; raises if any was not acknowledged.
        Returns their Deliveries in send order."""
        self.p.flush(timeout=timeout)
        futures, self.futures = self.futures, []
        out = []
        for f in futures:
            if not f.is_done:
                raise DeliveryFailed("record still pending after flush(%s)" % timeout)
            if f.failed():
                raise DeliveryFailed("delivery failed: %r" % (f.exception,))
            md = f.value
            out.append(Delivery(md.topic, md.partition, md.offset))
        return out

    def close(self):
        self.p.close(timeout=10)


class KPConsumer:
    def __init__(self, bootstrap, group=None, topics=None, assign=None, extra=None):
        from kafka import KafkaConsumer, TopicPartition

        cfg = dict(
            bootstrap_servers=bootstrap,
            client_id="pier-test-kafka-python",
            group_id=group,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            session_timeout_ms=SESSION_TIMEOUT_MS,
            heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
            request_timeout_ms=30000,
            fetch_max_wait_ms=200,
        )
        cfg.update(extra or {})
        self.c = KafkaConsumer(**cfg)
        if topics:
            self.c.subscribe(topics=list(topics))
        if assign:
            self.c.assign([TopicPartition(t, p) for t, p in assign])

    def poll(self, timeout=0.5):
        batches = self.c.poll(timeout_ms=int(timeout * 1000), max_records=1000)
        out = []
        for tp in sorted(batches, key=lambda tp: (tp.topic, tp.partition)):
            for r in batches[tp]:
                out.append(Record(r.topic, r.partition, r.offset, r.key, r.value))
        return out

    def commit(self, offsets=None):
        """Synchronous commit: of the consumed position, or of
        {(topic, partition): next_offset}."""
        from kafka import TopicPartition
        from kafka.structs import OffsetAndMetadata

        if offsets is None:
            self.c.commit()
        else:
            self.c.commit({TopicPartition(t, p): OffsetAndMetadata(o, "", -1)
                           for (t, p), o in offsets.items()})

    def committed(self, topic, partition):
        from kafka import TopicPartition

        return self.c.committed(TopicPartition(topic, partition))

    def watermarks(self, topic, partition):
        from kafka import TopicPartition

        tp = TopicPartition(topic, partition)
        return self.c.beginning_offsets([tp])[tp], self.c.end_offsets([tp])[tp]

    def assignment(self):
        return {(tp.topic, tp.partition) for tp in self.c.assignment()}

    def close(self):
        self.c.close(autocommit=False)


class KPAdmin:
    def __init__(self, bootstrap):
        from kafka import KafkaAdminClient

        self.a = KafkaAdminClient(bootstrap_servers=bootstrap,
                                  client_id="pier-test-kafka-python-admin",
                                  request_timeout_ms=15000)

    def create_topic(self, name, partitions):
        from kafka.admin import NewTopic

        self.a.create_topics([NewTopic(name, partitions, 1)], timeout_ms=10000)

    def create_partitions(self, name, total):
        from kafka.admin import NewPartitions

        self.a.create_partitions({name: NewPartitions(total)}, timeout_ms=10000)

    def delete_topic(self, name):
        self.a.delete_topics([name], timeout_ms=10000)

    def _all_topics(self):
        # KafkaAdminClient asks Metadata v8 for authorized operations and
        # decodes the bit fields it gets; a broker that leaves them at the
        # "not provided" INT32_MIN makes it fail with "31 is not a valid
        # ACLOperation". Say so plainly.
        try:
            return self.a.describe_topics()
        except ValueError as e:
            if "ACLOperation" in str(e):
                raise AssertionError(
                    "kafka-python could not decode the Metadata response's authorized_operations "
                    "(%s): when include_cluster/topic_authorized_operations is set, the broker must "
                    "return a real ACL-operation bit field, not INT32_MIN" % e) from e
            raise

    def list_topics(self):
        return {t["topic"] for t in self._all_topics()}

    def partition_count(self, name):
        """Partitions of `name` in a full (all topics) metadata request, or
        None if the topic is not listed."""
        for t in self._all_topics():
            if t["topic"] == name:
                assert t["error_code"] == 0, t
                return len(t["partitions"])
        return None

    def create_existing_topic_fails(self, name, partitions):
        """Creates `name` again: True if the broker refused with
        TOPIC_ALREADY_EXISTS, False if it accepted; other errors raise."""
        from kafka.errors import TopicAlreadyExistsError

        try:
            self.create_topic(name, partitions)
        except TopicAlreadyExistsError:
            return True
        return False

    def close(self):
        self.a.close()


# ---------------------------------------------------------------------------
# confluent-kafka (librdkafka)


class CKProducer:
    def __init__(self, bootstrap, acks="all", compression=None, idempotent=False,
                 linger_ms=5, extra=None):
        from confluent_kafka import Producer

        cfg = {
            "bootstrap.servers": bootstrap,
            "client.id": "pier-test-confluent",
            "acks": {"all": "all", -1: "all", 1: "1", 0: "0"}[acks],
            "linger.ms": linger_ms,
            "message.timeout.ms": 30000,
            "request.timeout.ms": 15000,
            "enable.idempotence": bool(idempotent),
        }
        if compression:
            cfg["compression.type"] = compression
        cfg.update(extra or {})
        self.p = Producer(cfg)
        self.results = []

    def _on_delivery(self, err, msg):
        self.results.append((err, msg.topic(), msg.partition(), msg.offset()))

    def send(self, topic, value, key=None, partition=None):
        kw = dict(value=value, key=key, on_delivery=self._on_delivery)
        if partition is not None:
            kw["partition"] = partition
        while True:
            try:
                self.p.produce(topic, **kw)
                break
            except BufferError:  # local queue full: let deliveries drain
                self.p.poll(0.1)
        self.p.poll(0)

    def flush(self, timeout=30):
        remaining = self.p.flush(timeout)
        if remaining:
            raise DeliveryFailed("%d records still pending after flush(%s)" % (remaining, timeout))
        results, self.results = self.results, []
        errors = [r for r in results if r[0] is not None]
        if errors:
            raise DeliveryFailed("%d deliveries failed, first: %r" % (len(errors), errors[0][0]))
        return [Delivery(t, p, o) for _, t, p, o in results]

    def close(self):
        self.p.flush(10)


class CKConsumer:
    # Transient while a topic does not exist yet or a partition is moving.
    _IGNORABLE = None

    def __init__(self, bootstrap, group=None, topics=None, assign=None, extra=None):
        from confluent_kafka import Consumer, KafkaError, TopicPartition, OFFSET_BEGINNING

        if CKConsumer._IGNORABLE is None:
            CKConsumer._IGNORABLE = {
                KafkaError._PARTITION_EOF,
                KafkaError.UNKNOWN_TOPIC_OR_PART,
                KafkaError._UNKNOWN_TOPIC,
                KafkaError._UNKNOWN_PARTITION,
                KafkaError.LEADER_NOT_AVAILABLE,
                KafkaError.NOT_LEADER_FOR_PARTITION,
            }
        cfg = {
            "bootstrap.servers": bootstrap,
            "client.id": "pier-test-confluent",
            # librdkafka insists on a group.id even for assign()-only use; with
            # assign() it never joins the group (no JoinGroup/SyncGroup).
            "group.id": group or unique("pier-test-unused-group"),
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
            "session.timeout.ms": SESSION_TIMEOUT_MS,
            "heartbeat.interval.ms": HEARTBEAT_INTERVAL_MS,
            "fetch.wait.max.ms": 200,
        }
        cfg.update(extra or {})
        self.c = Consumer(cfg)
        if topics:
            self.c.subscribe(list(topics))
        if assign:
            self.c.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in assign])

    def poll(self, timeout=0.5):
        from confluent_kafka import KafkaException

        out = []
        for m in self.c.consume(num_messages=1000, timeout=timeout):
            err = m.error()
            if err is not None:
                if err.fatal() or err.code() not in CKConsumer._IGNORABLE:
                    raise KafkaException(err)
                continue
            out.append(Record(m.topic(), m.partition(), m.offset(), m.key(), m.value()))
        return out

    def commit(self, offsets=None):
        from confluent_kafka import TopicPartition

        if offsets is None:
            res = self.c.commit(asynchronous=False)
        else:
            res = self.c.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()],
                                asynchronous=False)
        for tp in res or []:
            if tp.error is not None:
                raise AssertionError("commit failed for %s[%d]: %s" % (tp.topic, tp.partition, tp.error))

    def committed(self, topic, partition):
        from confluent_kafka import TopicPartition

        tp = self.c.committed([TopicPartition(topic, partition)], timeout=15)[0]
        if tp.error is not None:
            raise AssertionError("committed() failed: %s" % tp.error)
        return tp.offset if tp.offset >= 0 else None

    def watermarks(self, topic, partition):
        from confluent_kafka import TopicPartition

        return self.c.get_watermark_offsets(TopicPartition(topic, partition), timeout=15, cached=False)

    def assignment(self):
        return {(tp.topic, tp.partition) for tp in self.c.assignment()}

    def close(self):
        self.c.close()


class CKAdmin:
    def __init__(self, bootstrap):
        from confluent_kafka.admin import AdminClient

        self.a = AdminClient({"bootstrap.servers": bootstrap,
                              "client.id": "pier-test-confluent-admin"})

    @staticmethod
    def _wait(futures):
        for f in futures.values():
            f.result(timeout=30)

    def create_topic(self, name, partitions):
        from confluent_kafka.admin import NewTopic

        self._wait(self.a.create_topics([NewTopic(name, num_partitions=partitions,
                                                  replication_factor=1)],
                                        operation_timeout=10, request_timeout=15))

    def create_partitions(self, name, total):
        from confluent_kafka.admin import NewPartitions

        self._wait(self.a.create_partitions([NewPartitions(name, total)],
                                            operation_timeout=10, request_timeout=15))

    def delete_topic(self, name):
        self._wait(self.a.delete_topics([name], operation_timeout=10, request_timeout=15))

    def list_topics(self):
        return set(self.a.list_topics(timeout=15).topics)

    def partition_count(self, name):
        t = self.a.list_topics(timeout=15).topics.get(name)
        if t is None:
            return None
        assert t.error is None, t.error
        return len(t.partitions)

    def create_existing_topic_fails(self, name, partitions):
        """Creates `name` again: True if the broker refused with
        TOPIC_ALREADY_EXISTS, False if it accepted; other errors raise."""
        from confluent_kafka import KafkaError, KafkaException

        try:
            self.create_topic(name, partitions)
        except KafkaException as e:
            if e.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                return True
            raise
        return False

    def close(self):
        pass


# ---------------------------------------------------------------------------
# Helpers shared by the tests


def consume_until(c, count, timeout=30.0, settle=0.0):
    """Polls `c` until at least `count` records arrived or `timeout` passed;
    then keeps polling for `settle` seconds to catch any surplus (duplicates).
    Returns all records received."""
    records = []
    deadline = time.monotonic() + timeout
    while len(records) < count and time.monotonic() < deadline:
        records.extend(c.poll(0.5))
    if settle:
        end = time.monotonic() + settle
        while time.monotonic() < end:
            records.extend(c.poll(0.25))
    return records


def wait_for(predicate, timeout, what, interval=0.2):
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %ss waiting for %s"
                                 % (timeout, what() if callable(what) else what))
        time.sleep(interval)


# ---------------------------------------------------------------------------
# Pier's HTTP API

def http(pier, method, path, body=None):
    """A JSON request to the server's HTTP API; returns the decoded answer."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request("http://%s%s" % (pier.http, path), data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        raw = r.read()
        return json.loads(raw) if raw and r.headers.get_content_type().endswith("json") else raw.decode()
