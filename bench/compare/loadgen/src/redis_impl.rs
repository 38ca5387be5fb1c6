//! Redis streams: XADD with `appendfsync always`; a consumer group read with
//! XREADGROUP and acknowledged with XACK.

use std::time::Duration;

use anyhow::{Result, bail};
use redis::aio::MultiplexedConnection;
use redis::streams::StreamReadReply;

use crate::Opts;
use crate::drivers::{BoxFut, Consumer, Producer, consume, e2e, pipelined, sequential};

pub async fn connect(addr: &str) -> Result<MultiplexedConnection> {
    let client = redis::Client::open(format!("redis://{addr}/"))?;
    let cfg = redis::AsyncConnectionConfig::new()
        .set_response_timeout(None)
        .set_connection_timeout(Some(Duration::from_secs(10)));
    Ok(client
        .get_multiplexed_async_connection_with_config(&cfg)
        .await?)
}

pub struct P {
    pub con: MultiplexedConnection,
    pub stream: String,
}

impl Producer for P {
    async fn send(&mut self, payload: Vec<u8>) -> Result<BoxFut<()>> {
        let mut con = self.con.clone();
        let stream = self.stream.clone();
        // The multiplexed connection pipelines concurrent commands on
        // one socket; the reply comes after Redis has fsynced the AOF
        // (appendfsync always).
        Ok(Box::pin(async move {
            let _id: String = redis::cmd("XADD")
                .arg(&stream)
                .arg("*")
                .arg("d")
                .arg(payload)
                .query_async(&mut con)
                .await?;
            Ok(())
        }))
    }
}

pub struct C {
    pub con: MultiplexedConnection,
    pub stream: String,
    pub group: String,
    pub unacked: Vec<String>,
}

impl C {
    pub async fn new(addr: &str, stream: &str, group: &str) -> Result<Self> {
        let mut con = connect(addr).await?;
        let r: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(stream)
            .arg(group)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut con)
            .await;
        if let Err(e) = r
            && e.code() != Some("BUSYGROUP")
        {
            return Err(e.into());
        }
        Ok(C {
            con,
            stream: stream.into(),
            group: group.into(),
            unacked: Vec::new(),
        })
    }

    async fn ack(&mut self) -> Result<()> {
        if self.unacked.is_empty() {
            return Ok(());
        }
        let _: u64 = redis::cmd("XACK")
            .arg(&self.stream)
            .arg(&self.group)
            .arg(&self.unacked)
            .query_async(&mut self.con)
            .await?;
        self.unacked.clear();
        Ok(())
    }
}

impl Consumer for C {
    async fn next_batch(&mut self) -> Result<Vec<Vec<u8>>> {
        self.ack().await?;
        let reply: Option<StreamReadReply> = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(&self.group)
            .arg("c1")
            .arg("COUNT")
            .arg(256)
            .arg("BLOCK")
            .arg(1000)
            .arg("STREAMS")
            .arg(&self.stream)
            .arg(">")
            .query_async(&mut self.con)
            .await?;
        let mut out = Vec::new();
        for key in reply.map(|r| r.keys).unwrap_or_default() {
            for id in key.ids {
                if let Some(redis::Value::BulkString(b)) = id.map.get("d") {
                    out.push(b.clone());
                } else {
                    bail!("redis: entry {} has no field d", id.id);
                }
                self.unacked.push(id.id);
            }
        }
        Ok(out)
    }
    async fn finish(&mut self) -> Result<()> {
        self.ack().await
    }
}

pub async fn run(case: &str, o: &Opts) -> Result<()> {
    let producer = || async {
        Ok::<_, anyhow::Error>(P {
            con: connect(&o.addr).await?,
            stream: o.name.clone(),
        })
    };
    match case {
        "sequential" => sequential("redis", &mut producer().await?, o).await,
        "pipelined" => pipelined("redis", &mut producer().await?, o).await,
        "consume" => consume("redis", &mut C::new(&o.addr, &o.name, &o.group).await?, o).await,
        "e2e" => {
            let c = C::new(&o.addr, &o.name, &o.group).await?;
            e2e("redis", producer().await?, c, o).await
        }
        _ => bail!("unknown case {case}"),
    }
}
