"""Controls for the soak's checks in tests/nemesis/run.py: a planted leak
(a measure still growing in the last third) must be flagged, a level one
must not; with retention, a record gone from the log counts as not lost
only when a consumer received it."""

import importlib.util
import os

from conftest import REPO_ROOT

spec = importlib.util.spec_from_file_location("nemesis_run", os.path.join(REPO_ROOT, "tests", "nemesis", "run.py"))
nemesis = importlib.util.module_from_spec(spec)
spec.loader.exec_module(nemesis)


def samples(rss):
    return [(10 * i, r, 21, 1000) for i, r in enumerate(rss)]


def test_a_leak_in_the_last_third_is_flagged_a_plateau_is_not():
    level = [100] * 3 + [200] * 9
    _, growing = nemesis.bounded(samples(level))
    assert growing == []
    leak = [100 * (i + 1) for i in range(12)]
    _, growing = nemesis.bounded(samples(leak))
    assert [g.split(":")[0] for g in growing] == ["rss_kib"]


class Producer:
    def __init__(self, acked):
        self.acked = {v: (0, i) for i, v in enumerate(acked)}
        self.sent = list(acked)


def test_with_retention_only_a_received_record_may_be_gone_from_the_log():
    producers = {"idempotent": Producer([]), "plain": Producer(["p-0", "p-1", "p-2"])}
    stored = {(0, 2): "p-2"}  # p-0 and p-1 removed by retention
    classic = [{"received": [0, 0, "p-0"]}]  # p-1 was never received: lost
    f, _ = nemesis.check(producers, classic, [], stored, retention=True)
    assert f["lost_acknowledged"] == ["p-1"]
    f, _ = nemesis.check(producers, classic, [], stored, retention=False)
    assert f["lost_acknowledged"] == ["p-0", "p-1"]
