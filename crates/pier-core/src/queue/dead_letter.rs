//! Writing dead letters: copies of records that ran out of deliveries or
//! were rejected, with headers saying where they came from and why.

use std::collections::BTreeMap;

use bytes::Bytes;
use kafka_protocol::records::{Compression, Record};

use super::config::QueueConfig;
use super::service::{DLQ_HEADERS, QueueError, Queues, read_records};
use super::state::{Event, PendingDeadLetter, Slot};
use crate::batch::{self, NewRecord};
use crate::store::AdminError;
use crate::topic::TopicConfig;

impl Queues {
    /// Copies records decided for the dead-letter topic there (creating it
    /// if needed), then marks them finished. A crash in between writes the
    /// copy again on the next tick: dead-lettering is at least once.
    pub async fn write_dead_letters(&self) -> Result<(), QueueError> {
        let _one_at_a_time = self.inner().dead_letters.lock().await;
        let pending: Vec<(String, QueueConfig, Vec<PendingDeadLetter>)> = {
            let groups = self.inner().groups.lock().expect("queue lock");
            groups
                .values()
                .map(|g| (g.name.clone(), g.config.clone(), g.pending_dead_letters()))
                .filter(|(_, _, p)| !p.is_empty())
                .collect()
        };
        for (group, config, items) in pending {
            let store = &self.inner().store;
            if !store.has_topic(&config.dead_letter_topic) {
                match store
                    .create_topic(&config.dead_letter_topic, 1, TopicConfig::default())
                    .await
                {
                    Ok(_) | Err(AdminError::Topic(crate::topic::TopicError::AlreadyExists(_))) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            let mut by_partition: BTreeMap<u32, Vec<(u64, u32, String)>> = BTreeMap::new();
            for d in items {
                by_partition.entry(d.partition).or_default().push((
                    d.offset,
                    d.deliveries,
                    d.reason,
                ));
            }
            for (p, items) in by_partition {
                let from = items.iter().map(|i| i.0).min().unwrap_or(0);
                let to = items.iter().map(|i| i.0).max().unwrap_or(0) + 1;
                let originals: BTreeMap<u64, Record> =
                    read_records(store, &config.topic, p, from, to)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|r| (r.offset as u64, r))
                        .collect();
                let now = self.now();
                let mut copies = Vec::new();
                for (offset, deliveries, reason) in &items {
                    // A record removed by retention meanwhile has nothing to copy.
                    let Some(r) = originals.get(offset) else {
                        continue;
                    };
                    let mut headers: Vec<(String, Option<Bytes>)> = r
                        .headers
                        .iter()
                        .filter(|(k, _)| !DLQ_HEADERS.contains(&k.as_str()))
                        .map(|(k, v)| (k.to_string(), v.clone()))
                        .collect();
                    for (k, v) in DLQ_HEADERS.iter().zip([
                        config.topic.clone(),
                        p.to_string(),
                        offset.to_string(),
                        deliveries.to_string(),
                        reason.clone(),
                        group.clone(),
                    ]) {
                        headers.push(((*k).to_owned(), Some(Bytes::from(v))));
                    }
                    copies.push(NewRecord {
                        key: r.key.clone(),
                        value: r.value.clone(),
                        headers,
                        timestamp_ms: if r.timestamp > 0 { r.timestamp } else { now },
                    });
                }
                for chunk in copies.chunks(500) {
                    store
                        .append(
                            &config.dead_letter_topic,
                            0,
                            batch::build(chunk, Compression::None, None),
                        )
                        .await?;
                }
                let offsets: Vec<u64> = items.iter().map(|i| i.0).collect();
                let (group, partition) = (group.clone(), p);
                self.change(move |groups, _| {
                    let Some(g) = groups.get_mut(&group) else {
                        return Ok(((), Vec::new()));
                    };
                    let still: Vec<u64> = offsets
                        .into_iter()
                        .filter(|o| {
                            matches!(
                                g.partitions
                                    .get(partition as usize)
                                    .and_then(|s| s.slots.get(o)),
                                Some(Slot::DeadLetter { .. })
                            )
                        })
                        .collect();
                    if still.is_empty() {
                        return Ok(((), Vec::new()));
                    }
                    let event = Event::DeadLettered {
                        group: group.clone(),
                        partition,
                        offsets: still,
                    };
                    g.apply(&event);
                    Ok(((), vec![event]))
                })
                .await?;
            }
        }
        Ok(())
    }
}
