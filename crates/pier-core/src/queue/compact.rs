//! Compaction of the queue state log: a snapshot of every group, then the
//! log before it is deleted.

use super::service::{QUEUE_STATE_TOPIC, QueueError, Queues, encode};
use super::state::QueueGroup;
use super::types::Event;

impl Queues {
    /// Writes a snapshot of every group and deletes the log before it.
    pub async fn compact(&self) -> Result<(), QueueError> {
        let order = self.inner().order.lock().await;
        let snapshot = {
            let groups = self.inner().groups.lock().expect("queue lock");
            Event::Snapshot {
                groups: groups.values().map(QueueGroup::snapshot).collect(),
            }
        };
        let rx = self
            .inner()
            .store
            .submit_append_async(QUEUE_STATE_TOPIC, 0, encode(&[snapshot], self.now()))
            .await?;
        self.inner()
            .appends_since_snapshot
            .store(0, std::sync::atomic::Ordering::Relaxed);
        drop(order);
        let appended = rx
            .await
            .map_err(|_| QueueError::Unavailable("the store closed".to_owned()))??;
        self.inner()
            .store
            .admin(crate::store::AdminCommand::DeleteRecordsBefore {
                topic: QUEUE_STATE_TOPIC.to_owned(),
                partition: 0,
                offset: appended.base_offset,
            })
            .await?;
        Ok(())
    }
}
