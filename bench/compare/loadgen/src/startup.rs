use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use serde_json::json;

use crate::common::round;

/// Spawns CMD (in its own process group, `{dir}` in its arguments and in
/// `--env` values replaced by a fresh empty directory under --tmp), polls
/// 127.0.0.1:PORT every millisecond until a TCP connection is accepted,
/// then kills the process group. Repeats --runs times.
pub fn startup(args: &[String]) -> Result<()> {
    let split = args
        .iter()
        .position(|a| a == "--")
        .context("startup needs -- CMD ARGS")?;
    let (opts, cmd) = (&args[..split], &args[split + 1..]);
    if cmd.is_empty() {
        bail!("startup: empty command");
    }
    let mut name = "?".to_string();
    let mut port: u16 = 0;
    let mut runs = 5usize;
    let mut tmp = std::env::temp_dir();
    let mut env: Vec<(String, String)> = Vec::new();
    let mut it = opts.iter();
    while let Some(a) = it.next() {
        let v = it.next().with_context(|| format!("{a} needs a value"))?;
        match a.as_str() {
            "--name" => name = v.clone(),
            "--port" => port = v.parse()?,
            "--runs" => runs = v.parse()?,
            "--tmp" => tmp = v.into(),
            "--env" => {
                let (k, val) = v.split_once('=').context("--env K=V")?;
                env.push((k.into(), val.into()));
            }
            _ => bail!("unexpected argument {a}"),
        }
    }
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut times = Vec::new();
    for run in 0..runs {
        let dir = tmp.join(format!("startup-{name}-{run}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let d = dir.to_string_lossy().to_string();
        let sub = |s: &str| s.replace("{dir}", &d);
        let mut c = std::process::Command::new(sub(&cmd[0]));
        c.args(cmd[1..].iter().map(|a| sub(a)));
        for (k, v) in &env {
            c.env(k, sub(v));
        }
        c.stdin(std::process::Stdio::null())
            .stdout(std::fs::File::create(dir.join("stdout.log"))?)
            .stderr(std::fs::File::create(dir.join("stderr.log"))?);
        std::os::unix::process::CommandExt::process_group(&mut c, 0);
        let t0 = Instant::now();
        let mut child = c.spawn().with_context(|| format!("spawn {}", cmd[0]))?;
        let took = loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
                break Some(t0.elapsed());
            }
            if let Some(st) = child.try_wait()? {
                eprintln!("startup {name}: process exited with {st} (logs in {d})");
                break None;
            }
            if t0.elapsed() > Duration::from_secs(120) {
                break None;
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        let pgid = child.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .status();
        let _ = child.wait();
        // Let the port be released before the next run.
        let mut free = false;
        for _ in 0..500 {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(50)).is_err() {
                free = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if !free {
            bail!("startup {name}: port {port} still accepting after kill");
        }
        let took =
            took.with_context(|| format!("startup {name}: no connection accepted (logs in {d})"))?;
        std::fs::remove_dir_all(&dir).ok();
        eprintln!(
            "startup {name} run {}: {:.1} ms",
            run + 1,
            took.as_secs_f64() * 1e3
        );
        times.push(took.as_nanos() as u64);
    }
    times.sort_unstable();
    let median = times[times.len() / 2] as f64 / 1e6;
    let line = json!({
        "system": name,
        "case": "startup",
        "records": runs,
        "seconds": round(times.iter().sum::<u64>() as f64 / 1e9, 3),
        "records_per_sec": null,
        "mib_per_sec": null,
        "p50_ms": round(median, 1),
        "p99_ms": round(*times.last().unwrap() as f64 / 1e6, 1),
        "p999_ms": null,
        "min_ms": round(times[0] as f64 / 1e6, 1),
    });
    println!("{line}");
    Ok(())
}
