//! Shared by every case: the timestamp clock, payloads, percentiles and the
//! one JSON line each case prints.

use std::io::Write;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use futures_util::{FutureExt, Stream, StreamExt};
use serde_json::json;

const MIB: f64 = 1024.0 * 1024.0;

// ---------------------------------------------------------------- results

pub fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

pub fn now_ns() -> u64 {
    base().elapsed().as_nanos() as u64
}

/// A payload of `len` bytes whose first 8 bytes are a timestamp (ns since
/// this process's base instant); the rest is filler.
pub fn payload(len: usize, ts_ns: u64) -> Vec<u8> {
    let mut p = vec![b'x'; len];
    p[..8].copy_from_slice(&ts_ns.to_le_bytes());
    p
}

pub fn stamp(p: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&p[..8]);
    u64::from_le_bytes(b)
}

fn pct(sorted: &[u64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    Some(sorted[i] as f64 / 1e6)
}

pub fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

pub fn report(
    system: &str,
    case: &str,
    records: u64,
    secs: f64,
    bytes: usize,
    mut lat_ns: Vec<u64>,
) {
    lat_ns.sort_unstable();
    let ms = |q| pct(&lat_ns, q).map(|v| round(v, 3));
    let line = json!({
        "system": system,
        "case": case,
        "records": records,
        "seconds": round(secs, 3),
        "records_per_sec": round(records as f64 / secs, 1),
        "mib_per_sec": round(records as f64 * bytes as f64 / secs / MIB, 2),
        "p50_ms": ms(0.50),
        "p99_ms": ms(0.99),
        "p999_ms": ms(0.999),
    });
    println!("{line}");
    std::io::stdout().flush().ok();
}

// ---------------------------------------------------------------- consumers

/// The batch read shared by the push consumers (RabbitMQ, NATS): wait up to a
/// second for the first message (an empty batch if none comes), then take
/// what is already buffered, up to 256 in all. `take` records each message
/// for acknowledgement and returns its payload; `err` converts the stream's
/// errors; `closed` is the error if the stream ends.
pub async fn buffered_batch<S, M, E>(
    messages: &mut S,
    closed: &str,
    err: impl Fn(E) -> anyhow::Error,
    mut take: impl FnMut(M) -> Vec<u8>,
) -> Result<Vec<Vec<u8>>>
where
    S: Stream<Item = std::result::Result<M, E>> + Unpin,
{
    let mut out = Vec::new();
    let first = match tokio::time::timeout(Duration::from_secs(1), messages.next()).await {
        Err(_) => return Ok(out),
        Ok(None) => bail!("{closed}"),
        Ok(Some(m)) => m.map_err(&err)?,
    };
    let mut next = Some(first);
    while let Some(m) = next.take() {
        out.push(take(m));
        if out.len() >= 256 {
            break;
        }
        next = match messages.next().now_or_never() {
            Some(Some(m)) => Some(m.map_err(&err)?),
            Some(None) => bail!("{closed}"),
            None => None,
        };
    }
    Ok(out)
}
