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

Soak (--soak): the topic keeps records for --retention-ms (2 minutes), a
fault comes every --fault-every seconds (60), and every 10 s the broker's
resident memory, open file descriptors and data-directory size go to
soak.csv in the work directory; at the end each must have stopped growing
(the last third's peak within 25% of the middle third's), and --plot FILE
draws them as an SVG. With retention, a record no longer in the log counts
as not lost when a consumer received it.

Usage: run.py --seconds 30 --seed 7 [--planted-bug skip-log-sync] [--json]
       run.py --soak --seconds 3600 --seed 2028 --plot docs/screenshots/soak.svg
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


def nemesis(pier, rng, consumers, stop, log, schedule=None, every=None):
    """Every 1.5-3 s (or `every` s) one fault, healed after its time;
    `schedule` forces a list of fault names first (the controls use it)."""
    forced = list(schedule or [])
    while not stop.wait(every or rng.uniform(1.5, 3.0)):
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
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    stored = {}
    for p in (0, 1):
        low, high = c.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=30)
        c.assign([TopicPartition(TOPIC, p, low)])
        deadline, have = time.time() + 600, low
        while time.time() < deadline and have < high:
            for m in c.consume(500, 1.0):
                if m.error() is None:
                    stored[(m.partition(), m.offset())] = m.value().decode()
                    have = m.offset() + 1
    c.close()
    return stored


def check(producers, classic, share, stored, share_killed=(), retention=False):
    """Findings, each a sorted list of record values or offsets. With
    retention, a record gone from the log was not lost if a consumer
    received it."""
    values = {}
    for key, v in stored.items():
        values.setdefault(v, []).append(key)
    seen = set()
    if retention:
        seen = {e["received"][2] for e in classic + share if "received" in e}
    f = {}
    f["lost_acknowledged"] = sorted(v for p in producers.values() for v in p.acked
                                    if v not in values and v not in seen)
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
    ap.add_argument("--soak", action="store_true", help="retention, a fault a minute, resources sampled")
    ap.add_argument("--retention-ms", type=int)
    ap.add_argument("--fault-every", type=float)
    ap.add_argument("--plot", help="with --soak: an SVG of memory, descriptors and data size")
    a = ap.parse_args()
    if a.soak:
        a.retention_ms = a.retention_ms or 120_000
        a.fault_every = a.fault_every or 60
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
        if "soak" in result:
            print("  soak: %s" % result["soak"])
        print("replay: tests/nemesis/run --seed %d --seconds %g%s" % (
            a.seed, a.seconds, " --planted-bug " + a.planted_bug if a.planted_bug else ""))
    failed = bool(bad) != a.expect_findings
    sys.exit(1 if failed else 0)


def run(a, rng, pier, work):
    topic = {"name": TOPIC, "partitions": 2}
    if a.retention_ms:
        topic["config"] = {"retention.ms": str(a.retention_ms)}
    pier.api("POST", "/api/v1/topics", topic)
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
                                                   [s for s in a.schedule.split(",") if s],
                                                   a.fault_every), daemon=True)
    chaos.start()
    samples = []
    if a.soak:
        threading.Thread(target=sample, args=(pier, work, stop, samples), daemon=True).start()
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
    findings, indeterminate = check(producers, classic, share, stored, consumers["share"].killed,
                                    retention=bool(a.retention_ms))
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
    extra = {}
    if a.soak:
        extra["soak"], findings["resources_growing"] = bounded(samples)
        if a.plot:
            plot(samples, Path(a.plot), a)
    return {
        **extra,
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


def sample(pier, work, stop, out):
    """Every 10 s: seconds in, resident KiB, open descriptors, data bytes
    (also appended to soak.csv). A restarted broker keeps its pid: the
    workbench restarts the store in process."""
    csv = open(work / "soak.csv", "w")
    csv.write("seconds,rss_kib,fds,data_bytes\n")
    start, pid = time.time(), pier.proc.pid
    while not stop.wait(10):
        try:
            status = Path("/proc/%d/status" % pid).read_text()
            rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
            fds = len(os.listdir("/proc/%d/fd" % pid))
        except (OSError, AttributeError):
            continue
        data = sum(f.stat().st_size for f in (work / "data").rglob("*") if f.is_file())
        row = (round(time.time() - start), rss, fds, data)
        out.append(row)
        csv.write("%d,%d,%d,%d\n" % row)
        csv.flush()


def bounded(samples):
    """Peaks of the middle and last thirds; a finding per measure whose last
    third's peak is more than 25% above the middle third's."""
    if len(samples) < 9:
        return {"samples": len(samples)}, []
    third = len(samples) // 3
    middle, last = samples[third:2 * third], samples[2 * third:]
    summary, growing = {"samples": len(samples)}, []
    for i, name in ((1, "rss_kib"), (2, "fds"), (3, "data_bytes")):
        m, l = max(r[i] for r in middle), max(r[i] for r in last)
        summary[name] = {"first": samples[0][i], "middle_peak": m, "last_peak": l}
        if l > m * 1.25 + (4 if name == "fds" else 0):
            growing.append("%s: middle third peak %d, last third peak %d" % (name, m, l))
    return summary, growing


def plot(samples, path, a):
    """Three stacked line charts, one per measure, as a self-contained SVG."""
    w, h, pad = 720, 140, 40
    end = max(r[0] for r in samples) or 1
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" '
             'font-size="12">' % (w, 3 * h + 30),
             '<rect width="100%%" height="100%%" fill="white"/>',
             '<text x="%d" y="18">Pier soak: seed %d, %d s, a fault every %g s, retention %d ms</text>'
             % (pad, a.seed, a.seconds, a.fault_every, a.retention_ms)]
    for k, (i, name, scale, unit) in enumerate(((1, "resident memory", 1 / 1024, "MiB"),
                                                (2, "open file descriptors", 1, ""),
                                                (3, "data directory", 1 / 2**20, "MiB"))):
        top = 30 + k * h
        peak = max(r[i] * scale for r in samples) or 1
        pts = " ".join("%.1f,%.1f" % (pad + (w - 2 * pad) * r[0] / end,
                                      top + h - 25 - (h - 45) * (r[i] * scale) / peak) for r in samples)
        parts += ['<text x="%d" y="%d">%s (peak %.1f %s)</text>' % (pad, top + 14, name, peak, unit),
                  '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#999"/>' % (pad, top + h - 25, w - pad,
                                                                            top + h - 25),
                  '<polyline fill="none" stroke="#2563eb" stroke-width="1.5" points="%s"/>' % pts]
    parts.append('<text x="%d" y="%d">0 s</text><text x="%d" y="%d" text-anchor="end">%d s</text>'
                 % (pad, 3 * h + 22, w - pad, 3 * h + 22, end))
    parts.append("</svg>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts))


if __name__ == "__main__":
    main()
