//! Network faults on Kafka connections, after Toxiproxy's toxics: latency,
//! bandwidth, resets, a blackhole, sliced responses, refused connections,
//! and lost produce acknowledgements. Each applies to every client or to
//! one client id; they survive broker restarts (the network is not the
//! broker).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use rand::Rng;
use tokio::io::AsyncWriteExt;

/// What a toxic does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToxicKind {
    /// Every response waits `latency_ms` ± `jitter_ms`.
    Latency { latency_ms: u64, jitter_ms: u64 },
    /// Responses are written at most this fast.
    Bandwidth { bytes_per_sec: u64 },
    /// Every `every`-th request closes its connection before it is handled.
    Reset { every: u64 },
    /// Requests are read and dropped: nothing is handled or answered.
    Blackhole,
    /// Responses go out in pieces of `bytes`, `delay_ms` apart.
    Slice { bytes: u64, delay_ms: u64 },
    /// New connections are closed at once (for one client id: at its
    /// first request).
    Refuse,
    /// Every `every`-th produce request is handled (written and fsynced)
    /// but its connection closes instead of answering.
    LoseProduceAck { every: u64 },
    /// Every `every`-th produce request is answered with
    /// NOT_LEADER_OR_FOLLOWER without being handled.
    FailProduce { every: u64 },
}

#[derive(Debug)]
struct Toxic {
    id: u64,
    client_id: Option<String>,
    kind: ToxicKind,
    /// Matching requests seen (for `every`).
    seen: AtomicU64,
}

impl Toxic {
    /// Counts one matching request; true on every `every`-th.
    fn tick(&self, every: u64) -> bool {
        (self.seen.fetch_add(1, Ordering::Relaxed) + 1).is_multiple_of(every.max(1))
    }
}

/// The toxics in force, shared by every connection.
#[derive(Debug, Clone, Default)]
pub struct NetworkFaults {
    toxics: Arc<RwLock<Vec<Toxic>>>,
    any: Arc<AtomicBool>,
}

/// What to do with one request, decided before handling it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub close_before: bool,
    pub drop_request: bool,
    pub close_after_produce: bool,
    pub fail_produce: bool,
}

impl NetworkFaults {
    /// Adds (or replaces) toxic `id`.
    pub fn set(&self, id: u64, client_id: Option<String>, kind: ToxicKind) {
        let mut toxics = self.toxics.write().expect("toxics lock");
        toxics.retain(|t| t.id != id);
        toxics.push(Toxic {
            id,
            client_id,
            kind,
            seen: AtomicU64::new(0),
        });
        self.any.store(true, Ordering::SeqCst);
    }

    /// Removes toxic `id`; `false` if there was none.
    pub fn remove(&self, id: u64) -> bool {
        let mut toxics = self.toxics.write().expect("toxics lock");
        let before = toxics.len();
        toxics.retain(|t| t.id != id);
        self.any.store(!toxics.is_empty(), Ordering::SeqCst);
        toxics.len() != before
    }

    fn matching(&self, client_id: Option<&str>, mut f: impl FnMut(&Toxic)) {
        if !self.any.load(Ordering::Relaxed) {
            return;
        }
        for t in self.toxics.read().expect("toxics lock").iter() {
            if t.client_id.as_deref().is_none_or(|c| Some(c) == client_id) {
                f(t);
            }
        }
    }

    /// Whether a new connection must be refused before its first request.
    pub fn refuse_all(&self) -> bool {
        let mut refuse = false;
        if self.any.load(Ordering::Relaxed) {
            refuse = self
                .toxics
                .read()
                .expect("toxics lock")
                .iter()
                .any(|t| t.client_id.is_none() && t.kind == ToxicKind::Refuse);
        }
        refuse
    }

    /// Decides the fate of one request from `client_id`.
    pub fn verdict(&self, client_id: Option<&str>, first: bool, produce: bool) -> Verdict {
        let mut v = Verdict::default();
        self.matching(client_id, |t| match t.kind {
            ToxicKind::Refuse if first => v.close_before = true,
            ToxicKind::Reset { every } if t.tick(every) => v.close_before = true,
            ToxicKind::Blackhole => v.drop_request = true,
            ToxicKind::LoseProduceAck { every } if produce && t.tick(every) => {
                v.close_after_produce = true;
            }
            ToxicKind::FailProduce { every } if produce && t.tick(every) => {
                v.fail_produce = true;
            }
            _ => {}
        });
        v
    }

