#!/usr/bin/env python3
"""Machine facts and the result table for bench/compare/run (stdlib only).

  report.py facts --tmp DIR --pier BIN --root REPO     > facts.json
  report.py show-facts --facts facts.json
  report.py table --facts facts.json --results results.jsonl [--json OUT] [--elapsed S] [--quick 0|1]
  report.py markdown --json OUT                          (the table again, from a saved run)
"""

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys

SYSTEMS = ["redis", "rabbitmq", "nats", "pier"]
LABELS = {"redis": "Redis", "rabbitmq": "RabbitMQ", "nats": "NATS JetStream", "pier": "Pier"}


def sh(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def lock_version(lock, name):
    m = re.search(r'name = "%s"\nversion = "([^"]+)"' % re.escape(name), lock)
    return m.group(1) if m else "?"


def facts(a):
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    fs = sh("findmnt", "-n", "-o", "FSTYPE,SOURCE,OPTIONS", "-T", a.tmp).split()
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        lock = open(os.path.join(here, "loadgen", "Cargo.lock")).read()
    except OSError:
        lock = ""
    rev = sh("git", "-C", a.root, "rev-parse", "--short", "HEAD")
    dirty = sh("git", "-C", a.root, "status", "--porcelain", "--", "crates")
    nats = sh("nats-server", "--version")
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "loadavg_start": " ".join(open("/proc/loadavg").read().split()[:3]),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "os": sh("sh", "-c", '. /etc/os-release && echo "$PRETTY_NAME"'),
        "tmp": a.tmp,
        "filesystem": fs[0] if fs else "?",
        "device": fs[1] if len(fs) > 1 else "?",
        "mount_options": fs[2] if len(fs) > 2 else "?",
        "versions": {
            "redis": sh("redis-server", "--version").split(" sha=")[0].replace("Redis server v=", ""),
            "rabbitmq": sh("dpkg-query", "-W", "-f=${Version}", "rabbitmq-server"),
            "erlang": sh("dpkg-query", "-W", "-f=${Version}", "erlang-base"),
            "nats": nats.replace("nats-server: v", ""),
            "pier": rev + (" (crates/ modified)" if dirty else ""),
            "rust_clients": "redis %s, lapin %s, async-nats %s" % (
                lock_version(lock, "redis"), lock_version(lock, "lapin"), lock_version(lock, "async-nats")),
        },
    }


def show_facts(f):
    v = f["versions"]
    return "\n".join([
        "machine: %s, %s CPUs, %s GiB, Linux %s, %s" % (f["cpu"], f["cpus"], f["memory_gib"], f["kernel"], f["os"]),
        "data dirs: %s on %s (%s, %s)" % (f["tmp"], f["filesystem"], f["device"], f["mount_options"]),
        "versions: Redis %s, RabbitMQ %s (Erlang %s), NATS %s, Pier %s; clients %s" % (
            v["redis"], v["rabbitmq"], v["erlang"], v["nats"], v["pier"], v["rust_clients"]),
    ])


SETTINGS = {
    "redis": "appendonly yes, appendfsync always (fsync of the AOF before replies); XADD to a stream; "
             "consume: XREADGROUP COUNT 256 + one XACK per batch",
    "rabbitmq": "quorum queue (x-queue-type=quorum, single node), persistent messages, publisher "
                "confirms; consume: basic.consume, prefetch 1024, basic.ack multiple=true every 256",
    "nats": "JetStream, file storage, 1 replica, default sync (see note); publish awaiting the PubAck; "
            "consume: durable pull consumer (batches of 512), AckPolicy All, ack every 256th message",
    "pier": "pier serve --data-dir (every produce acknowledged after a group-commit fdatasync); "
            "acks=-1, one record per produce request; consume: Kafka fetch from offset 0",
}


def load(results):
    rows = []
    with open(results) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                rows.append(json.loads(line))
    return rows


def pick(rows, system, case):
    out = None
    for r in rows:
        if r.get("system") == system and r.get("case") == case:
            out = r
    return out


def num(x, digits=0):
    if x is None:
        return "–"
    if digits == 0:
        return f"{x:,.0f}"
    return f"{x:,.{digits}f}"


