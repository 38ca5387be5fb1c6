"""The HTTP API watched while a real Kafka client works: a kafka-python
consumer group appears with its member, assignment and lag, the lag falls
to zero as it commits, and /metrics (parsed by prometheus_client's parser)
and /api/v1/stats agree."""

import time

from kafka import KafkaConsumer
from prometheus_client.parser import text_string_to_metric_families

from adapters import http, unique, wait_for


def metrics(pier):
    out = {}
    for family in text_string_to_metric_families(http(pier, "GET", "/metrics")):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_a_kafka_consumer_group_and_its_lag_show_over_http(pier):
    topic, group = unique("lagged"), unique("py-readers")
    http(pier, "POST", "/api/v1/topics", {"name": topic, "partitions": 3})
    produced = http(pier, "POST", "/api/v1/topics/%s/messages" % topic,
                    {"key": "k{{seq}}", "value": "v{{seq}}", "count": 1000})
    assert produced["count"] == 1000

    consumer = KafkaConsumer(topic, bootstrap_servers=pier.bootstrap, group_id=group,
                             client_id="lag-watcher", enable_auto_commit=False,
                             auto_offset_reset="earliest", max_poll_records=100,
                             session_timeout_ms=10000, heartbeat_interval_ms=500)
    try:
        seen = []
        # Consume slowly, committing as we go, so several stats samples see progress.
        while len(seen) < 300:
            for records in consumer.poll(timeout_ms=500).values():
                seen.extend(records)
            consumer.commit()
            time.sleep(0.3)
        g = http(pier, "GET", "/api/v1/groups/%s" % group)
        assert g["state"] == "Stable", g
        assert [m["client_id"] for m in g["members"]] == ["lag-watcher"]
        assigned = sorted(p for a in g["members"][0]["assignment"] if a["topic"] == topic
                          for p in a["partitions"])
        assert assigned == [0, 1, 2], g
        assert 0 < g["total_lag"] <= 1000 - 300, g  # committed at least what was read
        m = metrics(pier)
        assert m[("pier_group_members", (("group", group),))] == 1
        lag_metric = sum(v for (name, labels), v in m.items()
                         if name == "pier_group_lag" and ("group", group) in labels)
        assert lag_metric == g["total_lag"]

        while len(seen) < 1000:
            for records in consumer.poll(timeout_ms=500).values():
                seen.extend(records)
            consumer.commit()
            time.sleep(0.2)
        assert len(seen) == 1000
        wait_for(lambda: http(pier, "GET", "/api/v1/groups/%s" % group)["total_lag"] == 0,
                 timeout=10, what="lag to fall to 0")
        m = metrics(pier)
        hw = sum(v for (name, labels), v in m.items()
                 if name == "pier_partition_high_watermark" and ("topic", topic) in labels)
        assert hw == 1000
        time.sleep(1.2)  # one more stats sample
        samples = http(pier, "GET", "/api/v1/stats?last=60")
        rates = [g["consumed_per_sec"] for s in samples for g in s["groups"] if g["group"] == group]
        assert max(rates) > 0, samples[-3:]
        assert samples[-1]["total_lag"] == 0
    finally:
        consumer.close()
    wait_for(lambda: http(pier, "GET", "/api/v1/groups/%s" % group)["members"] == [],
             timeout=10, what="the member to leave")