    /// The latency toxics add for `client_id` (with jitter drawn now).
    pub fn latency(&self, client_id: Option<&str>) -> Duration {
        let mut delay = Duration::ZERO;
        self.matching(client_id, |t| {
            if let ToxicKind::Latency {
                latency_ms,
                jitter_ms,
            } = t.kind
            {
                let jitter = if jitter_ms > 0 {
                    rand::rng().random_range(0..=2 * jitter_ms) as i64 - jitter_ms as i64
                } else {
                    0
                };
                delay += Duration::from_millis((latency_ms as i64 + jitter).max(0) as u64);
            }
        });
        delay
    }

    /// Whether `client_id` may not connect (for clients without real
    /// connections, such as simulated ones).
    pub fn refuses(&self, client_id: Option<&str>) -> bool {
        let mut refused = false;
        self.matching(client_id, |t| refused |= t.kind == ToxicKind::Refuse);
        refused
    }

    /// Writes a response as the toxics for `client_id` allow.
    pub async fn write(
        &self,
        client_id: Option<&str>,
        out: &mut (impl AsyncWriteExt + Unpin),
        response: &Bytes,
    ) -> std::io::Result<()> {
        let delay = self.latency(client_id);
        let mut rate: Option<u64> = None;
        let mut slice: Option<(u64, u64)> = None;
        self.matching(client_id, |t| match t.kind {
            ToxicKind::Bandwidth { bytes_per_sec } => {
                rate = Some(rate.map_or(bytes_per_sec, |r| r.min(bytes_per_sec)));
            }
            ToxicKind::Slice { bytes, delay_ms } => slice = Some((bytes, delay_ms)),
            _ => {}
        });
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if rate.is_none() && slice.is_none() {
            return out.write_all(response).await;
        }
        // Pieces: the slice size, or a tenth of a second's worth.
        let piece = match (slice, rate) {
            (Some((bytes, _)), _) => bytes.max(1) as usize,
            (None, Some(r)) => (r / 10).max(1) as usize,
            (None, None) => response.len(),
        };
        for chunk in response.chunks(piece) {
            out.write_all(chunk).await?;
            out.flush().await?;
            let mut pause = Duration::from_millis(slice.map_or(0, |(_, d)| d));
            if let Some(r) = rate {
                pause = pause.max(Duration::from_secs_f64(
                    chunk.len() as f64 / r.max(1) as f64,
                ));
            }
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_produce_refuses_every_nth_produce_request_of_its_client() {
        let n = NetworkFaults::default();
        n.set(1, Some("a".into()), ToxicKind::FailProduce { every: 3 });
        let refused: Vec<bool> = (0..6)
            .map(|_| n.verdict(Some("a"), false, true).fail_produce)
            .collect();
        assert_eq!(refused, [false, false, true, false, false, true]);
        assert!(
            !n.verdict(Some("a"), false, false).fail_produce,
            "only produce"
        );
        assert!(
            !n.verdict(Some("b"), false, true).fail_produce,
            "only client a"
        );
    }

    #[test]
    fn toxics_match_their_client_and_count_requests() {
        let n = NetworkFaults::default();
        assert_eq!(n.verdict(Some("a"), true, true), Verdict::default());
        n.set(1, Some("a".into()), ToxicKind::Reset { every: 2 });
        n.set(2, None, ToxicKind::LoseProduceAck { every: 1 });
        assert!(!n.verdict(Some("a"), false, false).close_before);
        assert!(n.verdict(Some("a"), false, false).close_before, "every 2nd");
        assert!(
            !n.verdict(Some("b"), false, false).close_before,
            "other clients"
        );
        assert!(n.verdict(Some("b"), false, true).close_after_produce);
        assert!(
            !n.verdict(Some("b"), false, false).close_after_produce,
            "produce only"
        );
        assert!(n.remove(2));
        assert!(!n.remove(2));
        n.set(3, None, ToxicKind::Refuse);
        assert!(n.refuse_all());
        n.remove(3);
        n.remove(1);
        assert!(!n.refuse_all());
        assert_eq!(n.verdict(Some("a"), true, true), Verdict::default());
    }

    #[tokio::test]
    async fn sliced_responses_arrive_whole() {
        let n = NetworkFaults::default();
        n.set(
            1,
            None,
            ToxicKind::Slice {
                bytes: 3,
                delay_ms: 1,
            },
        );
        let mut out = Vec::new();
        let response = Bytes::from_static(b"0123456789");
        n.write(None, &mut out, &response).await.unwrap();
        assert_eq!(out, b"0123456789");
    }
}
