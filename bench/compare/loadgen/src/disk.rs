use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

use crate::common::report;

/// Single thread: append 1 KiB to a fresh file, fdatasync, repeat.
pub fn disk(args: &[String]) -> Result<()> {
    let mut dir = None;
    let mut seconds = 3.0;
    let mut bytes = 1024usize;
    let mut case = "append+fdatasync".to_string();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--dir" => dir = it.next().cloned(),
            "--seconds" => seconds = it.next().context("--seconds")?.parse()?,
            "--record-bytes" => bytes = it.next().context("--record-bytes")?.parse()?,
            "--case" => case = it.next().context("--case")?.clone(),
            _ => bail!("unexpected argument {a}"),
        }
    }
    let dir = dir.context("disk needs --dir")?;
    let path = std::path::Path::new(&dir).join("loadgen-disk.bin");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)?;
    let buf = vec![b'x'; bytes];
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let mut lat = Vec::new();
    let start = Instant::now();
    while Instant::now() < deadline {
        let t = Instant::now();
        f.write_all(&buf)?;
        f.sync_data()?;
        lat.push(t.elapsed().as_nanos() as u64);
    }
    let secs = start.elapsed().as_secs_f64();
    drop(f);
    std::fs::remove_file(&path).ok();
    report("disk", &case, lat.len() as u64, secs, bytes, lat);
    Ok(())
}