def ms(x):
    if x is None:
        return "–"
    if x < 1:
        return f"{x:.2f}"
    if x < 100:
        return f"{x:.1f}"
    return f"{x:,.0f}"


def summarize(rows):
    raw = pick(rows, "disk", "append+fdatasync") or {}
    dd = pick(rows, "disk", "dd") or {}
    raw_rate = raw.get("records_per_sec")
    dd_bw = dd.get("mib_per_sec")
    table = []
    for s in SYSTEMS:
        seq = pick(rows, s, "sequential") or {}
        refs = [(pick(rows, "disk", f"append+fdatasync {w} {s}") or {}).get("records_per_sec")
                for w in ("before", "after")]
        refs = [x for x in refs if x]
        ref = sum(refs) / len(refs) if refs else raw_rate
        ref_p50 = [(pick(rows, "disk", f"append+fdatasync {w} {s}") or {}).get("p50_ms")
                   for w in ("before", "after")]
        ref_p50 = [x for x in ref_p50 if x]
        pipe = pick(rows, s, "pipelined") or {}
        cons = pick(rows, s, "consume") or {}
        e2e = pick(rows, s, "e2e") or {}
        st = pick(rows, s, "startup") or {}
        rss = pick(rows, s, "idle_rss") or {}
        fs = pick(rows, s, "fsync_check") or {}
        errors = [f"{r['case']}: {r['error']}" for r in rows if r.get("system") == s and "error" in r]
        if not any([seq, pipe, cons, e2e, st, rss, fs, errors]):
            continue
        table.append({
            "system": s,
            "sequential_per_sec": seq.get("records_per_sec"),
            "raw_fdatasync_reference_per_sec": ref,
            "raw_fdatasync_reference_p50_ms": sum(ref_p50) / len(ref_p50) if ref_p50 else raw.get("p50_ms"),
            "sequential_of_raw_fsync": (seq["records_per_sec"] / ref) if seq.get("records_per_sec") and ref else None,
            "sequential_p50_ms": seq.get("p50_ms"),
            "sequential_p99_ms": seq.get("p99_ms"),
            "pipelined_per_sec": pipe.get("records_per_sec"),
            "pipelined_mib_per_sec": pipe.get("mib_per_sec"),
            "pipelined_of_disk_bandwidth": (pipe["mib_per_sec"] / dd_bw) if pipe.get("mib_per_sec") and dd_bw else None,
            "consume_per_sec": cons.get("records_per_sec"),
            "e2e_rate": e2e.get("records_per_sec"),
            "e2e_p50_ms": e2e.get("p50_ms"),
            "e2e_p99_ms": e2e.get("p99_ms"),
            "startup_ms": st.get("p50_ms"),
            "idle_rss_mib": rss["rss_kib"] / 1024 if rss.get("rss_kib") else None,
            "idle_rss_processes": rss.get("processes"),
            "syncs_per_record": fs.get("syncs_per_record"),
            "errors": errors,
        })
    rtt = pick(rows, "loopback", "rtt") or {}
    summary = {"raw_fdatasync_per_sec": raw_rate, "raw_fdatasync_p50_ms": raw.get("p50_ms"),
               "raw_fdatasync_p99_ms": raw.get("p99_ms"), "dd_mib_per_sec": dd_bw,
               "loopback_rtt_p50_ms": rtt.get("p50_ms"), "rows": table}
    summary["targets"] = targets(summary)
    return summary


