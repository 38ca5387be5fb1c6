"""A nemesis run: real clients against `pier serve` while a seeded nemesis
drives Pier's fault API, then a checker that never asks the broker what
is true judges every record from the clients' own histories.

Clients: an idempotent confluent-kafka producer and a plain one
(acks=all, retries), a classic consumer group member that commits after
processing, and a share consumer that accepts explicitly; both consumers
are processes the nemesis SIGKILLs and restarts. The nemesis: broker
crashes, power cuts (fsync on, page-cache model), connection resets,
latency, blackholes, lost produce acknowledgements, killed consumers.

The checker classifies: lost acknowledged write; duplicate from the
idempotent producer; reordered within that producer and a partition;
committed past without being received (the group); share record accepted
twice, or never accepted. Sets of record values, never counts.

Usage: run.py --seconds 30 --seed 7 [--planted-bug skip-log-sync] [--json]
Exit 0 when the checker finds nothing; 1 with the findings. With
--expect-findings (a control) the exit status is inverted.
"""

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
TOPIC, GROUP, SHARE_GROUP = "nemesis", "nemesis-classic", "nemesis-share"
READY = re.compile(r"^pier ready kafka=(\S+) http=(\S+) data=")


class Pier:
    def __init__(self, work, planted):
        args = [os.environ.get("PIER_BIN", str(REPO / "target/debug/pier")), "serve",
                "--data-dir", str(work / "data"), "--kafka", "127.0.0.1:0", "--http", "127.0.0.1:0",
                "--page-cache-model"]
        if planted:
            args += ["--planted-bug", planted]
        self.log = open(work / "pier.log", "w")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, text=True)
        m = READY.match(self.proc.stdout.readline().strip())
        if not m:
            raise SystemExit("pier did not start: see %s" % (work / "pier.log"))
        self.bootstrap, self.http = m.group(1), m.group(2)
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def api(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request("http://%s%s" % (self.http, path), data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                raw = r.read()
                return json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            raise RuntimeError("%s %s: %s %s" % (method, path, e.code, e.read().decode())) from None

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)


class ProducerThread(threading.Thread):
    """Sends `<name>-<i>` to partition i % 2; remembers what was acknowledged
    (value -> (partition, offset)) and every value it ever sent."""

    def __init__(self, pier, name, idempotent, stop):
        super().__init__(daemon=True)
        from confluent_kafka import Producer
        self.name_, self.stop = name, stop
        self.sent, self.acked, self.errors = [], {}, 0
        self.p = Producer({"bootstrap.servers": pier.bootstrap, "client.id": "nemesis-" + name,
                           "enable.idempotence": idempotent, "acks": "all", "linger.ms": 5,
                           "message.timeout.ms": 60000, "retry.backoff.ms": 50,
                           "reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 500})

    def report(self, err, msg):
        if err is None:
            self.acked[msg.value().decode()] = (msg.partition(), msg.offset())
        else:
            self.errors += 1

    def run(self):
        i = 0
        while not self.stop.is_set():
            value = "%s-%d" % (self.name_, i)
            try:
                self.p.produce(TOPIC, value=value.encode(), partition=i % 2, on_delivery=self.report)
            except BufferError:
                self.p.poll(0.1)
                continue
            self.sent.append(value)
            i += 1
            self.p.poll(0)
            time.sleep(0.004)
        self.p.flush(90)


class ConsumerProcess:
    """A consumer the nemesis may kill; its history file outlives it."""

    def __init__(self, pier, kind, group, work, stopfile):
        self.args = [sys.executable, str(HERE / "clients.py"), kind, pier.bootstrap, TOPIC, group,
                     str(work / ("%s.jsonl" % kind)), str(stopfile)]
        self.history = work / ("%s.jsonl" % kind)
        self.proc, self.kills, self.killed = None, 0, set()
        self.start()

    def start(self):
        self.proc = subprocess.Popen(self.args, stderr=subprocess.DEVNULL)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.kills += 1
        self.killed.add(self.proc.pid)
        self.start()

    def events(self):
        return [json.loads(line) for line in self.history.read_text().splitlines() if line.strip()]


FAULTS = [
    ("broker_crash", {}, 0),
    ("power_loss", {}, 0),
    ("connection_reset", {"every": 5}, 2.0),
    ("latency", {"latency_ms": 200}, 2.0),
    ("blackhole", {}, 1.0),
    ("lose_produce_ack", {"every": 4}, 2.0),
    ("kill_classic", None, 0),
    ("kill_share", None, 0),
]


def nemesis(pier, rng, consumers, stop, log, schedule=None):
    """Every 1.5-3 s one fault, healed after its time; `schedule` forces a
    list of fault names first (the controls use it)."""
    forced = list(schedule or [])
    while not stop.wait(rng.uniform(1.5, 3.0)):
        name = forced.pop(0) if forced else rng.choice(FAULTS)[0]
        kind, params, hold = next(f for f in FAULTS if f[0] == name)
        log.append((time.time(), name))
        if kind.startswith("kill_"):
            consumers[kind[5:]].kill()
            continue
        try:
            started = pier.api("POST", "/api/v1/faults", {"kind": kind, "params": params})
        except Exception as e:  # a restart may refuse for a moment
            log.append((time.time(), "%s refused: %s" % (kind, e)))
            continue
        if hold:
            time.sleep(hold)
            try:
                pier.api("DELETE", "/api/v1/faults/%d" % started["fault"]["id"])
            except Exception:
                pass


def read_everything(pier):
    """Every stored record, by (partition, offset): a fresh consumer reads
    both partitions from the start to their end."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": pier.bootstrap, "group.id": "nemesis-reader",
                  "enable.auto.commit": False})
    stored = {}
    for p in (0, 1):
        _, high = c.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=30)
        c.assign([TopicPartition(TOPIC, p, 0)])
        deadline, have = time.time() + 600, 0
        while time.time() < deadline and have < high:
            for m in c.consume(500, 1.0):
                if m.error() is None:
                    stored[(m.partition(), m.offset())] = m.value().decode()
                    have = m.offset() + 1
    c.close()
    return stored


def check(producers, classic, share, stored, share_killed=()):
    """Findings, each a sorted list of record values or offsets."""
    values = {}
    for key, v in stored.items():
        values.setdefault(v, []).append(key)
    f = {}
    f["lost_acknowledged"] = sorted(v for p in producers.values() for v in p.acked if v not in values)
    idem = producers["idempotent"]
    f["duplicated_idempotent"] = sorted(v for v in idem.sent if len(values.get(v, [])) > 1)
    order = []
    for part in (0, 1):
        mine = [(int(v.rsplit("-", 1)[1]), values[v][0][1]) for v in idem.sent
                if v in values and values[v][0][0] == part]
        mine.sort()
        order += ["%s@%d" % (idx, off) for (idx, off), (_, prev) in zip(mine[1:], mine) if off < prev]
    f["reordered_idempotent"] = order
    sent = {v for p in producers.values() for v in p.sent}
    f["never_written"] = sorted(v for v in values if v not in sent)
    # By value: after a loss, new records take old offsets.
    received = {e["received"][2] for e in classic if "received" in e}
    committed = {}
    for e in classic:
        if "committed" in e:
            committed[e["committed"][0]] = e["committed"][1]
    f["committed_unreceived"] = sorted("%d@%d %s" % (k[0], k[1], v) for k, v in stored.items()
                                       if k[1] < committed.get(k[0], 0) and v not in received)
    accepts = {}
    for e in share:
        for p, o in e.get("accepted", []):
            accepts[(p, o)] = accepts.get((p, o), 0) + 1
    f["share_accepted_twice"] = sorted("%d@%d" % k for k, n in accepts.items() if n > 1)
    # Indeterminate, as Jepsen says: received last by a consumer that was
    # killed before it logged an outcome, or whose ACCEPT got no answer (a
    # crash or reset during commit_sync): the broker may have taken it, and
    # then rightly never delivers it again. Not a finding; anything else
    # never accepted is.
    last_receiver, unknown = {}, set()
    for e in share:
        if "received" in e:
            key = (e["received"][0], e["received"][1])
            last_receiver[key] = e.get("pid")
            unknown.discard(key)
        for p, o in e.get("accept_unknown", []):
            unknown.add((p, o))
    unaccepted = [k for k in stored if k not in accepts]
    open_ended = {k for k in unaccepted if last_receiver.get(k) in share_killed or k in unknown}
    f["share_never_accepted"] = sorted("%d@%d" % k for k in unaccepted if k not in open_ended)
    indeterminate = sorted("%d@%d" % k for k in open_ended)
    return f, indeterminate


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--planted-bug")
    ap.add_argument("--schedule", default="", help="faults to start with, comma-separated")
    ap.add_argument("--expect-findings", action="store_true", help="a control: findings are the success")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    work = Path(tempfile.mkdtemp(prefix="pier-nemesis-"))
    print("work directory: %s" % work, file=sys.stderr)
    pier = Pier(work, a.planted_bug)
    try:
        result = run(a, rng, pier, work)
    finally:
        pier.stop()
    findings = result["findings"]
    bad = {k: v for k, v in findings.items() if v}
    if a.json:
        print(json.dumps(result))
    else:
        print("nemesis seed %d, %.0f s, %d faults: %s" % (a.seed, a.seconds, len(result["faults"]),
                                                          ", ".join(sorted({n for _, n in result["faults"]}))))
        print("  records: %(sent)d sent, %(acked)d acknowledged, %(stored)d stored; classic received "
              "%(classic_received)d (%(classic_kills)d kills), share accepted %(share_accepted)d "
              "(%(share_kills)d kills)" % result["counts"])
        for k, v in findings.items():
            print("  %-24s %d %s" % (k, len(v), v[:10] if v else ""))
        print("  share indeterminate (a killed holder, or an ACCEPT without an answer): %s"
              % result["share_indeterminate"])
        print("  ledger: %s" % result["ledger"])
        print("replay: tests/nemesis/run --seed %d --seconds %g%s" % (
            a.seed, a.seconds, " --planted-bug " + a.planted_bug if a.planted_bug else ""))
    failed = bool(bad) != a.expect_findings
    sys.exit(1 if failed else 0)


def run(a, rng, pier, work):
    pier.api("POST", "/api/v1/topics", {"name": TOPIC, "partitions": 2})
    pier.api("PUT", "/api/v1/queues/" + SHARE_GROUP, {"topic": TOPIC, "lease_ms": 3000,
                                                      "backoff_base_ms": 10, "backoff_max_ms": 100,
                                                      "max_deliveries": 100})
    stopfile = work / "stop"
    consumers = {k: ConsumerProcess(pier, k, g, work, stopfile)
                 for k, g in (("classic", GROUP), ("share", SHARE_GROUP))}
    stop = threading.Event()
    producers = {n: ProducerThread(pier, n, idem, stop) for n, idem in (("idempotent", True), ("plain", False))}
    for p in producers.values():
        p.start()
    faults = []
    chaos = threading.Thread(target=nemesis, args=(pier, rng, consumers, stop, faults,
                                                   [s for s in a.schedule.split(",") if s]), daemon=True)
    chaos.start()
    time.sleep(a.seconds)
    stop.set()
    chaos.join(30)
    for f in pier.api("GET", "/api/v1/faults"):
        pier.api("DELETE", "/api/v1/faults/%d" % f["id"])
    for p in producers.values():
        p.join(120)
    stopfile.touch()
    for c in consumers.values():
        try:
            c.proc.wait(120)
        except subprocess.TimeoutExpired:
            c.proc.kill()
    stored = read_everything(pier)
    classic, share = consumers["classic"].events(), consumers["share"].events()
    findings, indeterminate = check(producers, classic, share, stored, consumers["share"].killed)
    verdict = pier.api("GET", "/api/v1/ledger/verdict?topic=%s&group=%s&limit=10000" % (TOPIC, GROUP))
    (work / "verdict.json").write_text(json.dumps(verdict, indent=1))
    ledger = {x["kind"]: x["records"] for x in verdict["findings"] if x["records"]}
    # Two judges, one independent of the broker: they must agree on what
    # was lost (as (partition, offset) of the acknowledgement).
    acked_at = {v: at for p in producers.values() for v, at in p.acked.items()}
    mine = sorted(tuple(acked_at[v]) for v in findings["lost_acknowledged"])
    theirs = sorted((s["partition"], o) for x in verdict["findings"] if x["kind"] == "lost_after_ack"
                    for s in x["spans"] for o in range(s["first_offset"], s["last_offset"] + 1))
    findings["ledger_disagrees_on_lost"] = [] if mine == theirs else [
        "checker %d: %s; ledger %d: %s" % (len(mine), mine[:5], len(theirs), theirs[:5])]
    return {
        "seed": a.seed, "faults": faults, "findings": findings, "ledger": ledger,
        "share_indeterminate": indeterminate,
        "counts": {
            "sent": sum(len(p.sent) for p in producers.values()),
            "acked": sum(len(p.acked) for p in producers.values()),
            "stored": len(stored),
            "classic_received": sum(1 for e in classic if "received" in e),
            "classic_kills": consumers["classic"].kills,
            "share_accepted": sum(len(e.get("accepted", [])) for e in share),
            "share_kills": consumers["share"].kills,
        },
    }


if __name__ == "__main__":
    main()
