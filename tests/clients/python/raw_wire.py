"""Raw Kafka requests through kafka-python's protocol classes, for the
differential tests that must see the exact error code of one request (a
client library would retry or hide it)."""

import time

from kafka.client_async import KafkaClient


class Wire:
    def __init__(self, bootstrap):
        self.client = KafkaClient(bootstrap_servers=bootstrap, api_version_auto_timeout_ms=10000)
        self.node = None
        deadline = time.monotonic() + 15
        while self.node is None:
            assert time.monotonic() < deadline, "no broker connection"
            self.client.poll(timeout_ms=100)
            n = self.client.least_loaded_node()
            if n is not None and self.client.ready(n):
                self.node = n

    def call(self, request):
        f = self.client.send(self.node, request)
        deadline = time.monotonic() + 30
        while not f.is_done:
            assert time.monotonic() < deadline, "no answer to %r" % (request,)
            self.client.poll(future=f, timeout_ms=500)
        if f.failed():
            raise f.exception
        return f.value

    def coordinator(self, group):
        """FindCoordinator until the group's coordinator is ready (Kafka
        creates `__consumer_offsets` on the first one)."""
        from kafka.protocol.find_coordinator import FindCoordinatorRequest
        deadline = time.monotonic() + 30
        while True:
            r = self.call(FindCoordinatorRequest[1](coordinator_key=group, coordinator_type=0))
            if r.error_code == 0:
                break
            assert time.monotonic() < deadline, "no coordinator: error %d" % r.error_code
            time.sleep(0.2)
        # Talk to the coordinator itself, once it has loaded the group's
        # offsets partition (NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS
        # until then).
        self.client.cluster.request_update()
        node = r.coordinator_id
        while not self.client.ready(node):
            assert time.monotonic() < deadline, "cannot reach the coordinator"
            self.client.poll(timeout_ms=100)
        self.node = node
        from kafka.protocol.group import HeartbeatRequest
        while True:
            code = self.call(HeartbeatRequest[2](
                group=group, generation_id=-1, member_id="probe")).error_code
            if code not in (14, 15, 16):
                return
            assert time.monotonic() < deadline, "coordinator not ready: error %d" % code
            time.sleep(0.2)

    def close(self):
        self.client.close()
