//! The loopback round trip on its own: one thread sends a 1 KiB request
//! over TCP on 127.0.0.1 (`TCP_NODELAY`), another answers with 64 bytes (the
//! size of a produce acknowledgement), one in flight, blocking sockets, no
//! broker. A broker's sequential ack latency is at least this plus the
//! disk's fdatasync.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::common::report;

pub fn rtt(args: &[String]) -> Result<()> {
    let mut seconds = 2.0;
    let mut bytes = 1024usize;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => seconds = it.next().context("--seconds")?.parse()?,
            "--record-bytes" => bytes = it.next().context("--record-bytes")?.parse::<usize>()?.max(1),
            _ => bail!("unexpected argument {a}"),
        }
    }
    const ANSWER: usize = 64;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut s, _) = listener.accept()?;
        s.set_nodelay(true)?;
        let mut request = vec![0u8; bytes];
        let answer = [b'a'; ANSWER];
        while s.read_exact(&mut request).is_ok() {
            s.write_all(&answer)?;
        }
        Ok(())
    });
    let mut c = TcpStream::connect(addr)?;
    c.set_nodelay(true)?;
    let request = vec![b'x'; bytes];
    let mut answer = [0u8; ANSWER];
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let mut lat = Vec::new();
    let start = Instant::now();
    while Instant::now() < deadline {
        let t = Instant::now();
        c.write_all(&request)?;
        c.read_exact(&mut answer)?;
        lat.push(t.elapsed().as_nanos() as u64);
    }
    let secs = start.elapsed().as_secs_f64();
    drop(c);
    server.join().map_err(|_| anyhow::anyhow!("echo thread panicked"))??;
    report("loopback", "rtt", lat.len() as u64, secs, bytes, lat);
    Ok(())
}