def targets(summary):
    """The targets of the performance issue, judged on this run's numbers:
    a list of {"target", "value", "met"} (met is None when a number is missing)."""
    by = {r["system"]: r for r in summary["rows"]}
    pier = by.get("pier", {})
    get = lambda s, k: by.get(s, {}).get(k)
    out = []

    def judge(target, value, met):
        out.append({"target": target, "value": value, "met": met})

    def ratio(a, b):
        return a / b if a and b else None

    for peer, times in (("redis", 2), ("rabbitmq", 4)):
        r = ratio(pier.get("pipelined_per_sec"), get(peer, "pipelined_per_sec"))
        judge(f"pipelined durable produce at least {times}x {LABELS[peer]}",
              None if r is None else f"{r:.1f}x ({num(pier.get('pipelined_per_sec'))} vs "
                                     f"{num(get(peer, 'pipelined_per_sec'))} msg/s)",
              None if r is None else r >= times)
    bw = pier.get("pipelined_of_disk_bandwidth")
    judge("pipelined on the way to half the disk's sequential bandwidth",
          None if bw is None else f"{bw * 100:.0f}% of {num(summary['dd_mib_per_sec'], 1)} MiB/s",
          None if bw is None else bw >= 0.5)
    # The disk as it was just around Pier's sequential case.
    raw_p50, rtt = pier.get("raw_fdatasync_reference_p50_ms"), summary.get("loopback_rtt_p50_ms")
    seq = pier.get("sequential_p50_ms")
    if raw_p50 and rtt and seq:
        bound = 1.3 * (raw_p50 + rtt)
        judge("sequential ack p50 within 1.3x (raw append+fdatasync p50 + loopback round trip p50)",
              f"{seq:.3f} ms vs 1.3 x ({raw_p50:.3f} + {rtt:.3f}) = {bound:.3f} ms", seq <= bound)
    else:
        judge("sequential ack p50 within 1.3x (raw fdatasync p50 + loopback round trip)", None, None)
    e2e, redis_e2e = pier.get("e2e_p99_ms"), get("redis", "e2e_p99_ms")
    # Only a like-for-like comparison if both kept the rate.
    kept = all((x or 0) >= 4900 for x in (pier.get("e2e_rate"), get("redis", "e2e_rate")))
    judge("end-to-end p99 at 5,000 msg/s no worse than Redis",
          None if not (e2e and redis_e2e) else f"{e2e:.2f} vs {redis_e2e:.2f} ms"
          + ("" if kept else " (a producer did not keep the rate)"),
          None if not (e2e and redis_e2e and kept) else e2e <= redis_e2e)
    c = pier.get("consume_per_sec")
    judge("consume from the log at least 300,000 records/s",
          None if c is None else f"{num(c)}/s", None if c is None else c >= 300_000)
    st = pier.get("startup_ms")
    judge("start-up to accepting connections under 50 ms",
          None if st is None else f"{st:.1f} ms", None if st is None else st < 50)
    rss = pier.get("idle_rss_mib")
    judge("idle resident memory under 30 MiB",
          None if rss is None else f"{rss:.1f} MiB", None if rss is None else rss < 30)
    fs = pier.get("syncs_per_record")
    judge("one fsync-family call per group commit (sequential: one commit per message)",
          None if fs is None else f"{fs:.2f} per message", None if fs is None else fs <= 1.05)
    return out


def show_targets(summary):
    mark = {True: "met", False: "MISSED", None: "not measured"}
    return [f"{mark[t['met']]}: {t['target']}" + (f" — {t['value']}" if t["value"] else "")
            for t in summary.get("targets", [])]


HEAD = ["system", "seq. msg/s", "of raw fsync", "seq. p50 ms", "seq. p99 ms", "pipelined msg/s",
        "MiB/s", "consume+ack msg/s", "e2e p50 ms", "e2e p99 ms", "start-up ms", "idle RSS MiB",
        "fsyncs/msg"]
RIGHT = [False] + [True] * (len(HEAD) - 1)


def markdown(summary):
    lines = []
    for r in summary["rows"]:
        pct = lambda x: "–" if x is None else f"{x * 100:.0f}%"
        lines.append([
            LABELS[r["system"]],
            num(r["sequential_per_sec"]), pct(r["sequential_of_raw_fsync"]),
            ms(r["sequential_p50_ms"]), ms(r["sequential_p99_ms"]),
            num(r["pipelined_per_sec"]), num(r["pipelined_mib_per_sec"], 1),
            num(r["consume_per_sec"]),
            ms(r["e2e_p50_ms"]), ms(r["e2e_p99_ms"]),
            ms(r["startup_ms"]), num(r["idle_rss_mib"], 1),
            "–" if r["syncs_per_record"] is None else f"{r['syncs_per_record']:.2f}",
        ])
    raw = summary
    lines.append([
        "disk (raw)", num(raw["raw_fdatasync_per_sec"]), "100%",
        ms(raw["raw_fdatasync_p50_ms"]), ms(raw["raw_fdatasync_p99_ms"]),
        "–", num(raw["dd_mib_per_sec"], 1), "–", "–", "–", "–", "–", "1.00",
    ])
    widths = [max(len(HEAD[i]), *(len(l[i]) for l in lines)) for i in range(len(HEAD))]
    fmt = lambda cells: "| " + " | ".join(
        c.rjust(widths[i]) if RIGHT[i] else c.ljust(widths[i]) for i, c in enumerate(cells)) + " |"
    out = [fmt(HEAD), "| " + " | ".join(("-" * (w - 1) + ":") if RIGHT[i] else "-" * w
                                         for i, w in enumerate(widths)) + " |"]
    out += [fmt(l) for l in lines]
    return "\n".join(out)


