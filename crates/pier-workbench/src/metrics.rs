//! `/metrics`: Prometheus text exposition (format 0.0.4).

use std::fmt::Write;

use crate::{PartitionSummary, Workbench};

/// Escapes a label value as the exposition format requires.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Workbench {
    pub fn metrics_text(&self) -> String {
        let stats = self.store().stats();
        let mut out = String::new();
        // A histogram in seconds, as Prometheus expects: cumulative buckets.
        let name = "pier_group_commit_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time to write and fdatasync one group commit of the log."
        );
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, count) in stats.commit_buckets.iter().enumerate() {
            cumulative += count;
            let le = pier_core::store::COMMIT_BUCKETS_MICROS
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), |us| (*us as f64 / 1e6).to_string());
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_sum {}", stats.commit_micros_total as f64 / 1e6);
        let _ = writeln!(out, "{name}_count {}", stats.commits);
        let mut metric = |name: &str, kind: &str, help: &str, samples: Vec<(String, u64)>| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let one = |v: u64| vec![(String::new(), v)];
        metric(
            "pier_group_commits_total",
            "counter",
            "Group commits (one log fdatasync each).",
            one(stats.commits),
        );
        metric(
            "pier_appends_total",
            "counter",
            "Record batches appended.",
            one(stats.appends),
        );
        metric(
            "pier_group_commit_micros_total",
            "counter",
            "Time spent writing and syncing the log, in microseconds.",
            one(stats.commit_micros_total),
        );
        let c = self.broker().config.ledger.counters();
        metric(
            "pier_ledger_anomalous_records_total",
            "counter",
            "Records the delivery ledger found lost, duplicated, skipped, reordered or dead-lettered, by verdict.",
            [
                ("lost_after_ack", c.lost_after_ack),
                ("lost_unacknowledged", c.lost_unacknowledged),
                ("stored_twice", c.stored_twice),
                ("delivered_more_than_once", c.delivered_more_than_once),
                ("committed_without_delivery", c.committed_without_delivery),
                ("out_of_order", c.out_of_order),
                ("dead_lettered", c.dead_lettered),
            ]
            .into_iter()
            .map(|(v, n)| (format!("{{verdict=\"{v}\"}}"), n))
            .collect(),
        );
        metric(
            "pier_connected_clients",
            "gauge",
            "Open Kafka connections.",
            one(self.broker().clients().len() as u64),
        );
        metric(
            "pier_store_poisoned",
            "gauge",
            "1 after an I/O error until restart.",
            one(u64::from(self.store().poisoned().is_some())),
        );
        metric(
            "pier_dedup_hits_total",
            "counter",
            "Records not stored because their dedup id was seen in the window.",
            one(stats.dedup_hits),
        );
        let queues = self.queue_groups();
        let per_queue = |f: fn(&crate::QueueGroupSummary) -> u64| {
            queues
                .iter()
                .map(|q| (format!("{{group=\"{}\"}}", label(&q.group)), f(q)))
                .collect::<Vec<_>>()
        };
        metric(
            "pier_queue_in_flight",
            "gauge",
            "Records leased to queue consumers right now.",
            per_queue(|q| q.in_flight),
        );
        metric(
            "pier_queue_backlog",
            "gauge",
            "Records a queue group has not delivered yet.",
            per_queue(|q| q.backlog),
        );
        metric(
            "pier_queue_dead_letters",
            "gauge",
            "Records in a queue group's dead-letter topic.",
            per_queue(|q| q.dead_letter_depth),
        );
        metric(
            "pier_queue_redelivered_total",
            "counter",
            "Deliveries after the first.",
            per_queue(|q| q.redelivered),
        );
        metric(
            "pier_queue_accepted_total",
            "counter",
            "Records accepted by queue consumers.",
            per_queue(|q| q.accepted),
        );
        let topics = self.topics();
        let partition_samples = |f: fn(&PartitionSummary) -> u64| {
            topics
                .iter()
                .flat_map(|t| {
                    t.partitions.iter().map(move |p| {
                        (
                            format!(
                                "{{topic=\"{}\",partition=\"{}\"}}",
                                label(&t.name),
                                p.partition
                            ),
                            f(p),
                        )
                    })
                })
                .collect::<Vec<_>>()
        };
        metric(
            "pier_partition_high_watermark",
            "gauge",
            "Next offset to be written.",
            partition_samples(|p| p.high_watermark),
        );
        metric(
            "pier_partition_log_start_offset",
            "gauge",
            "First offset still stored.",
            partition_samples(|p| p.log_start_offset),
        );
        metric(
            "pier_partition_size_bytes",
            "gauge",
            "Bytes of record batches stored.",
            partition_samples(|p| p.size_bytes),
        );
        let groups = self.groups();
        metric(
            "pier_group_lag",
            "gauge",
            "Records not yet committed by a consumer group, per partition.",
            groups
                .iter()
                .flat_map(|g| {
                    g.lag.iter().map(move |l| {
                        (
                            format!(
                                "{{group=\"{}\",topic=\"{}\",partition=\"{}\"}}",
                                label(&g.group_id),
                                label(&l.topic),
                                l.partition
                            ),
                            l.lag,
                        )
                    })
                })
                .collect(),
        );
        metric(
            "pier_group_members",
            "gauge",
            "Connected members of a consumer group.",
            groups
                .iter()
                .map(|g| {
                    (
                        format!("{{group=\"{}\"}}", label(&g.group_id)),
                        g.members.len() as u64,
                    )
                })
                .collect(),
        );
        out
    }
}
