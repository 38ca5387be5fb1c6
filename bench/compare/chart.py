#!/usr/bin/env python3
"""Draw a bench/compare/run JSON file: bench/compare/chart RESULT.json OUT.png"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402

SYSTEMS = ["redis", "rabbitmq", "nats", "pier"]
LABELS = {"redis": "Redis", "rabbitmq": "RabbitMQ", "nats": "NATS JS", "pier": "Pier"}
COLORS = {"redis": "#d62728", "rabbitmq": "#ff7f0e", "nats": "#7f7f7f", "pier": "#1f77b4"}


def fmt(v):
    if v is None:
        return "–"
    if v >= 10_000:
        return f"{v / 1000:.0f}k"
    if v >= 1000:
        return f"{v / 1000:.1f}k"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 1:
        return f"{v:.1f}"
    return f"{v:.2f}"


def main():
    src, out = sys.argv[1], sys.argv[2]
    doc = json.load(open(src))
    summary = doc["summary"]
    rows = {r["system"]: r for r in summary["rows"]}
    systems = [s for s in SYSTEMS if s in rows]
    nofsync = {s for s in systems if rows[s].get("syncs_per_record") == 0}
    m = doc["machine"]

    fig, axes = plt.subplots(2, 3, figsize=(15, 8.6))
    fig.suptitle(
        "Durable 1 KiB messages on one machine: Pier vs Redis streams, RabbitMQ quorum queues, NATS JetStream\n"
        f"{m['cpus']} vCPU {m['cpu']}, {m['memory_gib']:.0f} GiB, {m['filesystem']} on {m['device']}, "
        f"Linux {m['kernel']} — {m['date'][:10]}"
        + ("  (--quick)" if doc.get("quick") else ""),
        fontsize=12,
    )

    def bars(ax, key, title, unit, log=False, ref=None, ref_label=None):
        vals = [rows[s].get(key) for s in systems]
        xs = range(len(systems))
        b = ax.bar(xs, [v or 0 for v in vals], color=[COLORS[s] for s in systems],
                   hatch=["//" if s in nofsync else "" for s in systems], edgecolor="white")
        ax.set_xticks(list(xs), [LABELS[s] for s in systems])
        ax.set_title(title, fontsize=11)
        ax.set_ylabel(unit)
        if log:
            ax.set_yscale("log")
        top = max([v for v in vals if v] + ([ref] if ref else []) + [1])
        ax.set_ylim(top=top * (4 if log else 1.22))
        for rect, v in zip(b, vals):
            ax.annotate(fmt(v), (rect.get_x() + rect.get_width() / 2, rect.get_height() or 0),
                        ha="center", va="bottom", fontsize=9, xytext=(0, 2), textcoords="offset points")
        if ref:
            ax.axhline(ref, color="black", ls="--", lw=1, label=ref_label)
            ax.legend(fontsize=8, loc="upper left")
        if not log:
            ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)

    raw = summary.get("raw_fdatasync_per_sec")
    bars(axes[0][0], "sequential_per_sec", "Sequential produce (1 in flight)", "msg/s",
         ref=raw, ref_label=f"this disk: raw 1 KiB append + fdatasync, {raw:,.0f}/s" if raw else None)
    bars(axes[0][1], "pipelined_per_sec", "Pipelined produce (256 in flight)", "msg/s")
    bars(axes[0][2], "consume_per_sec", "Consume + acknowledge (Pier: Kafka fetch, no acks)", "msg/s")

    # Latency panel: grouped bars.
    ax = axes[1][0]
    keys = [("sequential_p50_ms", "seq p50"), ("sequential_p99_ms", "seq p99"),
            ("e2e_p50_ms", "e2e p50"), ("e2e_p99_ms", "e2e p99")]
    width = 0.8 / len(systems)
    for i, s in enumerate(systems):
        xs = [k + (i - (len(systems) - 1) / 2) * width for k in range(len(keys))]
        vals = [rows[s].get(k) for k, _ in keys]
        b = ax.bar(xs, [v or 0 for v in vals], width, color=COLORS[s], label=LABELS[s],
                   hatch="//" if s in nofsync else "", edgecolor="white")
        for rect, v in zip(b, vals):
            ax.annotate(fmt(v), (rect.get_x() + rect.get_width() / 2, rect.get_height() or 0),
                        ha="center", va="bottom", fontsize=7, xytext=(0, 1), textcoords="offset points",
                        rotation=90)
    ax.set_yscale("log")
    ax.set_xticks(range(len(keys)), [label for _, label in keys])
    ax.set_ylabel("ms (log scale)")
    ax.set_title("Latency: sequential produce, end-to-end at 5,000 msg/s", fontsize=11)
    allv = [rows[s].get(k) for s in systems for k, _ in keys if rows[s].get(k)]
    ax.set_ylim(min(allv) / 2, max(allv) * 12)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.legend(fontsize=8, ncol=4, loc="upper left")

    bars(axes[1][1], "startup_ms", "Start-up to first accepted connection (median)", "ms (log scale)", log=True)
    bars(axes[1][2], "idle_rss_mib", "Idle resident memory after start-up", "MiB")

    if nofsync:
        fig.text(0.5, 0.005,
                 "Hatched: " + ", ".join(LABELS[s] for s in sorted(nofsync))
                 + " made no fsync call while acknowledging messages (counted with strace): "
                 "its acknowledgements do not wait for the disk.",
                 ha="center", fontsize=9)
    fig.tight_layout(rect=(0, 0.03, 1, 0.95))
    fig.savefig(out, dpi=110)
    print(out)


if __name__ == "__main__":
    main()