def notes(summary, rows):
    out = []
    e2e_rates = [(r["system"], r["e2e_rate"]) for r in summary["rows"] if r.get("e2e_rate")]
    slow = [f"{LABELS[s]} {x:,.0f}/s" for s, x in e2e_rates if x < 4900]
    if slow:
        out.append("e2e: the producer did not keep up with 5,000 msg/s: " + ", ".join(slow))
    refs = [f"{LABELS[r['system']]} {r['raw_fdatasync_reference_per_sec']:,.0f}/s" for r in summary["rows"]
            if r.get("raw_fdatasync_reference_per_sec") and r.get("sequential_per_sec")]
    if refs:
        out.append("\"of raw fsync\": sequential rate / the disk's 1 KiB append+fdatasync rate (mean of 1 s "
                   "just before and 1 s just after that system's sequential case): " + ", ".join(refs))
    for r in summary["rows"]:
        for e in r["errors"]:
            out.append(f"{LABELS[r['system']]}: {e}")
    for s in SYSTEMS:
        fs = pick(rows, s, "fsync_check")
        if fs:
            out.append(f"{LABELS[s]} fsync check: {fs['syncs']} sync calls for {fs['records']} sequential "
                       f"records {fs['calls']}")
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["facts", "show-facts", "table", "markdown"])
    p.add_argument("--tmp")
    p.add_argument("--pier")
    p.add_argument("--root")
    p.add_argument("--facts")
    p.add_argument("--results")
    p.add_argument("--json")
    p.add_argument("--elapsed", type=int)
    p.add_argument("--measured", type=int)
    p.add_argument("--loadavg-end")
    p.add_argument("--quick", default="0")
    a = p.parse_args()
    if a.what == "facts":
        print(json.dumps(facts(a), indent=2))
        return
    if a.what == "show-facts":
        print(show_facts(json.load(open(a.facts))))
        return
    if a.what == "markdown":
        d = json.load(open(a.json))
        print(markdown(d["summary"]))
        for t in show_targets(d["summary"]):
            print("- " + t)
        return
    f = json.load(open(a.facts))
    if a.loadavg_end:
        f["loadavg_end"] = a.loadavg_end
    rows = load(a.results)
    summary = summarize(rows)
    print()
    print(show_facts(f))
    print()
    print(markdown(summary))
    print()
    for n in notes(summary, rows):
        print("* " + n)
    print("* targets (Pier, this run):")
    for t in show_targets(summary):
        print("  - " + t)
    print("* settings:")
    for s in SYSTEMS:
        if any(r["system"] == s for r in summary["rows"]):
            print(f"  - {LABELS[s]}: {SETTINGS[s]}")
    if a.elapsed is not None:
        print(f"* whole run: {a.elapsed} s, of which measuring {a.measured} s"
              + (" (--quick)" if a.quick == "1" else ""))
    if f.get("loadavg_end"):
        print(f"* load average (1/5/15 min): {f['loadavg_start']} at the start, {f['loadavg_end']} at the end"
              f" ({f['cpus']} CPUs; anything else running on the machine shows here)")
    if a.json:
        doc = {"machine": f, "quick": a.quick == "1", "elapsed_seconds": a.elapsed,
               "measuring_seconds": a.measured,
               "settings": {s: SETTINGS[s] for s in SYSTEMS}, "summary": summary, "results": rows}
        with open(a.json, "w") as out:
            json.dump(doc, out, indent=2)
            out.write("\n")
        print(f"* JSON: {a.json}")


if __name__ == "__main__":
    sys.exit(main())
